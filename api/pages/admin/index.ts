/**
 * The operator console (SPEC §10 "Operator console"): /admin, signed in with an operator key, the same
 * cookie and CSRF scheme as /billing. Search workspaces; a workspace page with its subscription, lots,
 * journal, invoices (with refunds), creations, notifications and audit trail; every operator action with a
 * confirm step (actions.ts). HTTP only: reads through the ledger/ and billing/ functions the admin API uses.
 */
import { type Context, Hono } from 'hono';
import { csrf } from 'hono/csrf';
import { currentBalance } from '../../../billing/balance.js';
import { workflowIdOf } from '../../../billing/subscriptions.js';
import { PLAN_IDS } from '../../../domain/catalog.js';
import { SUBSCRIPTION_STATUSES, type SubscriptionStatus } from '../../../domain/lifecycle/status.js';
import { Refusal } from '../../../domain/refusals.js';
import { expireDueAdjustments } from '../../../ledger/adjustments.js';
import { listAudit, recordAudit } from '../../../ledger/audit.js';
import { listCreations, listLedger, listNotifications } from '../../../ledger/history.js';
import { customerBalanceCents, listInvoices } from '../../../ledger/invoices.js';
import { listOperatorKeys } from '../../../ledger/operator-keys.js';
import { currentSubscription } from '../../../ledger/subscriptions.js';
import { searchWorkspaces, type WorkspaceSearch, workspaceSummary } from '../../../ledger/workspace-search.js';
import { ApiError } from '../../errors.js';
import { REFUSAL_STATUS } from '../../refusal-status.js';
import type { ApiDeps } from '../../router.js';
import { refundViewsOf } from '../../routes/admin-invoices.js';
import type { Notice } from '../billing-session.js';
import { type AdminAction, adminActions } from './actions.js';
import { auditedRequest, field } from './form.js';
import { adminFormExpiredPage, adminNotFoundPage, adminSignInPage } from './layout.js';
import { operatorKeysPage } from './operator-keys-view.js';
import { searchPage } from './search-view.js';
import { operatorSessions } from './session.js';
import { workspacePage } from './workspace-view.js';

/** Where the Temporal UI is when ApiDeps.temporalUiUrl does not say (the dev server's default UI port). */
export const DEFAULT_TEMPORAL_UI_URL = 'http://localhost:8233';

/** The subscription's workflow in the Temporal UI: `<ui>/namespaces/<ns>/workflows/subscription-<id>`. */
export function workflowUrl(uiUrl: string, namespace: string, subscriptionId: string): string {
  return `${uiUrl.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowIdOf(subscriptionId))}`;
}

/** What a workspace, invoice or key id can be (anything else is not found, and never reaches SQL: no NUL, no 1 MB ids). */
const ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * The /admin routes: sign-in and sign-out, the search (`GET /admin?q=&status=&plan=&cursor=`), a workspace
 * (`GET /admin/workspaces/:id`), the operator keys, and the action posts of actions.ts. Signed out, every
 * page leads to /admin/sign-in; a post without the session's CSRF token (or from another origin) is a 403.
 */
