/**
 * What becomes of a paid pack invoice (SPEC §1, §5, §10). A pack is sold only into a live subscription; a
 * payment can still complete after the subscription ended (a 3-D Secure payment racing its invoice's lapse, a
 * webhook arriving late). Such a pack is never delivered: the invoice is refunded in full instead (card part to
 * the card, the customer balance it used back to the balance), as one credit note.
 */
import type { CreditNoteRow } from '../ledger/credit-notes.js';
import type { Sql } from '../ledger/db.js';
import { formatLotId, grantLot } from '../ledger/credits.js';
import type { InvoiceRow } from '../ledger/invoices.js';
import { onceInLedger } from '../ledger/operations.js';
import { packDelivered } from '../ledger/pack-invoices.js';
import type { PaymentProvider } from '../payments/provider.js';
import { refundInvoice } from './refunds.js';

/** The refund's Idempotency-Key: its credit note's business key is `<invoice>:refund:key:pack-undeliverable`. */
export const UNDELIVERABLE_PACK_REFUND_KEY = 'pack-undeliverable';

export type PackSettlement = { outcome: 'delivered'; lot: string } | { outcome: 'refunded'; creditNote: CreditNoteRow };

/** Grants a paid pack invoice's credits, once (keyed `<invoice>:pack`), as a never-expiring lot granted at `paidAt`. */
export async function deliverPack(sql: Sql, invoice: InvoiceRow, paidAt: Date): Promise<string> {
  const { lotId } = await grantLot(sql, {
    key: `${invoice.id}:pack`, workspaceId: invoice.workspace_id, source: 'pack', amount: Number(invoice.metadata.pack_credits),
    grantedAt: paidAt, expiresAt: null,
  });
  return formatLotId(lotId);
}

/**
 * Settles a pack invoice that is paid (our row already `paid`): delivers its lot when the workspace has a live
 * subscription (active, past due, paused), otherwise refunds it in full (refundInvoice with the Idempotency-Key
 * UNDELIVERABLE_PACK_REFUND_KEY) and grants nothing. The choice is made once per invoice, under the workspace
 * lock (ledger operation `<invoice>:pack-outcome`), so a retry, a duplicate webhook or a later restart of the
 * subscription never turns a refund into a delivery or the other way round; a lot granted before this rule
 * existed counts as delivered. Idempotent: call it again after any failure. Throws what refundInvoice throws
 * (a provider refusal as Refusal provider_refund_failed; a transient provider error as it is, for the retry).
 */
export async function settlePaidPack(
  deps: { sql: Sql; payments?: PaymentProvider }, invoice: InvoiceRow, paidAt: Date,
): Promise<PackSettlement> {
  const outcome = await onceInLedger(deps.sql, { key: `${invoice.id}:pack-outcome`, workspaceId: invoice.workspace_id },
    async (tx, ctx) => (ctx.live || await packDelivered(tx, invoice.id) ? 'deliver' : 'refund'));
  if (outcome === 'deliver') return { outcome: 'delivered', lot: await deliverPack(deps.sql, invoice, paidAt) };
  if (!deps.payments) throw new Error(`pack invoice ${invoice.id} must be refunded: no payment provider to refund it with`);
  const creditNote = await refundInvoice({ sql: deps.sql, payments: deps.payments }, {
    invoiceId: invoice.id, idempotencyKey: UNDELIVERABLE_PACK_REFUND_KEY,
    reason: 'pack paid after its subscription ended: not delivered, refunded in full',
  });
  return { outcome: 'refunded', creditNote };
}
