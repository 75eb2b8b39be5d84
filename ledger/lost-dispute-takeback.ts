/**
 * The ledger writes of the take-back after a bank-side return (SPEC §4, §10; domain/billing/lost-dispute-takeback.ts):
 * the unused-time credit later changes gave for the time of an invoice whose card payment a lost dispute or a
 * refund made at the provider returns, leaves the customer balance as far as it goes; what the balance lacked
 * is still owed, settled first by the next credits to the balance (ledger/owed-takebacks.ts). The figures are
 * recorded on the note.
 */
import { type LostDisputeTakeback, type RecordedNote, takebackAsOfNote } from '../domain/billing/lost-dispute-takeback.js';
import type { CreditNoteRow } from './credit-notes.js';
import type { Sql } from './db.js';
import { getInvoice } from './invoices.js';
import { onceInLedger, type Tx } from './operations.js';
import { paidSubscriptionInvoices } from './period-in-force.js';

const NONE: LostDisputeTakeback = { owedCents: 0, takenCents: 0, shortfallCents: 0 };

/**
 * Takes back from the customer balance what later upgrades or interval switches credited for the time of the
 * note's invoice, beyond what it was paid once its notes up to `note` are counted: for a lost dispute's note
 * (source dispute_lost) and a refund made at the provider (source provider); an operator's refund never owes
 * one (its cap already excludes the credited time). Every figure is as of the note (takebackAsOfNote): notes
 * recorded after it, even before this runs (two charge.refunded events at once, a note a crash left pending),
 * count in their own take-backs only, so the take-backs of an invoice's notes sum to the same in any order.
 * One operation keyed by the note (a duplicate or reordered event, or the retry after a crash, changes nothing
 * twice), under the workspace lock that every customer-balance write takes. The note records
 * `balance_taken_back_cents` and, as `balance_shortfall_cents`, what the balance lacked: still owed, settled by
 * ledger/owed-takebacks.ts settleOwedTakebackFirst. Returns the figures, cents.
 */
export async function takeBackChangeCredit(sql: Sql, note: CreditNoteRow): Promise<LostDisputeTakeback> {
  if (note.source === 'operator') return NONE;
  const invoice = await getInvoice(sql, note.invoice_id);
  if (!invoice?.subscription_id) return NONE; // a pack: no change ever credits its time
  const subscriptionId = invoice.subscription_id;
  return onceInLedger(sql, { key: `${note.business_key}:balance-takeback`, workspaceId: note.workspace_id }, async (tx) => {
    const invoices = await paidSubscriptionInvoices(tx, note.workspace_id, subscriptionId);
    const { notes, balanceCents } = await notesThroughWithBalance(tx, invoice.id, Number(note.seq));
    const takeback = takebackAsOfNote({ invoices, invoiceId: invoice.id, totalCents: Number(invoice.total_cents), notes, noteSeq: Number(note.seq), balanceCents });
    if (takeback.owedCents === 0) return { ...NONE }; // the note's columns stay 0
    if (takeback.takenCents > 0) {
      await tx`UPDATE workspaces SET customer_balance_cents = customer_balance_cents - ${takeback.takenCents} WHERE id = ${note.workspace_id}`;
    }
    await tx`UPDATE credit_notes SET balance_taken_back_cents = ${takeback.takenCents}, balance_shortfall_cents = ${takeback.shortfallCents}
             WHERE id = ${note.id}`;
    return { ...takeback };
  });
}

/**
 * The invoice's notes with seq ≤ `seq` and the customer balance of their workspace (locked by the caller), in one
 * statement. Notes of one invoice are recorded under its row lock, so those before a note were committed when it
 * was: the set is the same whenever its take-back runs.
 */
async function notesThroughWithBalance(tx: Tx, invoiceId: string, seq: number): Promise<{ notes: RecordedNote[]; balanceCents: number }> {
  const rows = await tx<{ seq: number; amount: number; balance: number }[]>`
    SELECT n.seq, n.amount_cents AS amount, w.customer_balance_cents AS balance
    FROM credit_notes n JOIN workspaces w ON w.id = n.workspace_id
    WHERE n.invoice_id = ${invoiceId} AND n.seq <= ${seq} ORDER BY n.seq`;
  return { notes: rows.map((r) => ({ seq: Number(r.seq), amountCents: Number(r.amount) })), balanceCents: Number(rows[0]?.balance ?? 0) };
}