export function adminPages(deps: ApiDeps) {
  const pages = new Hono();
  const sessions = operatorSessions(deps);
  const publicOrigin = new URL(deps.publicUrl).origin;
  const temporalUi = deps.temporalUiUrl ?? DEFAULT_TEMPORAL_UI_URL;

  for (const path of ['/admin', '/admin/*']) {
    pages.use(path, async (c, next) => {
      await next();
      c.header('cache-control', 'no-store');
      c.header('x-frame-options', 'DENY');
      c.header('content-security-policy', "frame-ancestors 'none'");
      c.header('referrer-policy', 'same-origin');
    });
    // Forms only from this site (as /billing): the Origin (or Sec-Fetch-Site) must be ours, else 403.
    pages.use(path, csrf({ origin: (origin, c) => origin === publicOrigin || origin === new URL(c.req.url).origin }));
  }

  const toSignIn = (c: Context) => c.redirect('/admin/sign-in', 303);

  pages.get('/admin/sign-in', async (c) => {
    if (await sessions.current(c)) return c.redirect('/admin', 303);
    return c.html(adminSignInPage({ notice: await sessions.takeFlash(c) }));
  });

  pages.post('/admin/sign-in', async (c) => {
    const key = field(await c.req.parseBody(), 'key')?.trim() ?? '';
    if (!(await sessions.signInWithKey(c, key))) {
      return c.html(adminSignInPage({ error: 'That is not an operator key (or it was revoked). Workspace keys do not open the console.' }), 401);
    }
    return c.redirect('/admin', 303);
  });

  pages.post('/admin/sign-out', async (c) => {
    const session = await sessions.current(c);
    if (session && !sessions.tokenMatches(session, field(await c.req.parseBody(), '_csrf'))) return c.html(adminFormExpiredPage(), 403);
    await sessions.signOut(c);
    await sessions.flash(c, { kind: 'ok', text: 'You are signed out.' });
    return toSignIn(c);
  });

  pages.get('/admin', async (c) => {
    const session = await sessions.current(c);
    if (!session) return toSignIn(c);
    // Postgres text cannot hold NUL: dropped from what is searched.
    const q = c.req.query('q')?.replaceAll('\u0000', '').trim().slice(0, 200) || undefined;
    const status = SUBSCRIPTION_STATUSES.includes(c.req.query('status') as SubscriptionStatus) || c.req.query('status') === 'none'
      ? c.req.query('status') as WorkspaceSearch['status'] : undefined;
    const plan = PLAN_IDS.includes(c.req.query('plan') ?? '') ? c.req.query('plan') : undefined;
    const cursor = c.req.query('cursor')?.slice(0, 64) || undefined;
    let notice: Notice | undefined = await sessions.takeFlash(c);
    let results = await searchWorkspaces(deps.sql, { q, status, plan, limit: 25, cursor });
    if (!results) {
      notice = { kind: 'error', text: 'That page of results is gone; showing the first page.' };
      results = (await searchWorkspaces(deps.sql, { q, status, plan, limit: 25 }))!;
    }
    return c.html(searchPage({ session, search: { q, status, plan }, results, notice }));
  });

  pages.get('/admin/workspaces/:id', async (c) => {
    const session = await sessions.current(c);
    if (!session) return toSignIn(c);
    const id = c.req.param('id');
    const workspace = ID.test(id) ? await workspaceSummary(deps.sql, id) : undefined;
    if (!workspace) return c.html(adminNotFoundPage({ session, what: `No workspace ${id}` }), 404);
    await expireDueAdjustments(deps.sql, id);
    const [subscription, balance, customerBalance, journal, invoices, creations, notifications, audit] = await Promise.all([
      currentSubscription(deps.sql, id), currentBalance(deps.sql, id), customerBalanceCents(deps.sql, id),
      listLedger(deps.sql, id, { limit: 50 }), listInvoices(deps.sql, id), listCreations(deps.sql, id, { limit: 20 }),
      listNotifications(deps.sql, id, 20), listAudit(deps.sql, { workspaceId: id, limit: 50 }),
    ]);
    const refundsOf = await refundViewsOf(deps.sql, invoices.map((i) => i.id));
    return c.html(workspacePage({
      session, workspace, subscription, balance, customerBalanceCents: customerBalance,
      workflowUrl: subscription ? workflowUrl(temporalUi, deps.temporal.options.namespace, subscription.id) : null,
      journal: journal!, invoices: invoices.map((invoice) => ({ invoice, refunds: refundsOf(invoice.id) })),
      creations: creations!.data, notifications, audit: audit!.data, notice: await sessions.takeFlash(c),
    }));
  });

  pages.get('/admin/operator-keys', async (c) => {
    const session = await sessions.current(c);
    if (!session) return toSignIn(c);
    return c.html(operatorKeysPage({ session, rootHint: deps.adminApiKey.slice(-4), keys: await listOperatorKeys(deps.sql), notice: await sessions.takeFlash(c) }));
  });

  /**
   * A signed-in action post: checks the session's CSRF token (403, nothing done), runs the action, shows its
   * confirm view in place or goes back with a notice. A carried-out (confirmed) action is recorded in the
   * audit log as api/audit.ts records /v1 operator requests: operator key id, real time, method, path,
   * workspace and target, the request (the form), status and outcome ('ok' or the refusal's code). A refusal
   * or bad input is a notice and changes nothing.
   */
  const register = (path: string, action: AdminAction) => {
    pages.post(path, async (c) => {
      const session = await sessions.current(c);
      if (!session) return toSignIn(c);
      const form = await c.req.parseBody();
      if (!sessions.tokenMatches(session, field(form, '_csrf'))) return c.html(adminFormExpiredPage(), 403);
      const at = new Date();
      const id = c.req.param('id') ?? '';
      if (!ID.test(id)) return c.html(adminNotFoundPage({ session, what: 'Nothing has that id' }), 404);
      const concerned = await action.concerns(id);
      let status: number;
      let outcome: string;
      try {
        const result = await action.run(session, id, form);
        if ('page' in result) return c.html(result.page, 200);
        await sessions.flash(c, result.notice);
        [status, outcome] = [result.status, 'ok'];
      } catch (error) {
        const refusal = error instanceof Refusal ? new ApiError(REFUSAL_STATUS[error.code], error.code, error.message) : error;
        if (refusal instanceof ApiError) {
          await sessions.flash(c, { kind: 'error', text: `That did not go through (${refusal.code}): ${refusal.message}. Nothing changed.` });
          [status, outcome] = [refusal.status, refusal.code];
        } else {
          console.error(error);
          await sessions.flash(c, { kind: 'error', text: 'Something went wrong on our side. Reload the page to see where things stand.' });
          [status, outcome] = [500, 'http_500'];
        }
      }
      if (field(form, 'confirm') === '1') {
        const record = {
          operatorKeyId: session.operatorKeyId, at, method: 'POST', path: c.req.path, workspaceId: concerned.workspaceId,
          target: concerned.target, request: auditedRequest(form), status, outcome,
        };
        await recordAudit(deps.sql, record).catch((error: unknown) => {
          console.error('AUDIT LOG WRITE FAILED: an operator action is not in the audit log', JSON.stringify(record), error);
        });
      }
      return c.redirect(concerned.back, 303);
    });
  };
  for (const [path, action] of Object.entries(adminActions(deps))) register(path, action);

  return pages;
}
