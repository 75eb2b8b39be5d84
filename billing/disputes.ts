/**
 * Disputes (SPEC §10): `charge.dispute.created` freezes the credits the disputed invoice granted and
 * notifies (`dispute_opened`); closed `won`, `warning_closed` (or `prevented`) thaws them; `lost` is a credit
 * note for the disputed amount without a provider refund (the bank already returned the money), clawed back
 * like a refund, and what is left thaws. A dispute does not change the subscription.
 *
 * Every event takes the dispute's lock and then makes its effects idempotent under keys of the dispute, so
 * one effect per dispute and outcome whatever the number, order or concurrency of events: a `closed` before
 * its `created` closes the row, and the late `created` then freezes nothing.
 */
import { lostDisputeCents } from '../domain/billing/refunds.js';
import { creditNoteByKey, insertCreditNote, lockInvoice, refundedSoFar } from '../ledger/credit-notes.js';
import type { Sql } from '../ledger/db.js';
import { type DisputeRow, lockDispute, recordDisputeEvent } from '../ledger/disputes.js';
import { freezeForDispute, thawForDispute } from '../ledger/invoice-clawback.js';
import { getInvoice } from '../ledger/invoices.js';
import { takeBackChangeCredit } from '../ledger/lost-dispute-takeback.js';
import { recordNotification } from '../ledger/notifications.js';
import { workspaceNow } from '../ledger/workspaces.js';
import { completeCreditNote } from './refunds.js';

export interface DisputeEvent {
  /** The provider event's id and time (seconds). */
  id: string;
  created: number;
  invoiceId: string;
  dispute: { id: string; status: string; amountCents: number };
}

/** Operation keys of a dispute's effects (the freeze's is what its lots carry while frozen). */
export const disputeKeys = {
  freeze: (disputeId: string) => `dispute:${disputeId}:freeze`,
  thaw: (disputeId: string) => `dispute:${disputeId}:thaw`,
  lost: (disputeId: string) => `dispute:${disputeId}:lost`,
};

/**
 * Applies one dispute event and returns the dispute as recorded (null: the invoice is not ours). Throws, for
 * the inbox to retry, while the disputed invoice is not yet paid and delivered here.
 */
export async function applyDisputeEvent(deps: { sql: Sql }, event: DisputeEvent): Promise<DisputeRow | null> {
  const { sql } = deps;
  const invoice = await getInvoice(sql, event.invoiceId);
  if (!invoice || invoice.status === 'void') return null; // not ours, or nothing was paid here
  if (invoice.status !== 'paid' || !(await delivered(sql, invoice))) {
    throw new Error(`invoice ${invoice.id} is not paid and delivered here yet: the dispute ${event.dispute.id} waits`);
  }
  return sql.begin(async (tx) => {
    await lockDispute(tx, event.dispute.id);
    const at = await workspaceNow(sql, invoice.workspace_id);
    const dispute = await recordDisputeEvent(sql, {
      id: event.id, created: event.created, disputeId: event.dispute.id, status: event.dispute.status,
      amountCents: event.dispute.amountCents, invoiceId: invoice.id, workspaceId: invoice.workspace_id, at,
    });
    // The row and the effects are written on other connections while this transaction holds the dispute's
    // lock: the next event of the same dispute waits until they are done. Each effect is keyed and follows
    // from the row as recorded, so the retry of an event that crashed midway completes them, doing none twice.
    if (dispute.outcome === null) {
      await freezeForDispute(sql, { key: disputeKeys.freeze(dispute.id), invoiceId: invoice.id, at });
      await recordNotification(sql, {
        workspaceId: invoice.workspace_id, kind: 'dispute_opened', dedupeKey: `dispute_opened:${dispute.id}`, at,
        payload: { dispute_id: dispute.id, invoice_id: invoice.id, amount_cents: Number(dispute.amount_cents), status: dispute.status },
      });
      return dispute;
    }
    if (dispute.outcome === 'lost') await creditLostDispute(sql, dispute, at);
    await thawForDispute(sql, { key: disputeKeys.thaw(dispute.id), invoiceId: invoice.id, at });
    return dispute;
  });
}

/**
 * A lost dispute's credit note (source dispute_lost, card part, no provider refund), then the take-back from
 * the customer balance of what later changes credited for the invoice's time (the bank returned it as well;
 * what the balance lacks stays owed), then its clawback. Each step is keyed by the dispute's note, so a retry
 * completes what a crash left.
 */
async function creditLostDispute(sql: Sql, dispute: DisputeRow, at: Date): Promise<void> {
  const note = await sql.begin(async (tx) => {
    const invoice = (await lockInvoice(tx, dispute.invoice_id))!;
    const so = await refundedSoFar(tx, invoice.id);
    const amount = lostDisputeCents(Number(dispute.amount_cents), invoice.total_cents, invoice.amount_due_cents, so);
    const businessKey = disputeKeys.lost(dispute.id);
    const known = await creditNoteByKey(tx, businessKey);
    if (known) return known;
    if (amount <= 0) return null;
    return insertCreditNote(tx, {
      businessKey, invoiceId: invoice.id, workspaceId: invoice.workspace_id, amountCents: amount, cardCents: amount, balanceCents: 0,
      reason: `dispute ${dispute.id} lost`, requestedCents: null, source: 'dispute_lost', createdAt: at,
    });
  });
  if (!note) return;
  await takeBackChangeCredit(sql, note);
  await completeCreditNote({ sql }, note);
}

/** A pack's credits are granted right after its payment: a dispute waits for them (they are what it freezes). */
async function delivered(sql: Sql, invoice: { id: string; kind: string }): Promise<boolean> {
  if (invoice.kind !== 'pack') return true;
  const [row] = await sql`SELECT 1 FROM ledger_operations WHERE key = ${`${invoice.id}:pack`}`;
  return row !== undefined;
}
