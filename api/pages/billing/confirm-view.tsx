/**
 * The second step of every billing button (SPEC §10: the page shows the preview and asks before any
 * charge): what the request would do, priced by the same services that make it, and a Confirm button that
 * posts it again with `confirm=1` and the amount shown (`expected_amount_due_cents`). Cancel is a plain link
 * back to /billing: it changes nothing. No I/O.
 */
import type { Child } from 'hono/jsx';
import type { PackPreview } from '../../../billing/packs.js';
import { periodBounds } from '../../../domain/calendar.js';
import { type Interval, type Plan, planById, priceCents } from '../../../domain/catalog.js';
import type { ChangePreview } from '../../../domain/lifecycle/index.js';
import { changeKindOf } from '../../../domain/lifecycle/offers.js';
import { pauseEnd } from '../../../domain/lifecycle/schedule.js';
import type { InvoiceLine } from '../../../domain/proration.js';
import type { SubscriptionRow } from '../../../ledger/subscriptions.js';
import type { BillingSession, Notice } from '../billing-session.js';
import { dollars } from '../pricing.js';
import { SitePage, When } from '../site.js';
import { ActionForm, NoticeBanner } from './components.js';
import { cadence, per, plural } from './format.js';
import { SignOut } from './view.js';

/** What is invoiced at once, as SPEC §10's preview says it. */
export interface DueToday {
  lines: InvoiceLine[];
  total_cents: number;
  balance_applied_cents: number;
  amount_due_cents: number;
}

interface ConfirmProps {
  session: BillingSession;
  title: string;
  notice?: Notice | undefined;
  /** Where Confirm posts, with these fields besides the CSRF token and `confirm=1`. */
  action: string;
  fields: Record<string, string>;
  confirmLabel: string;
  cancelLabel?: string;
  children: Child;
}

function ConfirmPage(props: ConfirmProps) {
  return (
    <SitePage title={props.title} current="billing" signOut={<SignOut session={props.session} />}>
      <h1 id="confirm-title">{props.title}</h1>
      {props.notice ? <NoticeBanner notice={props.notice} /> : ''}
      <div class="panel" id="confirm-details">{props.children}</div>
      <div class="actions" id="confirm-actions">
        <ActionForm action={props.action} session={props.session} fields={{ ...props.fields, confirm: '1' }} id="confirm-form">
          <button type="submit" class="primary" id="confirm">{props.confirmLabel}</button>
        </ActionForm>
        <a class="button" href="/billing" id="confirm-cancel">{props.cancelLabel ?? 'Cancel'}</a>
      </div>
    </SitePage>
  );
}

/** The invoice of today: its lines, the customer balance applied, and the amount due (ids for tests and readers). */
function DueTodayTable(props: { due: DueToday | null }) {
  const { due } = props;
  if (!due) return <p id="amount-due" data-cents="0">Nothing is charged today.</p>;
  return (
    <>
      <h3 style="margin-top: 0">Due today</h3>
      <table id="confirm-lines">
        <tbody>
          {due.lines.map((line) => <tr><td>{line.description}</td><td class="num">{dollars(line.amount_cents)}</td></tr>)}
          <tr id="confirm-total"><td>Total</td><td class="num">{dollars(due.total_cents)}</td></tr>
          {due.balance_applied_cents > 0
            ? <tr id="confirm-balance"><td>Paid from account credit</td><td class="num">{dollars(-due.balance_applied_cents)}</td></tr>
            : ''}
        </tbody>
      </table>
      <p>
        Amount due today: <strong class="figure" id="amount-due" data-cents={String(due.amount_due_cents)}>{dollars(due.amount_due_cents)}</strong>
        {due.amount_due_cents > 0 ? ', charged to your payment method when you confirm.' : ': nothing is charged to your card.'}
        {due.total_cents < 0 ? ` ${dollars(-due.total_cents)} is added to your account credit and pays your next invoices.` : ''}
      </p>
    </>
  );
}

const CHANGE_TITLES: Record<ChangePreview['kind'], (target: Plan, interval: Interval) => string> = {
  upgrade: (target) => `Upgrade to ${target.name}`,
  downgrade: (target) => `Downgrade to ${target.name}`,
  interval_switch: (target, interval) => `Switch to ${target.name}, billed ${cadence(interval)}`,
};

