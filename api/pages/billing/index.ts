/**
 * The customer's pages (SPEC §5, §10): sign-in with the workspace key, and /billing with plan, credits,
 * creations and invoices. HTTP only: the views are in view.tsx / confirm-view.tsx, the form actions in
 * actions.ts (calling the billing/ services the v1 API calls), the portal through billing/portal.ts like
 * POST /v1/billing-portal.
 */
import { type Context, Hono } from 'hono';
import { csrf } from 'hono/csrf';
import { openBillingPortal } from '../../../billing/portal.js';
import { upcomingInvoiceOf } from '../../../billing/upcoming.js';
import type { UpcomingInvoice } from '../../../domain/lifecycle/index.js';
import { Refusal } from '../../../domain/refusals.js';
import { getBalance } from '../../../ledger/credits.js';
import { listCreations } from '../../../ledger/history.js';
import { listInvoices } from '../../../ledger/invoices.js';
import { expireStaleHolds } from '../../../ledger/spend.js';
import { currentSubscription } from '../../../ledger/subscriptions.js';
import type { WorkspaceIdentity } from '../../../ledger/workspaces.js';
import { ApiError } from '../../errors.js';
import type { ApiDeps } from '../../router.js';
import { billingSessions } from '../billing-session.js';
import { type Action, billingActions } from './actions.js';
import { field } from './form.js';
import { getAutoTopUp } from '../../../billing/auto-top-up.js';
import { billingUrlOf, nextOfPreselect, preselectOf, preselectOfNext } from './subscribe-preselect.js';
import { loadUsageChart } from './usage-chart-data.js';
import { billingPage, formExpiredPage, portalUnavailablePage, signInPage } from './view.js';

const UPCOMING_WAIT_MS = 3000;

