/** The "Credits" part of /billing: balance, lots with their expiry, and the pack buttons. No I/O. */
import { findPlan, PACKS, packPriceCents } from '../../../domain/catalog.js';
import { isLive } from '../../../domain/lifecycle/status.js';
import type { BalanceView } from '../../../ledger/credits.js';
import type { SubscriptionRow } from '../../../ledger/subscriptions.js';
import type { BillingSession } from '../billing-session.js';
import { dollars } from '../pricing.js';
import { When } from '../site.js';
import { ActionForm } from './components.js';
import { LOT_LABELS } from './format.js';

export function CreditsSection(props: { session: BillingSession; balance: BalanceView; subscription: SubscriptionRow | undefined }) {
  const { balance, subscription: sub, session } = props;
  // Packs are priced with the plan of a live subscription (billing/packs.ts does the same when it charges).
  const plan = sub && isLive(sub.status) ? findPlan(sub.plan) : undefined;
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
        Packs are charged to your payment method and added at once, after you confirm the amount; they never expire
        while your account is active.
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
