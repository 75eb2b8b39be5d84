import { OpenAPIHono } from '@hono/zod-openapi';
import { type Context, Hono } from 'hono';
import { csrf } from 'hono/csrf';
import type { Child } from 'hono/jsx';
import { findPlan, type Interval, INTERVALS, PACKS, packPriceCents, type Plan, PLANS, planById, priceCents } from '../../domain/catalog.js';
import { Refusal } from '../../domain/refusals.js';
import { type BalanceView, getBalance, type LotView } from '../../ledger/credits.js';
import { listCreations } from '../../ledger/history.js';
import { getInvoice, type InvoiceRow, listInvoices } from '../../ledger/invoices.js';
import { expireStaleHolds, type CreationView } from '../../ledger/spend.js';
import { currentSubscription, type SubscriptionRow } from '../../ledger/subscriptions.js';
import { workspaceByKey } from '../../ledger/workspaces.js';
import {
  cancelUpdate, changePlanUpdate, pauseUpdate, resumeUpdate, withdrawScheduledChangeUpdate,
} from '../../workflows/messages.js';
import { authenticate, type AuthEnv } from '../auth.js';
import { ApiError, onError } from '../errors.js';
import { buyPack } from '../../billing/packs.js';
import type { ApiDeps } from '../router.js';
import { billingRoutes } from '../routes/billing.js';
import { startSubscription, updateSubscription } from '../../billing/subscriptions.js';
import { type BillingSession, billingSessions, type Notice } from './billing-session.js';
import { dollars } from './pricing.js';
import { readableDate, SitePage, When } from './site.js';

type Form = Record<string, string | File | (string | File)[]>;

const STATUS_LABELS: Record<SubscriptionRow['status'], string> = {
  incomplete: 'Awaiting first payment', active: 'Active', past_due: 'Payment past due', paused: 'Paused', canceled: 'Canceled',
};
const LOT_LABELS: Record<LotView['source'], string> = { monthly: 'Monthly credits', upgrade: 'Upgrade credits', pack: 'Credit pack', adjustment: 'Credits from support' };
const INVOICE_LABELS: Record<InvoiceRow['kind'], string> = {
  subscription: 'Subscription', upgrade: 'Upgrade', interval_switch: 'Billing frequency switch', pack: 'Credit pack',
};
const per = (interval: Interval) => (interval === 'month' ? 'month' : 'year');
const cadence = (interval: Interval) => (interval === 'month' ? 'monthly' : 'yearly');
const plural = (n: number, word: string) => `${n.toLocaleString('en-US')} ${word}${n === 1 ? '' : 's'}`;

/** A POST form with this session's CSRF token. */
function ActionForm(props: { action: string; session: BillingSession; fields?: Record<string, string>; children: Child }) {
  return (
    <form method="post" action={props.action}>
      <input type="hidden" name="_csrf" value={props.session.csrfToken} />
      {Object.entries(props.fields ?? {}).map(([name, value]) => <input type="hidden" name={name} value={value} />)}
      {props.children}
    </form>
  );
}

function NoticeBanner(props: { notice: Notice }) {
  const { notice } = props;
  return (
    <p class={notice.kind === 'error' ? 'notice error' : 'notice'} id="notice" role={notice.kind === 'error' ? 'alert' : 'status'}>
      {notice.text}
      {notice.link ? <> <a href={notice.link.href} target="_blank" rel="noopener">{notice.link.label}</a></> : ''}
    </p>
  );
}

interface View {
  session: BillingSession;
  subscription: SubscriptionRow | undefined;
  balance: BalanceView;
  creations: CreationView[];
  invoices: InvoiceRow[];
  notice: Notice | undefined;
}

