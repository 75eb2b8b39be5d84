/**
 * The ledger write of a lost dispute's take-back (SPEC §4, §10; domain/billing/lost-dispute-takeback.ts): the
 * unused-time credit later changes gave for the disputed invoice's time, which the bank's reversal now returns
 * a second time, leaves the customer balance (as far as it goes); the figures are recorded on the dispute's note.
 */
import { creditedBeforeLostDispute, type LostDisputeTakeback, lostDisputeTakeback } from '../domain/billing/lost-dispute-takeback.js';
import { type CreditNoteRow, refundedSoFar } from './credit-notes.js';
import type { Sql } from './db.js';
import { getInvoice } from './invoices.js';
import { onceInLedger } from './operations.js';
import { paidSubscriptionInvoices } from './period-in-force.js';

const NONE: LostDisputeTakeback = { owedCents: 0, takenCents: 0, shortfallCents: 0 };

/**
 * Takes back from the customer balance what later upgrades or interval switches credited for the time of the
 * lost dispute's invoice, beyond what it was paid once its notes (`note`, the dispute's, included) are counted:
 * one operation keyed by the note (a duplicate or reordered event, or the retry after a crash, changes nothing
 * twice), under the workspace lock that every customer-balance write of the ledger takes. The note records
 * `balance_taken_back_cents` and `balance_shortfall_cents` (what the balance lacked). Returns the figures, cents.
 */
export async function takeBackLostDisputeCredit(sql: Sql, note: CreditNoteRow): Promise<LostDisputeTakeback> {
  const invoice = await getInvoice(sql, note.invoice_id);
  if (!invoice?.subscription_id) return NONE; // a pack: no change ever credits its time
  const subscriptionId = invoice.subscription_id;
  return onceInLedger(sql, { key: `${note.business_key}:balance-takeback`, workspaceId: note.workspace_id }, async (tx) => {
    const invoices = await paidSubscriptionInvoices(tx, note.workspace_id, subscriptionId);
    const creditedCents = creditedBeforeLostDispute(invoices, invoice.id, Number(note.amount_cents));
    if (creditedCents === 0) return { ...NONE };
    const [ws] = await tx<{ balance: string }[]>`SELECT customer_balance_cents AS balance FROM workspaces WHERE id = ${note.workspace_id}`;
    const so = await refundedSoFar(tx, invoice.id);
    const takeback = lostDisputeTakeback({
      totalCents: Number(invoice.total_cents), returnedCents: so.amountCents, creditedCents, balanceCents: Number(ws!.balance),
    });
    if (takeback.takenCents > 0) {
      await tx`UPDATE workspaces SET customer_balance_cents = customer_balance_cents - ${takeback.takenCents} WHERE id = ${note.workspace_id}`;
    }
    await tx`UPDATE credit_notes SET balance_taken_back_cents = ${takeback.takenCents}, balance_shortfall_cents = ${takeback.shortfallCents}
             WHERE id = ${note.id}`;
    return { ...takeback };
  });
}
