/**
 * The webhook inbox. A verified event is stored (de-duplicated by its id) before the endpoint answers,
 * so nothing acknowledged is lost; the forwarder then applies stored events at least once: it settles
 * our invoice mirror and tells the subscription's workflow (which ignores an event id it has seen).
 * Applying is idempotent and follows the invoice's own state, so duplicates and any arrival order give
 * the same ledger and invoices.
 */
import type { Client } from '@temporalio/client';
import type { Sql } from '../../ledger/db.js';
import { getInvoice, type InvoiceRow, markInvoice } from '../../ledger/invoices.js';
import { workspaceNow } from '../../ledger/workspaces.js';
import type { PaymentProvider, PaymentWebhookEvent } from '../../payments/provider.js';
import { paidEventMatchesInvoice } from '../../payments/webhooks.js';
import { paymentEventSignal } from '../../workflows/messages.js';
import type { StripeProvider } from '../../payments/stripe.js';
import { applyDisputeEvent } from '../../billing/disputes.js';
import { settlePaidPack } from '../../billing/pack-settlement.js';
import { applyProviderRefund } from '../../billing/refunds.js';
import { saveCheckoutCard } from '../../billing/payment-methods.js';
import { signalIfRunning, workflowIdOf } from '../../billing/subscriptions.js';

/**
 * Stripe mode adds the provider, to save the card of a completed Checkout. `payments` (either mode) refunds a
 * pack paid after its subscription ended.
 */
export interface InboxDeps {
  sql: Sql;
  temporal: Client;
  stripe?: StripeProvider;
  payments?: PaymentProvider;
}

export async function storeWebhookEvent(sql: Sql, event: PaymentWebhookEvent): Promise<{ duplicate: boolean }> {
  const rows = await sql`
    INSERT INTO webhook_events (id, type, event) VALUES (${event.id}, ${event.type}, ${sql.json(event as never)})
    ON CONFLICT (id) DO NOTHING RETURNING id`;
  return { duplicate: rows.length === 0 };
}

/**
 * Applies one event. Only a payment of an invoice that was waiting (open: 3-D Secure, or a declined
 * renewal paid later) changes anything; a charge still in flight (draft) is settled by the call that
 * made it, and a failure or action-required notice never undoes a payment.
 */
export async function applyPaymentEvent(deps: InboxDeps, event: PaymentWebhookEvent): Promise<void> {
  if (event.type === 'checkout.session.completed') return saveCheckoutCard(deps, event);
  if (event.type === 'charge.refunded' || event.type.startsWith('charge.dispute.')) return applyChargeEvent(deps, event);
  if (event.type !== 'invoice.paid' || !event.invoiceId) return;
  const invoice = await getInvoice(deps.sql, event.invoiceId);
  if (!invoice) return;
  if (invoice.kind === 'pack') return applyPackPayment(deps, event, invoice);
  if (invoice.status !== 'open') return;
  // Another invoice's payment, another customer's, or another amount (issue 16) pays nothing.
  if (!paidEventMatchesInvoice(event, invoice)) return;
  const paidAt = await workspaceNow(deps.sql, invoice.workspace_id);
  // Signal first, then mark paid: if the signal fails the invoice stays open and the event is retried
  // (both steps are idempotent; the workflow ignores an event id it has seen).
  if (invoice.subscription_id) {
    await signalIfRunning(deps.temporal, workflowIdOf(invoice.subscription_id), paymentEventSignal,
      { eventId: event.id, type: 'invoice.paid', invoiceId: invoice.id });
  }
  await markInvoice(deps.sql, invoice.id, { status: 'paid', paidAt });
}

/**
 * A pack's `invoice.paid`: marked paid, then settled (billing/pack-settlement.ts): its lot delivered into a live
 * subscription, or, with none live any more (paid after its lapse was decided, or after the subscription
 * ended), refunded in full. A paid pack invoice is settled again by every copy of the event, so a failure after
 * marking it paid (the provider's refund unreachable) is completed by the retry; settling is idempotent.
 */
async function applyPackPayment(deps: InboxDeps, event: PaymentWebhookEvent, invoice: InvoiceRow): Promise<void> {
  if (invoice.status !== 'open' && invoice.status !== 'paid') return;
  if (!paidEventMatchesInvoice(event, invoice)) return;
  const paid = invoice.status === 'paid' ? invoice
    : await markInvoice(deps.sql, invoice.id, { status: 'paid', paidAt: await workspaceNow(deps.sql, invoice.workspace_id) });
  await settlePaidPack({ sql: deps.sql, payments: deps.payments ?? deps.stripe }, paid, paid.paid_at!);
}

/**
 * A refund or dispute of a charge (SPEC §10): `charge.refunded` adds what Stripe refunded beyond what we
 * recorded (billing/refunds.ts); `charge.dispute.*` freezes, thaws or credits a lost dispute
 * (billing/disputes.ts). Stripe's charges and disputes carry no metadata of ours: their invoice is found
 * through the PaymentIntent. Events about charges that are not ours change nothing.
 */
async function applyChargeEvent(deps: InboxDeps, event: PaymentWebhookEvent): Promise<void> {
  const invoiceId = event.invoiceId
    ?? (deps.stripe && event.paymentIntentId ? await deps.stripe.ourInvoiceOfPayment(event.paymentIntentId) : null);
  if (!invoiceId) return;
  if (event.type === 'charge.refunded') {
    // Stripe mode: a refund of ours that a crash left unconfirmed is completed through the provider (idempotent).
    if (typeof event.amountRefunded === 'number') {
      await applyProviderRefund({ sql: deps.sql, payments: deps.stripe }, { invoiceId, amountRefundedCents: event.amountRefunded });
    }
    return;
  }
  if (event.dispute) await applyDisputeEvent(deps, { id: event.id, created: event.created, invoiceId, dispute: event.dispute });
}

/**
 * Forwards stored events not yet applied, oldest first among those tried least, so one event that keeps
 * failing never blocks the others. A failure (e.g. Temporal unreachable) leaves the event pending and ends
 * the pass. SKIP LOCKED lets several API processes share the work.
 */
export async function forwardPendingEvents(deps: InboxDeps, limit = 100): Promise<number> {
  let forwarded = 0;
  for (let i = 0; i < limit; i++) {
    const done = await deps.sql.begin(async (tx) => {
      const [row] = await tx<{ id: string; event: PaymentWebhookEvent }[]>`
        SELECT id, event FROM webhook_events WHERE forwarded_at IS NULL
        ORDER BY attempts, received_at, id LIMIT 1 FOR UPDATE SKIP LOCKED`;
      if (!row) return null;
      try {
        await applyPaymentEvent(deps, row.event);
        await tx`UPDATE webhook_events SET forwarded_at = now(), attempts = attempts + 1, last_error = NULL WHERE id = ${row.id}`;
        return true;
      } catch (error) {
        await tx`UPDATE webhook_events SET attempts = attempts + 1, last_error = ${String(error)} WHERE id = ${row.id}`;
        return false;
      }
    });
    if (done === null || done === false) break;
    forwarded += 1;
  }
  return forwarded;
}