function PlanSection(props: { view: View }) {
  const { session, subscription: sub } = props.view;
  if (!sub) return <NoSubscription session={session} />;
  const plan = planById(sub.plan);
  const live = sub.status !== 'canceled';
  const price = priceCents(plan, sub.interval);
  const next = sub.scheduled_change ? planById(sub.scheduled_change.plan) : plan;
  return (
    <>
      <div class="panel" id="subscription">
        <dl class="facts">
          <dt>Plan</dt>
          <dd>
            <strong id="plan-name">{plan.name}</strong>, billed {cadence(sub.interval)} · {dollars(price)} a {per(sub.interval)}{' '}
            <span class={sub.status === 'active' ? 'tag' : 'tag warn'} id="status">{STATUS_LABELS[sub.status]}</span>
          </dd>
          <dt>{live ? 'Current period' : 'Last period'}</dt>
          <dd><When at={sub.current_period_start} /> to <When at={sub.current_period_end} /></dd>
          <dt>Next renewal</dt>
          <dd id="next-renewal"><NextRenewal sub={sub} plan={next} /></dd>
          {sub.scheduled_change ? (
            <>
              <dt>Scheduled change</dt>
              <dd id="scheduled-change">
                Changes to <strong>{next.name}</strong> on <When at={sub.scheduled_change.effective_at} />. Until then you keep
                {' '}{plan.name}'s {plural(plan.monthlyCredits, 'credit')} a month.
                <div class="actions">
                  <ActionForm action="/billing/withdraw-change" session={session}>
                    <button type="submit">Withdraw the change</button>
                  </ActionForm>
                </div>
              </dd>
            </>
          ) : ''}
          {sub.pending_upgrade ? (
            <>
              <dt>Waiting for your bank</dt>
              <dd id="pending-upgrade">
                The change to {planById(sub.pending_upgrade.plan).name} ({cadence(sub.pending_upgrade.interval)}) applies once
                the payment is confirmed, until <When at={sub.pending_upgrade.expires_at} />.
              </dd>
            </>
          ) : ''}
        </dl>
      </div>
      <div class="actions">
        <a class="button primary" id="manage-subscription" href="/billing/portal" target="_blank" rel="noopener">Manage subscription</a>
      </div>
      <p class="muted">Opens Stripe's secure portal in a new tab, to update your card or download invoices; it returns to the pricing page.</p>
      <ChangeControls view={props.view} sub={sub} plan={plan} />
    </>
  );
}

function NextRenewal(props: { sub: SubscriptionRow; plan: Plan }) {
  const { sub, plan } = props;
  if (sub.status === 'canceled') return <>None: the subscription has ended.</>;
  if (sub.cancel_at_period_end) return <>None. The subscription ends on <When at={sub.current_period_end} />; nothing more will be charged.</>;
  if (sub.status === 'paused' && sub.pause?.resumes_at) {
    return <>Paused until <When at={sub.pause.resumes_at} />, then {dollars(priceCents(plan, sub.interval))} for a new period.</>;
  }
  const amount = dollars(priceCents(plan, sub.interval));
  const pausing = sub.pause?.starts_at
    ? <> Pauses on <When at={sub.pause.starts_at} /> for {plural(sub.pause.cycles, 'cycle')}: no charge and no new credits meanwhile.</>
    : '';
  if (sub.status === 'past_due' && sub.next_due_at) return <>Payment retry on <When at={sub.next_due_at} />, {amount}.</>;
  if (!sub.next_due_at) return <>{pausing || 'Nothing scheduled.'}</>;
  if (sub.pause?.starts_at) return <>{pausing}</>;
  return <><When at={sub.next_due_at} />, {amount} before tax, with {plural(plan.monthlyCredits, 'new credit')}.</>;
}

