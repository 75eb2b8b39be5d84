/** The "Your plan" part of /billing: the subscription's facts and the controls it allows. No I/O. */
import { INTERVALS, type Interval, type Plan, PLANS, planById, priceCents } from '../../../domain/catalog.js';
import { changeKindOf, offersFor, type ResumeOffer } from '../../../domain/lifecycle/offers.js';
import type { UpcomingInvoice } from '../../../domain/lifecycle/index.js';
import type { SubscriptionRow } from '../../../ledger/subscriptions.js';
import type { BillingSession } from '../billing-session.js';
import { dollars } from '../pricing.js';
import { When } from '../site.js';
import { ActionForm } from './components.js';
import type { SubscribePreselect } from './subscribe-preselect.js';
import { cadence, per, plural, STATUS_LABELS } from './format.js';

export function PlanSection(props: { session: BillingSession; subscription: SubscriptionRow | undefined; upcoming: UpcomingInvoice | undefined; preselect?: SubscribePreselect }) {
  const { session, subscription: sub, upcoming } = props;
  if (!sub) return <NoSubscription session={session} preselect={props.preselect} />;
  const plan = planById(sub.plan);
  const live = sub.status !== 'canceled';
  const price = priceCents(plan, sub.interval);
  const next = sub.scheduled_change ? planById(sub.scheduled_change.plan) : plan;
  return (
    <>
      {props.preselect && live ? <PreselectHint sub={sub} plan={plan} preselect={props.preselect} /> : ''}
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
          <dd id="next-renewal">{upcoming ? <UpcomingCharge sub={sub} upcoming={upcoming} /> : <NextRenewal sub={sub} plan={next} />}</dd>
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
      <ChangeControls session={session} sub={sub} plan={plan} />
    </>
  );
}

/**
 * The next charge the schedule makes by itself, as GET /v1/invoices/upcoming computes it (SPEC §10): when,
 * the amount due after the account credit, for which plan (a scheduled downgrade's price), and its credits.
 */
function UpcomingCharge(props: { sub: SubscriptionRow; upcoming: UpcomingInvoice }) {
  const { sub, upcoming } = props;
  const plan = planById(upcoming.plan);
  const amount = (
    <>
      <span id="upcoming-amount" data-cents={String(upcoming.amount_due_cents)}>{dollars(upcoming.amount_due_cents)}</span>
      {upcoming.balance_applied_cents > 0 ? <> ({dollars(upcoming.total_cents)}, of which {dollars(upcoming.balance_applied_cents)} from your account credit)</> : ''}
    </>
  );
  const when = upcoming.next_attempt_at ? <When at={upcoming.next_attempt_at} /> : undefined;
  switch (upcoming.reason) {
    case 'dunning_retry':
      return when ? <>Payment retry on {when}, {amount}.</> : <>Past due: {amount} is paid as soon as you update your payment method.</>;
    case 'pause_end':
      return (
        <>
          {sub.status === 'paused' ? 'Paused' : <>Pauses on <When at={sub.pause?.starts_at ?? sub.current_period_end} /> for {plural(sub.pause?.cycles ?? 1, 'cycle')}: no charge and no new credits</>}
          {' '}until {when ?? <When at={upcoming.period_start} />}, then {amount} for a new period of {plan.name}.
        </>
      );
    case 'renewal':
      return <>{when}, {amount} before tax for {plan.name}, with {plural(plan.monthlyCredits, 'new credit')}.</>;
  }
}

/** The next charge in words from the catalog, when the upcoming invoice cannot be read (SPEC §4). */
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

const RESUME_LABELS: Record<ResumeOffer, (plan: Plan, interval: Interval) => string> = {
  withdraw_cancel: () => 'Keep my subscription',
  resume_now: () => 'Resume now',
  withdraw_pause: () => 'Withdraw the pause',
  restart: (plan, interval) => `Restart ${plan.name} (${dollars(priceCents(plan, interval))} now)`,
};