/**
 * Confirm a plan or interval change: the preview's invoice, credits and their expiry, custom models
 * deactivated, and the next renewal (an upgrade renews at the period end at the new price; a switch starts
 * a new period today; a downgrade starts at the renewal: "from <date> you pay X").
 */
export function confirmChangePage(props: {
  session: BillingSession; sub: SubscriptionRow; request: { plan?: string; interval?: Interval }; preview: ChangePreview; notice?: Notice;
}) {
  const { session, sub, request, preview } = props;
  const target = planById(request.plan ?? sub.plan);
  const interval = request.interval ?? sub.interval;
  const price = dollars(priceCents(target, interval));
  const due = preview.invoice;
  const renewal = new Date(preview.kind === 'interval_switch'
    ? periodBounds(Date.parse(preview.effective_at), interval, 0).end
    : preview.kind === 'downgrade' ? Date.parse(preview.effective_at) : sub.current_period_end.getTime());
  const fields: Record<string, string> = {
    ...(request.plan ? { plan: request.plan } : {}), ...(request.interval ? { interval: request.interval } : {}),
    expected_amount_due_cents: String(due?.amount_due_cents ?? 0),
  };
  return (
    <ConfirmPage
      session={session} title={CHANGE_TITLES[preview.kind](target, interval)} notice={props.notice} action="/billing/change" fields={fields}
      confirmLabel={due && due.amount_due_cents > 0 ? `Confirm and pay ${dollars(due.amount_due_cents)}` : `Confirm the ${preview.kind === 'downgrade' ? 'downgrade' : 'change'}`}
    >
      <DueTodayTable due={due} />
      <h3>Credits</h3>
      <p id="confirm-credits">
        {preview.credits_granted > 0 && preview.credits_expire_at
          ? <>{plural(preview.credits_granted, 'credit')} are added to your balance at once; they expire on <When at={preview.credits_expire_at} />.</>
          : preview.kind === 'downgrade'
            ? <>Nothing changes until <When at={preview.effective_at} />: you keep {planById(sub.plan).name}'s credits and models until then.</>
            : <>No credits are added.</>}
      </p>
      {preview.custom_models_deactivated > 0 ? (
        <p id="confirm-models" class="notice error">
          {plural(preview.custom_models_deactivated, 'custom model')} will be deactivated
          {preview.kind === 'downgrade' ? <> on <When at={preview.effective_at} /></> : ''}: {target.name} keeps {target.customModelLimit}.
        </p>
      ) : ''}
      <h3>Next renewal</h3>
      <p id="confirm-renewal">
        {preview.kind === 'downgrade'
          ? <>From <When at={renewal} /> you pay {price} a {per(interval)} for {target.name}, with {plural(target.monthlyCredits, 'credit')} a month.</>
          : <><When at={renewal} />: {price} for a {per(interval)} of {target.name}, with {plural(target.monthlyCredits, 'credit')} a month.</>}
      </p>
    </ConfirmPage>
  );
}

/**
 * Confirm a change of a subscription that predates previews (the first workflow type): the catalog prices
 * and what the change does in words; the exact prorated amount is on the invoice.
 */
export function confirmUnpricedChangePage(props: { session: BillingSession; sub: SubscriptionRow; request: { plan?: string; interval?: Interval } }) {
  const { session, sub, request } = props;
  const target = planById(request.plan ?? sub.plan);
  const interval = request.interval ?? sub.interval;
  const kind = changeKindOf(sub, { plan: target.id, interval });
  return (
    <ConfirmPage
      session={session} title={CHANGE_TITLES[kind](target, interval)} action="/billing/change"
      fields={{ ...(request.plan ? { plan: request.plan } : {}), ...(request.interval ? { interval: request.interval } : {}), unpriced: '1' }}
      confirmLabel={kind === 'downgrade' ? 'Confirm the downgrade' : 'Confirm and pay'}
    >
      <p id="confirm-effect">
        {kind === 'downgrade'
          ? <>Nothing is charged today. From <When at={sub.current_period_end} /> you pay {dollars(priceCents(target, interval))} a {per(interval)} for {target.name}.</>
          : <>{target.name} costs {dollars(priceCents(target, interval))} a {per(interval)}. The unused part of this period is credited and the
            rest is charged now; this subscription is too old for an exact preview, so the amount is shown on the invoice.</>}
      </p>
    </ConfirmPage>
  );
}