function ChangeControls(props: { view: View; sub: SubscriptionRow; plan: Plan }) {
  const { view: { session }, sub, plan } = props;
  const canChange = sub.status === 'active' && !sub.cancel_at_period_end && !sub.pending_upgrade;
  const other: Interval = sub.interval === 'month' ? 'year' : 'month';
  const resumeLabel = sub.cancel_at_period_end ? 'Keep my subscription'
    : sub.status === 'paused' ? 'Resume now'
      : sub.pause ? 'Withdraw the pause'
        : sub.status === 'canceled' ? `Restart ${plan.name} (${dollars(priceCents(plan, sub.interval))} now)` : undefined;
  const cancelable = sub.status !== 'canceled' && sub.status !== 'incomplete' && !sub.cancel_at_period_end;
  return (
    <>
      {canChange ? (
        <>
          <h3>Change your plan</h3>
          <p>
            Upgrades apply at once: the unused part of this period is credited, the rest of it is charged at the new
            price, and the extra credits arrive right away. Downgrades wait for the next renewal, on{' '}
            <When at={sub.current_period_end} />, so you keep your current benefits until then.
          </p>
          <div class="actions" id="plan-changes">
            {PLANS.filter((p) => p.id !== plan.id && p.id !== sub.scheduled_change?.plan).map((p) => (
              <ActionForm action="/billing/change" session={session} fields={{ plan: p.id }}>
                <button type="submit" class={p.tier > plan.tier ? 'primary' : ''}>
                  {p.tier > plan.tier ? 'Upgrade' : 'Downgrade'} to {p.name}
                </button>
              </ActionForm>
            ))}
          </div>
          <p class="muted">
            {PLANS.filter((p) => p.id !== plan.id).map((p) => `${p.name}: ${dollars(priceCents(p, sub.interval))} a ${per(sub.interval)}, ${plural(p.monthlyCredits, 'credit')} a month`).join(' · ')}
          </p>
          <h3>Billing frequency</h3>
          <p>
            Switching starts a new {cadence(other)} period today: the unused time of this one is credited, and any
            credit beyond the new price pays your next invoices.
          </p>
          <div class="actions">
            <ActionForm action="/billing/change" session={session} fields={{ interval: other }}>
              <button type="submit">
                Switch to {cadence(other)} billing ({dollars(priceCents(plan, other))} a {per(other)})
              </button>
            </ActionForm>
          </div>
        </>
      ) : ''}
      {cancelable || resumeLabel ? (
        <>
          <h3>Pause or cancel</h3>
          <p>
            Canceling stops renewals; everything stays usable until <When at={sub.current_period_end} />. A pause of one
            to three cycles starts at the end of this period: no charges and no new credits meanwhile, and the credits
            you have stay spendable.
          </p>
          <div class="actions">
            {resumeLabel ? (
              <ActionForm action="/billing/resume" session={session}>
                <button type="submit" class="primary">{resumeLabel}</button>
              </ActionForm>
            ) : ''}
            {canChange && !sub.pause ? (
              <ActionForm action="/billing/pause" session={session}>
                <span class="inline">
                  <label for="pause-cycles" class="muted">Pause for</label>
                  <select name="cycles" id="pause-cycles">
                    {[1, 2, 3].map((n) => <option value={String(n)}>{plural(n, 'cycle')}</option>)}
                  </select>
                  <button type="submit">Pause</button>
                </span>
              </ActionForm>
            ) : ''}
            {cancelable ? (
              <ActionForm action="/billing/cancel" session={session}>
                <button type="submit" class="quiet">Cancel renewals</button>
              </ActionForm>
            ) : ''}
          </div>
        </>
      ) : ''}
    </>
  );
}

function NoSubscription(props: { session: BillingSession }) {
  return (
    <div class="panel" id="subscription">
      <p>This workspace has no subscription yet. The first period is charged to your payment method at once.</p>
      <ActionForm action="/billing/subscribe" session={props.session}>
        <span class="inline">
          <label for="subscribe-plan" class="muted">Plan</label>
          <select name="plan" id="subscribe-plan">
            {PLANS.map((p) => <option value={p.id}>{p.name}: {dollars(p.monthlyPriceCents)} a month</option>)}
          </select>
          <select name="interval" aria-label="Billing frequency">
            {INTERVALS.map((i) => <option value={i}>Billed {cadence(i)}</option>)}
          </select>
          <button type="submit" class="primary">Subscribe</button>
        </span>
      </ActionForm>
    </div>
  );
}

