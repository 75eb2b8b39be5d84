/**
 * The "Automatic top-up" part of /billing (SPEC §11): where the setting stands and the form that saves it
 * (POST /billing/auto-top-up, actions.ts; the same service as PUT /v1/auto-top-up). No I/O.
 */
import { findPlan, PACKS, packPriceCents } from '../../../domain/catalog.js';
import { isLive } from '../../../domain/lifecycle/status.js';
import type { AutoTopUpView } from '../../../ledger/auto-top-up.js';
import type { SubscriptionRow } from '../../../ledger/subscriptions.js';
import type { BillingSession } from '../billing-session.js';
import { dollars } from '../pricing.js';
import { When } from '../site.js';
import { ActionForm } from './components.js';
import { plural } from './format.js';

const STATUS_LABELS: Record<string, string> = { pending: 'Buying…', paid: 'Paid', failed: 'Failed', skipped: 'Skipped' };
const REASON_LABELS: Record<string, string> = {
  monthly_limit: 'over your monthly limit', past_due: 'a payment is past due', cancel_at_period_end: 'your plan ends at the period end',
  no_live_subscription: 'no active plan', disabled: 'turned off', authentication_required: 'your bank asked for 3-D Secure', card_declined: 'card declined',
};

export function AutoTopUpSection(props: { session: BillingSession; autoTopUp: AutoTopUpView | undefined; subscription: SubscriptionRow | undefined }) {
  const { autoTopUp: view, session, subscription: sub } = props;
  const plan = sub && isLive(sub.status) ? findPlan(sub.plan) : undefined;
  const pack = view?.pack ?? 100;
  const limitDollars = ((view?.monthly_limit_cents ?? packPriceCents(PACKS[0]!, plan) * 3) / 100).toFixed(2);
  return (
    <>
      <h2 id="auto-top-up">Automatic top-up</h2>
      <p>
        When your available credits drop below a threshold, or a creation is refused for want of credits, we buy one pack
        for you with your payment method, at most up to a monthly limit. Not while a payment is past due or your plan is set to end.
      </p>
      {view ? (
        <p id="auto-top-up-state">
          {view.enabled ? <strong>On</strong> : <strong>Off</strong>}
          {view.enabled ? <>: below <strong>{view.threshold.toLocaleString('en-US')}</strong> credits we buy {view.pack} credits.</> : '.'}
          {view.disabled_reason === 'payment_failed_twice' ? <> <span class="tag warn">turned off after two failed payments; save to turn it on again</span></> : ''}
          {view.pending ? <> <span class="tag">a top-up is being bought</span></> : ''}
          <span class="muted"> This month: {dollars(view.this_month.spent_cents)} of {dollars(view.monthly_limit_cents)} ({plural(view.this_month.count, 'top-up')}).</span>
        </p>
      ) : <p id="auto-top-up-state" class="muted">Off: never set up.</p>}
      <ActionForm action="/billing/auto-top-up" session={session} id="auto-top-up-form">
        <p>
          <label><input type="checkbox" name="enabled" value="1" checked={view?.enabled ?? false} /> Buy credits automatically</label>
        </p>
        <p>
          <label for="auto-top-up-threshold">When available credits drop below</label>{' '}
          <input type="number" id="auto-top-up-threshold" name="threshold" min="0" step="1" required value={String(view?.threshold ?? 50)} />
        </p>
        <p>
          <label for="auto-top-up-pack">Buy</label>{' '}
          <select id="auto-top-up-pack" name="pack">
            {PACKS.map((p) => (
              <option value={String(p.credits)} selected={p.credits === pack}>{p.credits} credits ({dollars(packPriceCents(p, plan))})</option>
            ))}
          </select>
        </p>
        <p>
          <label for="auto-top-up-limit">Monthly limit (USD)</label>{' '}
          <input type="number" id="auto-top-up-limit" name="monthly_limit" min="0.01" step="0.01" required value={limitDollars} />
        </p>
        <p><button type="submit">Save automatic top-up</button></p>
      </ActionForm>
      {view && view.recent.length > 0 ? (
        <table id="auto-top-ups">
          <thead><tr><th>When</th><th>Credits</th><th class="num">Amount</th><th>Status</th></tr></thead>
          <tbody>
            {view.recent.map((t) => (
              <tr id={`auto-top-up-${t.id}`} data-status={t.status}>
                <td><When at={t.created_at} /></td>
                <td>{t.pack_credits}</td>
                <td class="num">{t.amount_cents === null ? '–' : dollars(t.amount_cents)}</td>
                <td>{STATUS_LABELS[t.status]}{t.failure_code ? <span class="muted"> ({REASON_LABELS[t.failure_code] ?? t.failure_code})</span> : ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : ''}
    </>
  );
}