/** Confirm a pack purchase: its price (the plan's discount as a line), the balance applied, credits that never expire. */
export function confirmPackPage(props: { session: BillingSession; preview: PackPreview; purchaseKey: string; notice?: Notice }) {
  const { session, preview } = props;
  const due = preview.invoice;
  return (
    <ConfirmPage
      session={session} title={`Buy ${plural(preview.credits, 'credit')}`} notice={props.notice} action="/billing/packs"
      fields={{ size: String(preview.credits), expected_amount_due_cents: String(due.amount_due_cents), purchase: props.purchaseKey }}
      confirmLabel={due.amount_due_cents > 0 ? `Confirm and pay ${dollars(due.amount_due_cents)}` : 'Confirm the purchase'}
    >
      <DueTodayTable due={due} />
      <h3>Credits</h3>
      <p id="confirm-credits">{plural(preview.credits, 'credit')} are added to your balance once paid; they never expire while your account is active.</p>
    </ConfirmPage>
  );
}

/**
 * Confirm a charge of a whole first period (subscribe, resume a pause now, restart): the plan's price from
 * the catalog with the customer balance applied, and the renewal one period from today.
 */
export function confirmPeriodPage(props: {
  session: BillingSession; title: string; action: string; fields: Record<string, string>; plan: Plan; interval: Interval; due: DueToday; at: Date;
}) {
  const { plan, interval, due } = props;
  return (
    <ConfirmPage
      session={props.session} title={props.title} action={props.action} fields={props.fields}
      confirmLabel={due.amount_due_cents > 0 ? `Confirm and pay ${dollars(due.amount_due_cents)}` : 'Confirm'}
    >
      <DueTodayTable due={due} />
      <h3>Credits</h3>
      <p id="confirm-credits">{plural(plan.monthlyCredits, 'credit')} once paid, and as many every month.</p>
      <h3>Next renewal</h3>
      <p id="confirm-renewal">
        <When at={new Date(periodBounds(props.at.getTime(), interval, 0).end)} />: {dollars(priceCents(plan, interval))} for a {per(interval)} of {plan.name}.
      </p>
    </ConfirmPage>
  );
}

/** Confirm canceling renewals: nothing is charged; say until when everything stays usable. */
export function confirmCancelPage(props: { session: BillingSession; sub: SubscriptionRow }) {
  const { sub } = props;
  const now = sub.status === 'past_due';
  return (
    <ConfirmPage
      session={props.session} title="Cancel renewals" action="/billing/cancel" fields={{}}
      confirmLabel={now ? 'Cancel the subscription now' : 'Cancel renewals'} cancelLabel="Keep my subscription"
    >
      <p id="confirm-effect">
        {now
          ? <>The payment is past due, so no paid period is left: the subscription ends at once and the open invoice is not collected.</>
          : <>Nothing is charged. No renewal on <When at={sub.current_period_end} />: your plan, credits and custom models stay usable until then.</>}
        {' '}Packs you bought are kept until you subscribe again.
      </p>
    </ConfirmPage>
  );
}

/** Confirm a pause of `cycles` periods from the period end: no charges and no new credits meanwhile. */
export function confirmPausePage(props: { session: BillingSession; sub: SubscriptionRow; cycles: number }) {
  const { sub, cycles } = props;
  const starts = sub.current_period_end;
  const plan = planById(sub.scheduled_change?.plan ?? sub.plan);
  return (
    <ConfirmPage
      session={props.session} title={`Pause for ${plural(cycles, 'cycle')}`} action="/billing/pause" fields={{ cycles: String(cycles) }}
      confirmLabel="Confirm the pause"
    >
      <p id="confirm-effect">
        Nothing is charged now. From <When at={starts} /> until <When at={new Date(pauseEnd(starts.getTime(), sub.interval, cycles))} />: no charges and
        no new credits; the credits you have stay spendable. Then a new period starts at {dollars(priceCents(plan, sub.interval))} a
        {' '}{per(sub.interval)}. You can end the pause earlier.
      </p>
    </ConfirmPage>
  );
}
