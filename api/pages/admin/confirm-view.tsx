/**
 * The second step of every console action (SPEC §10): what the action will do, and a Confirm button that
 * posts it again with `confirm=1` (and an action key, so a double-submitted Confirm acts once). Back is a
 * plain link: it changes nothing. No I/O.
 */
import type { Child } from 'hono/jsx';
import type { InvoiceRow } from '../../../ledger/invoices.js';
import type { SubscriptionRow } from '../../../ledger/subscriptions.js';
import { dollars } from '../pricing.js';
import { When } from '../site.js';
import { AdminForm, AdminPage } from './layout.js';
import type { OperatorSession } from './session.js';

export function AdminConfirmPage(props: {
  session: OperatorSession; title: string; action: string; fields: Record<string, string>; confirmLabel: string; back: string; children: Child;
}) {
  return (
    <AdminPage title={props.title} session={props.session}>
      <h1 id="confirm-title">{props.title}</h1>
      <div class="panel" id="confirm-details">{props.children}</div>
      <div class="actions">
        <AdminForm action={props.action} session={props.session} fields={{ ...props.fields, confirm: '1' }} id="confirm-form">
          <button type="submit" class="primary" id="confirm">{props.confirmLabel}</button>
        </AdminForm>
        <a class="button" href={props.back} id="confirm-back">Back</a>
      </div>
    </AdminPage>
  );
}

/** Confirm a credit adjustment: the credits, the reason, the expiry, and the available balance before and after. */
export function confirmAdjustmentPage(props: {
  session: OperatorSession; workspace: { id: string; name: string }; action: string; fields: Record<string, string>;
  credits: number; reason: string; expiresAt: Date | null; available: number;
}) {
  const { credits } = props;
  return (
    <AdminConfirmPage
      session={props.session} title={`${credits > 0 ? 'Grant' : 'Take'} ${Math.abs(credits)} credits`} action={props.action} fields={props.fields}
      confirmLabel={credits > 0 ? `Grant ${credits} credits` : `Take ${-credits} credits`} back={`/admin/workspaces/${encodeURIComponent(props.workspace.id)}`}
    >
      <p id="confirm-effect">
        {props.workspace.name}: available <span id="available-before">{props.available}</span> → <strong id="available-after">{props.available + credits}</strong> credits
        {credits > 0
          ? <>, as a lot of source adjustment {props.expiresAt ? <>expiring <When at={props.expiresAt} /></> : 'that never expires'}.</>
          : <>, taken from unspent, unheld credits in burn order.</>}
      </p>
      <p>Reason (journaled as <code>adjust</code>): “<span id="confirm-reason">{props.reason}</span>”.</p>
    </AdminConfirmPage>
  );
}

/** Confirm a refund: the invoice, what is left to refund, this refund's split between the card and the customer balance. */
export function confirmRefundPage(props: {
  session: OperatorSession; invoice: InvoiceRow; action: string; fields: Record<string, string>;
  amountCents: number; refundableCents: number; cardCents: number; balanceCents: number; reason: string;
}) {
  const { invoice } = props;
  return (
    <AdminConfirmPage
      session={props.session} title={`Refund ${dollars(props.amountCents)} of ${invoice.number ?? invoice.id}`} action={props.action} fields={props.fields}
      confirmLabel={`Refund ${dollars(props.amountCents)}`} back={`/admin/workspaces/${encodeURIComponent(invoice.workspace_id)}`}
    >
      <p id="confirm-effect">
        Invoice {invoice.number ?? invoice.id} ({invoice.kind}), total {dollars(invoice.total_cents)}, of which {dollars(props.refundableCents)} is left to refund.
        This refund: <strong id="confirm-amount" data-cents={String(props.amountCents)}>{dollars(props.amountCents)}</strong>,
        {' '}<span id="confirm-card">{dollars(props.cardCents)}</span> to the card and <span id="confirm-to-balance">{dollars(props.balanceCents)}</span> to the customer balance.
      </p>
      <p>The credits the invoice granted are clawed back in proportion; credits already spent are recorded as shortfall. The subscription does not change.</p>
      <p>Reason: “<span id="confirm-reason">{props.reason}</span>”.</p>
    </AdminConfirmPage>
  );
}

export type SubscriptionAction = 'cancel_at_period_end' | 'cancel_now' | 'pause' | 'resume' | 'retry_payment';

const EFFECTS: Record<SubscriptionAction, (sub: SubscriptionRow, cycles: number) => Child> = {
  cancel_at_period_end: (sub) => <>No renewal on <When at={sub.current_period_end} />; the plan stays usable until then.</>,
  cancel_now: () => <>The subscription ends at once, as at a period end: plan credits are forfeited, packs and adjustments frozen, nothing refunded (refund invoices separately).</>,
  pause: (sub, cycles) => <>Pauses for {cycles} cycle(s) from <When at={sub.current_period_end} />: no charges and no new credits meanwhile.</>,
  resume: () => <>Withdraws a scheduled cancellation or pause, ends a pause now, or restarts a canceled subscription (charged to the card on file), as the customer's own Resume would.</>,
  retry_payment: () => <>Retries the unpaid invoice now with the card on file; the outcome follows.</>,
};

const TITLES: Record<SubscriptionAction, string> = {
  cancel_at_period_end: 'Cancel at the period end', cancel_now: 'Cancel now', pause: 'Pause', resume: 'Resume', retry_payment: 'Retry the payment',
};

/** Confirm an action on the customer's subscription, on its behalf. */
export function confirmSubscriptionActionPage(props: {
  session: OperatorSession; workspace: { id: string; name: string }; sub: SubscriptionRow; kind: SubscriptionAction; cycles: number;
  action: string; fields: Record<string, string>;
}) {
  return (
    <AdminConfirmPage
      session={props.session} title={`${TITLES[props.kind]}: ${props.workspace.name}`} action={props.action} fields={props.fields}
      confirmLabel={TITLES[props.kind]} back={`/admin/workspaces/${encodeURIComponent(props.workspace.id)}`}
    >
      <p>{props.sub.plan}, billed {props.sub.interval}ly, {props.sub.status}.</p>
      <p id="confirm-effect">{EFFECTS[props.kind](props.sub, props.cycles)}</p>
    </AdminConfirmPage>
  );
}

/** Confirm revoking an operator key: it stops working at once (its console sessions end too). */
export function confirmRevokeKeyPage(props: { session: OperatorSession; key: { id: string; name: string; hint: string }; action: string }) {
  return (
    <AdminConfirmPage
      session={props.session} title={`Revoke the operator key ${props.key.name}`} action={props.action} fields={{}}
      confirmLabel="Revoke the key" back="/admin/operator-keys"
    >
      <p id="confirm-effect">
        <span class="mono">{props.key.id}</span> (…{props.key.hint}) stops working at once for the API and the console
        {props.key.id === props.session.operatorKeyId ? ', including this session' : ''}.
      </p>
    </AdminConfirmPage>
  );
}