export function billingPages(deps: ApiDeps) {
  const pages = new Hono();
  const sessions = billingSessions(deps);
  const publicOrigin = new URL(deps.publicUrl).origin;

  pages.use('/billing/*', async (c, next) => {
    await next();
    c.header('cache-control', 'no-store');
    c.header('x-frame-options', 'DENY');
    c.header('content-security-policy', "frame-ancestors 'none'");
    c.header('referrer-policy', 'same-origin');
  });
  // Forms only from this site: the Origin (or Sec-Fetch-Site) must be ours, else 403.
  pages.use('/billing/*', csrf({ origin: (origin, c) => origin === publicOrigin || origin === new URL(c.req.url).origin }));

  const toSignIn = (c: Context) => c.redirect('/billing/sign-in', 303);

  /**
   * The next scheduled charge (GET /v1/invoices/upcoming's answer) for the page's "Next renewal", or
   * undefined when there is none or it cannot be read now: the page then says it from the catalog, and
   * loads even while Temporal is slow (bounded wait).
   */
  const upcomingForPage = async (workspace: WorkspaceIdentity): Promise<UpcomingInvoice | undefined> => {
    try {
      return await deps.temporal.connection.withDeadline(Date.now() + UPCOMING_WAIT_MS, () => upcomingInvoiceOf(deps, workspace));
    } catch (error) {
      if (!(error instanceof Refusal)) console.error(error);
      return undefined;
    }
  };
  const forbidden = (c: Context) => c.html(formExpiredPage(), 403);

  // After signing in, go back to where the customer was headed: the billing page, or the portal.
  // …or /billing with a plan preselected (the pricing page's Subscribe, subscribe-preselect.ts).
  const nextOf = (value: string | undefined) => (value === 'portal' || preselectOfNext(value) ? value : undefined);
  const landing = (next: string | undefined) => {
    const preselect = preselectOfNext(next);
    return next === 'portal' ? '/billing/portal' : preselect ? billingUrlOf(preselect) : '/billing';
  };

  pages.get('/billing/sign-in', async (c) => {
    const next = nextOf(c.req.query('next'));
    if (await sessions.current(c)) return c.redirect(landing(next), 303);
    return c.html(signInPage({ notice: await sessions.takeFlash(c), next }));
  });

  pages.post('/billing/sign-in', async (c) => {
    const form = await c.req.parseBody();
    const key = field(form, 'key')?.trim() ?? '';
    const next = nextOf(field(form, 'next'));
    const workspace = await sessions.signInWithKey(c, key);
    if (!workspace) return c.html(signInPage({ error: 'That key does not open a workspace. Check it and try again.', next }), 401);
    return c.redirect(landing(next), 303);
  });

  pages.post('/billing/sign-out', async (c) => {
    const session = await sessions.current(c);
    if (session && !sessions.tokenMatches(session, field(await c.req.parseBody(), '_csrf'))) return forbidden(c);
    await sessions.signOut(c);
    await sessions.flash(c, { kind: 'ok', text: 'You are signed out.' });
    return toSignIn(c);
  });

  pages.get('/billing', async (c) => {
    const session = await sessions.current(c);
    const preselect = preselectOf(c.req.query('plan'), c.req.query('interval'));
    if (!session) return preselect ? c.redirect(`/billing/sign-in?next=${nextOfPreselect(preselect)}`, 303) : toSignIn(c);
    const workspaceId = session.workspace.id;
    await expireStaleHolds(deps.sql, { workspaceId });
    const [subscription, balance, creations, invoices, upcoming] = await Promise.all([
      currentSubscription(deps.sql, workspaceId),
      getBalance(deps.sql, workspaceId),
      listCreations(deps.sql, workspaceId, { limit: 20 }),
      listInvoices(deps.sql, workspaceId),
      upcomingForPage(session.workspace),
    ]);
    const usage = await loadUsageChart(deps.sql, workspaceId, subscription, balance);
    const notice = (await sessions.takeFlash(c))
      ?? (c.req.query('card') === 'saved' ? { kind: 'ok' as const, text: 'Your card was saved.' } : undefined);
    const autoTopUp = await getAutoTopUp(deps.sql, workspaceId);
    return c.html(billingPage({ autoTopUp, usage, preselect, session, subscription, balance, creations: creations?.data ?? [], invoices, upcoming, notice, testMode: deps.sandbox !== undefined }));
  });

  pages.get('/billing/portal', async (c) => {
    const session = await sessions.current(c);
    if (!session) return c.redirect('/billing/sign-in?next=portal', 303);
    try {
      const { url } = await openBillingPortal(deps, session.workspace);
      return c.redirect(url, 303);
    } catch (error) {
      console.error(error);
      return c.html(portalUnavailablePage({ reason: 'Please try again in a moment.' }), 502);
    }
  });

  /**
   * A signed-in form post: checks the session's CSRF token and runs the action. A notice goes back to
   * /billing (303); a page (a confirm view) is shown in place. A refusal or bad input is a notice, never an error page.
   */
  const register = (path: string, run: Action) => {
    pages.post(path, async (c) => {
      const session = await sessions.current(c);
      if (!session) return toSignIn(c);
      const form = await c.req.parseBody();
      if (!sessions.tokenMatches(session, field(form, '_csrf'))) return forbidden(c);
      try {
        const outcome = await run(session, form);
        if ('page' in outcome) return c.html(outcome.page, outcome.status);
        await sessions.flash(c, outcome.notice);
      } catch (error) {
        if (error instanceof ApiError || error instanceof Refusal) {
          await sessions.flash(c, { kind: 'error', text: `That did not go through: ${error.message}.` });
        } else {
          console.error(error);
          await sessions.flash(c, { kind: 'error', text: 'Something went wrong on our side. Reload this page to see where things stand, and try again.' });
        }
      }
      return c.redirect('/billing', 303);
    });
  };
  for (const [path, run] of Object.entries(billingActions(deps))) register(path, run);

  return pages;
}