/** Plan, interval, pause, cancel and resume buttons: each posts a first step that shows what it would do. */
function ChangeControls(props: { session: BillingSession; sub: SubscriptionRow; plan: Plan }) {
  const { session, sub, plan } = props;
  const offers = offersFor(sub);
  const other: Interval = sub.interval === 'month' ? 'year' : 'month';
  return (
    <>
      {offers.change ? (
        <>
          <h3>Change your plan</h3>
          <p>
            Upgrades apply at once: the unused part of this period is credited, the rest of it is charged at the new
            price, and the extra credits arrive right away. Downgrades wait for the next renewal, on{' '}
            <When at={sub.current_period_end} />, so you keep your current benefits until then. You see the amount
            before anything is charged.
          </p>
          <div class="actions" id="plan-changes">
            {PLANS.filter((p) => p.id !== plan.id && p.id !== sub.scheduled_change?.plan).map((p) => {
              const upgrade = changeKindOf(sub, { plan: p.id, interval: sub.interval }) === 'upgrade';
              return (
                <ActionForm action="/billing/change" session={session} fields={{ plan: p.id }}>
                  <button type="submit" class={upgrade ? 'primary' : ''}>{upgrade ? 'Upgrade' : 'Downgrade'} to {p.name}</button>
                </ActionForm>
              );
            })}
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
      {offers.cancel || offers.resume ? (
        <>
          <h3>Pause or cancel</h3>
          <p>
            Canceling stops renewals; everything stays usable until <When at={sub.current_period_end} />. A pause of one
            to three cycles starts at the end of this period: no charges and no new credits meanwhile, and the credits
            you have stay spendable.
          </p>
          <div class="actions">
            {offers.resume ? (
              <ActionForm action="/billing/resume" session={session}>
                <button type="submit" class="primary">{RESUME_LABELS[offers.resume](plan, sub.interval)}</button>
              </ActionForm>
            ) : ''}
            {offers.pause ? (
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
            {offers.cancel ? (
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

/** Came from the pricing page's Subscribe while subscribed: where the chosen plan or interval is found. */
function PreselectHint(props: { sub: SubscriptionRow; plan: Plan; preselect: SubscribePreselect }) {
  const { sub, plan, preselect } = props;
  const chosen = planById(preselect.plan);
  const text = chosen.id === plan.id && preselect.interval === sub.interval
    ? `You are already on ${plan.name}, billed ${cadence(sub.interval)}.`
    : chosen.id === plan.id
      ? `You chose ${plan.name} billed ${cadence(preselect.interval)}: you are on it, billed ${cadence(sub.interval)}. Switch the billing frequency below.`
      : `You chose ${chosen.name} on the pricing page. You already have ${plan.name}: change your plan below; you see the amount before anything is charged.`;
  return <p class="notice" id="preselect-hint">{text}</p>;
}

function NoSubscription(props: { session: BillingSession; preselect?: SubscribePreselect }) {
  const chosen = props.preselect;
  return (
    <div class="panel" id="subscription">
      <p>This workspace has no subscription yet. The first period is charged to your payment method at once, after you confirm the amount.</p>
      <ActionForm action="/billing/subscribe" session={props.session}>
        <span class="inline">
          <label for="subscribe-plan" class="muted">Plan</label>
          <select name="plan" id="subscribe-plan">
            {PLANS.map((p) => <option value={p.id} selected={chosen?.plan === p.id}>{p.name}: {dollars(p.monthlyPriceCents)} a month</option>)}
          </select>
          <select name="interval" id="subscribe-interval" aria-label="Billing frequency">
            {INTERVALS.map((i) => <option value={i} selected={chosen?.interval === i}>Billed {cadence(i)}</option>)}
          </select>
          <button type="submit" class="primary">Subscribe</button>
        </span>
      </ActionForm>
    </div>
  );
}