function CreditsSection(props: { view: View }) {
  const { balance, subscription: sub, session } = props.view;
  const live = sub !== undefined && ['active', 'past_due', 'paused'].includes(sub.status);
  const plan = live ? findPlan(sub.plan) : undefined;
  return (
    <>
      <h2 id="credits">Credits</h2>
      <p>
        <span class="figure" id="balance-available">{balance.available.toLocaleString('en-US')}</span> credits available
        {balance.held > 0 ? <>, and <strong id="balance-held">{balance.held.toLocaleString('en-US')}</strong> held for creations still running</> : ''}.
        <span class="muted"> As of <When at={balance.as_of} />.</span>
      </p>
      <p>The oldest credits are spent first; packs never expire and are spent last.</p>
      {balance.lots.length === 0 ? <p class="muted">No credits yet.</p> : (
        <table id="lots">
          <thead>
            <tr><th>Credits</th><th class="num">Remaining</th><th class="num">Held</th><th>Granted</th><th>Expires</th></tr>
          </thead>
          <tbody>
            {balance.lots.map((lot) => (
              <tr id={`lot-${lot.id}`} data-source={lot.source}>
                <td>{LOT_LABELS[lot.source]} <span class="muted">({lot.granted.toLocaleString('en-US')})</span></td>
                <td class="num">{lot.remaining.toLocaleString('en-US')}</td>
                <td class="num">{lot.held.toLocaleString('en-US')}</td>
                <td><When at={lot.granted_at} /></td>
                <td class="expires">
                  {lot.expires_at ? <When at={lot.expires_at} /> : 'Never'}
                  {lot.frozen ? <> <span class="tag warn">kept until you subscribe again</span></> : ''}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h3>Buy credits</h3>
      <p>
        Packs are charged to your payment method and added at once; they never expire while your account is active.
        {plan && plan.packDiscountPercent > 0 ? ` Your ${plan.name} plan takes ${plan.packDiscountPercent}% off every pack.` : ''}
      </p>
      <div class="actions" id="packs">
        {PACKS.map((pack) => (
          <ActionForm action="/billing/packs" session={session} fields={{ size: String(pack.credits) }}>
            <button type="submit">Buy {pack.credits} credits ({dollars(packPriceCents(pack, plan))})</button>
          </ActionForm>
        ))}
      </div>
    </>
  );
}

function CreationsSection(props: { creations: CreationView[] }) {
  return (
    <>
      <h2 id="creations">Creations</h2>
      <p>Each creation reserves its quoted credits when it starts; only the exact cost is charged when it finishes.</p>
      {props.creations.length === 0 ? <p class="muted">No creations yet.</p> : (
        <table id="creation-rows">
          <thead>
            <tr><th>Started</th><th>Status</th><th class="num">Quoted</th><th class="num">Charged</th><th class="num">Released</th></tr>
          </thead>
          <tbody>
            {props.creations.map((creation) => (
              <tr id={`creation-${creation.id}`}>
                <td><When at={creation.created_at} /></td>
                <td>{creation.status}</td>
                <td class="num">{creation.quoted}</td>
                <td class="num">{creation.charged ?? '—'}</td>
                <td class="num">{creation.released}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

function InvoicesSection(props: { invoices: InvoiceRow[] }) {
  return (
    <>
      <h2 id="invoices">Invoices</h2>
      {props.invoices.length === 0 ? <p class="muted">No invoices yet.</p> : (
        <table id="invoice-rows">
          <thead>
            <tr><th>Date</th><th>Details</th><th class="num">Total</th><th>Status</th><th>Documents</th></tr>
          </thead>
          <tbody>
            {props.invoices.map((invoice) => (
              <tr id={`invoice-${invoice.id}`} data-kind={invoice.kind}>
                <td><When at={invoice.created_at} /></td>
                <td>
                  {INVOICE_LABELS[invoice.kind]}
                  {invoice.lines.map((line) => <div class="muted">{line.description}: {dollars(line.amount_cents)}</div>)}
                  {invoice.balance_applied_cents > 0 ? <div class="muted">Paid from account credit: {dollars(-invoice.balance_applied_cents)}</div> : ''}
                </td>
                <td class="num">{dollars(invoice.total_cents)}</td>
                <td>{invoice.status === 'open' ? <span class="tag warn">open</span> : invoice.status}</td>
                <td>
                  {invoice.pdf_url ? <a class="pdf" href={invoice.pdf_url} target="_blank" rel="noopener">PDF</a> : ''}
                  {invoice.pdf_url && invoice.hosted_url ? ' · ' : ''}
                  {invoice.hosted_url ? <a href={invoice.hosted_url} target="_blank" rel="noopener">{invoice.status === 'open' ? 'Pay' : 'View'}</a> : ''}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

function BillingView(props: { view: View }) {
  const { view } = props;
  const signOut = (
    <ActionForm action="/billing/sign-out" session={view.session}>
      <button type="submit" class="quiet">Sign out</button>
    </ActionForm>
  );
  return (
    <SitePage title="Billing" current="billing" signOut={signOut}>
      <h1>Billing</h1>
      <p class="lede">Workspace <strong id="workspace-name">{view.session.workspace.name}</strong>. All dates are in UTC.</p>
      {view.notice ? <NoticeBanner notice={view.notice} /> : ''}
      <h2 id="plan">Your plan</h2>
      <PlanSection view={view} />
      <CreditsSection view={view} />
      <CreationsSection creations={view.creations} />
      <InvoicesSection invoices={view.invoices} />
      <footer class="muted">
        Questions about a charge? See <a href="/pricing#billing">how billing works</a>. Average response time: under 24 business hours.
      </footer>
    </SitePage>
  );
}

function SignInView(props: { error?: string; notice?: Notice; next?: 'portal' }) {
  return (
    <SitePage title="Sign in to billing" current="billing">
      <h1>Sign in to billing</h1>
      <p class="lede">Enter your workspace API key to see your plan, credits and invoices.</p>
      {props.notice ? <NoticeBanner notice={props.notice} /> : ''}
      {props.error ? <p class="notice error" role="alert" id="notice">{props.error}</p> : ''}
      <form method="post" action="/billing/sign-in" class="panel">
        {props.next ? <input type="hidden" name="next" value={props.next} /> : ''}
        <p>
          <label for="key">Workspace key</label><br />
          <input type="password" id="key" name="key" autocomplete="off" required spellcheck={false} />
        </p>
        <p><button type="submit" class="primary">Sign in</button></p>
        <p class="muted">The key stays in a secure cookie of this browser until you sign out or eight hours pass.</p>
      </form>
    </SitePage>
  );
}

const field = (form: Form, name: string): string | undefined => {
  const value = form[name];
  return typeof value === 'string' ? value : undefined;
};

/**
 * The customer's pages: sign-in with the workspace key, and /billing with plan, credits, creations and
 * invoices. Its forms call the same services as the v1 API (ledger reads, the subscription workflow's
 * Updates, buyPack), and the portal link goes through the API's own billing-portal route.
 */
export function billingPages(deps: ApiDeps) {
  const pages = new Hono();
  const sessions = billingSessions(deps);
  const publicOrigin = new URL(deps.publicUrl).origin;

  // The v1 billing-portal route, called in-process with the session's key (same auth, same Stripe call).
  const api = new OpenAPIHono<AuthEnv>();
  api.onError(onError);
  api.use('/v1/*', authenticate(deps.sql, deps.adminApiKey, deps.apiKeys));
  api.route('/', billingRoutes(deps));

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

  // After signing in, go back to where the customer was headed: the billing page, or the portal.
  const nextOf = (value: string | undefined) => (value === 'portal' ? 'portal' as const : undefined);
  const landing = (next: 'portal' | undefined) => (next === 'portal' ? '/billing/portal' : '/billing');

  pages.get('/billing/sign-in', async (c) => {
    const next = nextOf(c.req.query('next'));
    if (await sessions.current(c)) return c.redirect(landing(next), 303);
    return c.html(<SignInView notice={sessions.takeFlash(c)} next={next} />);
  });

  pages.post('/billing/sign-in', async (c) => {
    const form = await c.req.parseBody();
    const key = field(form, 'key')?.trim() ?? '';
    const next = nextOf(field(form, 'next'));
    const workspace = key && key.length <= 200 ? await workspaceByKey(deps.sql, key) : undefined;
    if (!workspace) return c.html(<SignInView error="That key does not open a workspace. Check it and try again." next={next} />, 401);
    sessions.signIn(c, key);
    return c.redirect(landing(next), 303);
  });

  pages.post('/billing/sign-out', async (c) => {
    const session = await sessions.current(c);
    if (session && !sessions.tokenMatches(session, field(await c.req.parseBody(), '_csrf'))) return forbidden(c);
    sessions.signOut(c);
    sessions.flash(c, { kind: 'ok', text: 'You are signed out.' });
    return toSignIn(c);
  });

  pages.get('/billing', async (c) => {
    const session = await sessions.current(c);
    if (!session) return toSignIn(c);
    const workspaceId = session.workspace.id;
    await expireStaleHolds(deps.sql, { workspaceId });
    const [subscription, balance, creations, invoices] = await Promise.all([
      currentSubscription(deps.sql, workspaceId),
      getBalance(deps.sql, workspaceId),
      listCreations(deps.sql, workspaceId, { limit: 20 }),
      listInvoices(deps.sql, workspaceId),
    ]);
    const notice = sessions.takeFlash(c)
      ?? (c.req.query('card') === 'saved' ? { kind: 'ok' as const, text: 'Your card was saved.' } : undefined);
    return c.html(<BillingView view={{ session, subscription, balance, creations: creations?.data ?? [], invoices, notice }} />);
  });

  pages.get('/billing/portal', async (c) => {
    const session = await sessions.current(c);
    if (!session) return c.redirect('/billing/sign-in?next=portal', 303);
    const response = await api.request('/v1/billing-portal', { method: 'POST', headers: { authorization: `Bearer ${session.key}` } });
    if (response.status !== 200) {
      const problem = (await response.json()) as { title?: string };
      return c.html(
        <SitePage title="Billing portal unavailable" current="billing">
          <h1>The billing portal could not be opened</h1>
          <p class="notice error" role="alert">{problem.title ?? 'Please try again in a moment.'}</p>
          <p><a href="/billing">Back to billing</a></p>
        </SitePage>,
        502,
      );
    }
    const { url } = (await response.json()) as { url: string };
    return c.redirect(url, 303);
  });

  /** A signed-in form post: checks the session's CSRF token, runs, and redirects to /billing with a notice. */
  function action(path: string, run: (session: BillingSession, form: Form) => Promise<Notice>) {
    pages.post(path, async (c) => {
      const session = await sessions.current(c);
      if (!session) return toSignIn(c);
      const form = await c.req.parseBody();
      if (!sessions.tokenMatches(session, field(form, '_csrf'))) return forbidden(c);
      try {
        sessions.flash(c, await run(session, form));
      } catch (error) {
        if (error instanceof ApiError || error instanceof Refusal) {
          sessions.flash(c, { kind: 'error', text: `That did not go through: ${error.message}.` });
        } else {
          console.error(error);
          sessions.flash(c, { kind: 'error', text: 'Something went wrong on our side. Reload this page to see where things stand, and try again.' });
        }
      }
      return c.redirect('/billing', 303);
    });
  }

  const invalidForm = (what: string) => new ApiError(400, 'invalid_request', what);
  const planField = (form: Form) => {
    const id = field(form, 'plan');
    if (id === undefined || id === '') return undefined;
    if (!findPlan(id)) throw invalidForm(`there is no plan called ${id}`);
    return id;
  };
  const intervalField = (form: Form) => {
    const value = field(form, 'interval');
    if (value === undefined || value === '') return undefined;
    if (!INTERVALS.includes(value as Interval)) throw invalidForm('the billing frequency is monthly or yearly');
    return value as Interval;
  };
  const hostedLink = async (invoiceId: string | undefined) => {
    const invoice = invoiceId ? await getInvoice(deps.sql, invoiceId) : undefined;
    return invoice?.hosted_url ? { href: invoice.hosted_url, label: 'Confirm the payment' } : undefined;
  };

  action('/billing/subscribe', async ({ workspace }, form) => {
    const plan = planField(form);
    const interval = intervalField(form);
    if (!plan || !interval) throw invalidForm('choose a plan and a billing frequency');
    const view = await startSubscription(deps, workspace, { plan, interval });
    const name = planById(view.plan).name;
    if (view.status === 'active') return { kind: 'ok', text: `Welcome to ${name}: your credits are ready.` };
    const [latest] = await listInvoices(deps.sql, workspace.id);
    if (latest?.status === 'open' && latest.last_payment_error === 'authentication_required' && latest.hosted_url) {
      return { kind: 'ok', text: `Your bank asks you to confirm the first payment; ${name} starts once it is confirmed.`, link: { href: latest.hosted_url, label: 'Confirm the payment' } };
    }
    return { kind: 'error', text: `${name} is not active yet: the first payment did not go through. Check your payment method in the portal.` };
  });

  action('/billing/change', async ({ workspace }, form) => {
    const plan = planField(form);
    const interval = intervalField(form);
    if (!plan && !interval) throw invalidForm('choose a plan or a billing frequency');
    const result = await updateSubscription(deps, workspace, changePlanUpdate, { ...(plan ? { plan } : {}), ...(interval ? { interval } : {}) });
    const sub = await currentSubscription(deps.sql, workspace.id);
    if (result.pending) {
      return { kind: 'ok', text: 'Your bank asks you to confirm this payment; the change applies once it is confirmed.', link: await hostedLink(result.invoice_id) };
    }
    if (result.kind === 'downgrade') {
      return { kind: 'ok', text: `Your plan changes to ${planById(plan!).name} on ${readableDate(result.effective_at!)}. Until then nothing changes.` };
    }
    if (result.kind === 'upgrade') {
      const granted = result.credits_granted ? ` ${plural(result.credits_granted, 'credit')} were added to your balance.` : '';
      return { kind: 'ok', text: `You are now on ${planById(plan!).name}.${granted}` };
    }
    return { kind: 'ok', text: `You are now billed ${cadence(sub?.interval ?? interval ?? 'month')}; a new period started today.` };
  });

  action('/billing/withdraw-change', async ({ workspace }) => {
    const view = await updateSubscription(deps, workspace, withdrawScheduledChangeUpdate);
    return { kind: 'ok', text: `The scheduled change was withdrawn: you stay on ${planById(view.plan).name}.` };
  });

  action('/billing/cancel', async ({ workspace }) => {
    const view = await updateSubscription(deps, workspace, cancelUpdate);
    return { kind: 'ok', text: `Renewals are canceled. Everything stays usable until ${readableDate(view.current_period_end)}.` };
  });

  action('/billing/resume', async ({ workspace }) => {
    const view = await updateSubscription(deps, workspace, resumeUpdate);
    if (view.status === 'active' || view.status === 'paused') {
      return { kind: 'ok', text: `Your ${planById(view.plan).name} subscription continues; the next renewal is on ${readableDate(view.current_period_end)}.` };
    }
    return { kind: 'error', text: 'The restart payment did not go through. Check your payment method in the portal.' };
  });

  action('/billing/pause', async ({ workspace }, form) => {
    const cycles = Number(field(form, 'cycles'));
    if (![1, 2, 3].includes(cycles)) throw invalidForm('a pause lasts 1, 2 or 3 cycles');
    const view = await updateSubscription(deps, workspace, pauseUpdate, { cycles });
    return { kind: 'ok', text: `Your subscription pauses on ${readableDate(view.pause?.starts_at ?? view.current_period_end)} for ${plural(cycles, 'cycle')}.` };
  });

  action('/billing/packs', async ({ workspace }, form) => {
    const size = Number(field(form, 'size'));
    if (!PACKS.some((p) => p.credits === size)) throw invalidForm(`packs come in ${PACKS.map((p) => p.credits).join(' or ')} credits`);
    const bought = await buyPack(deps, workspace, { size }).catch((error: unknown) => {
      if (error instanceof Refusal && error.code === 'payment_declined') return error;
      throw error;
    });
    if (bought instanceof Refusal) return { kind: 'error', text: `The payment was declined (${String(bought.detail.decline_code)}). Check your payment method in the portal.` };
    const { charge } = bought;
    if (charge.status === 'requires_action') {
      return { kind: 'ok', text: `Your bank asks you to confirm this payment; the ${size} credits arrive once it is confirmed.`, link: { href: charge.hostedUrl, label: 'Confirm the payment' } };
    }
    return { kind: 'ok', text: `${size} credits were added to your balance (${dollars(charge.invoice.total_cents)}).` };
  });

  return pages;
}

function forbidden(c: Context) {
  return c.html(
    <SitePage title="Form expired" current="billing">
      <h1>This form has expired</h1>
      <p>For your safety, the request was not carried out. Reload the <a href="/billing">billing page</a> and try again.</p>
    </SitePage>,
    403,
  );
}
