/**
 * Refunds (SPEC §10): an operator's refund of a paid invoice, and refunds made at the provider (Stripe's
 * dashboard) that `charge.refunded` reports. Each becomes a credit note.
 *
 * Crash safety: the note is recorded first (`pending`, under the invoice's row lock), then the provider
 * refund (keyed by the note's business key), then the customer balance credit and the clawback (each
 * once in the ledger under keys derived from it), then the note is issued. A retry of any step, or of the
 * whole request, completes the same note; nothing is done twice.
 */
import type { CreditedByProration } from '../domain/billing/proration-credits.js';
import { refundableCents, splitRefund, unrecordedProviderRefund } from '../domain/billing/refunds.js';
import { refuse, Refusal } from '../domain/refusals.js';
import {
  clawbackKeyOf, type CreditNoteRow, creditNoteByKey, dropPendingCreditNote, insertCreditNote, issueCreditNote, lockInvoice,
  pendingCreditNotes, pendingRefundLike, refundedSoFar, refundedThrough, setProviderRefund,
} from '../ledger/credit-notes.js';
import type { Sql } from '../ledger/db.js';
import { blockingDispute } from '../ledger/disputes.js';
import { clawBackForRefund } from '../ledger/invoice-clawback.js';
import { getInvoice } from '../ledger/invoices.js';
import { takeBackChangeCredit } from '../ledger/lost-dispute-takeback.js';
import { onceInLedger, type Tx } from '../ledger/operations.js';
import { settleOwedTakebackFirst } from '../ledger/owed-takebacks.js';
import { creditedByProration } from '../ledger/proration-credits.js';
import { workspaceNow } from '../ledger/workspaces.js';
import { isProviderInvalidRequest } from '../payments/provider-errors.js';
import type { PaymentProvider } from '../payments/provider.js';

export interface RefundDeps {
  sql: Sql;
  payments: PaymentProvider;
}

export interface RefundRequest {
  invoiceId: string;
  /** Cents to refund (positive); all that is left when absent. */
  amountCents?: number;
  reason: string;
  /** The request's Idempotency-Key: its business key then, so a retry finds its note whatever happened since. */
  idempotencyKey?: string;
  /** Who asked (recorded by the audit log; not part of the note). */
  operatorKeyId?: string;
}

/**
 * Refunds a paid invoice in full or in part (SPEC §10) and returns the issued credit note. The card part
 * comes first, up to what the card paid less earlier card refunds, through the provider (no call when it is
 * 0); the rest returns to the customer balance; the invoice's lots lose ceil(N × R / T) credits in all.
 * Refusals: 404 invoice_not_found; 409 invoice_not_refundable (open, void, or total ≤ 0), invoice_disputed (a
 * dispute open or lost), refund_exceeds_paid (more than is left: the total less its credit notes and the unused
 * time later upgrades or switches credited, one drafted or waiting for 3-D Secure included); provider_refund_failed when the provider
 * refuses the refund as sent (nothing changed). A refund does not change the subscription.
 */
export async function refundInvoice(deps: RefundDeps, request: RefundRequest): Promise<CreditNoteRow> {
  if (request.amountCents !== undefined && (!Number.isSafeInteger(request.amountCents) || request.amountCents <= 0)) {
    refuse('invalid_request', 'amount_cents must be a positive whole number of cents', { field: 'amount_cents' });
  }
  const note = await recordRefund(deps.sql, request);
  return completeCreditNote(deps, note);
}

/**
 * The refund's intent: checked and written under the invoice's row lock (concurrent refunds wait here, and so
 * does the draft of a change crediting this invoice's time: ledger/invoices.ts draftInvoice; whichever commits
 * second sees the other, so the unused time is paid back once, by the refund or by the change's credit).
 */
async function recordRefund(sql: Sql, request: RefundRequest): Promise<CreditNoteRow> {
  return sql.begin(async (tx) => {
    const invoice = await lockInvoice(tx, request.invoiceId);
    if (!invoice) return refuse('invoice_not_found', `no invoice ${request.invoiceId}`);
    // A retry: the note of the same Idempotency-Key, or the same request left pending by a crash.
    const businessKeyOfRequest = request.idempotencyKey ? `${invoice.id}:refund:key:${request.idempotencyKey}` : null;
    const retried = businessKeyOfRequest
      ? await creditNoteByKey(tx, businessKeyOfRequest)
      : await pendingRefundLike(tx, invoice.id, request.amountCents ?? null, request.reason);
    if (retried) return retried;
    if (invoice.status !== 'paid' || invoice.total_cents <= 0) {
      refuse('invoice_not_refundable', `invoice ${invoice.id} is ${invoice.status} with a total of ${invoice.total_cents} cents: only a paid invoice with a positive total is refundable`,
        { invoice_status: invoice.status });
    }
    const dispute = await blockingDispute(tx, invoice.id);
    if (dispute) refuse('invoice_disputed', `invoice ${invoice.id} has a dispute ${dispute.outcome === 'lost' ? 'lost' : 'open'} (${dispute.id})`, { dispute_id: dispute.id });
    const so = await refundedSoFar(tx, invoice.id);
    const prorated = await creditedByProration(tx, invoice);
    const left = refundableCents(invoice.total_cents, so, prorated.cents);
    const amount = request.amountCents ?? left;
    if (amount <= 0 || amount > left) refuseBeyondLeft(invoice.id, amount, left, prorated);
    const { cardCents, balanceCents } = splitRefund(amount, invoice.amount_due_cents, so);
    const now = await workspaceNowIn(tx, invoice.workspace_id);
    return insertCreditNote(tx, {
      businessKey: businessKeyOfRequest ?? `${invoice.id}:refund:${(await lastRefundNumber(tx, invoice.id)) + 1}`,
      invoiceId: invoice.id, workspaceId: invoice.workspace_id, amountCents: amount, cardCents, balanceCents,
      reason: request.reason, requestedCents: request.amountCents ?? null, source: 'operator', createdAt: now,
    });
  });
}

/**
 * 409 refund_exceeds_paid, saying how much is left and, when later upgrades or interval switches already
 * credited the invoice's unused time, how much and by which invoices (`prorated_cents`, `prorated_by`).
 */
function refuseBeyondLeft(invoiceId: string, amount: number, left: number, prorated: CreditedByProration): never {
  const where = prorated.by.map((c) => `${c.cents} cents by invoice ${c.number ?? c.invoiceId}`).join(', ');
  const why = prorated.cents > 0 ? ` (${prorated.cents} cents of the time it paid for were already credited as unused time on a later change: ${where})` : '';
  return refuse('refund_exceeds_paid', `${amount} cents is more than the ${left} cents left to refund on invoice ${invoiceId}${why}`, {
    refundable_cents: left,
    ...(prorated.cents > 0 && { prorated_cents: prorated.cents, prorated_by: prorated.by.map((c) => ({ invoice_id: c.invoiceId, number: c.number, amount_cents: c.cents })) }),
  });
}

/**
 * The n of the invoice's last `<invoice>:refund:<n>` note (0: none); the next refund is n + 1. Numbers of
 * notes kept are never reused; the number of an intent the provider refused (dropped) may be.
 */
async function lastRefundNumber(tx: Tx, invoiceId: string): Promise<number> {
  const [row] = await tx<{ n: number }[]>`
    SELECT coalesce(max(substring(business_key FROM ':refund:([0-9]+)$')::int), 0) AS n
    FROM credit_notes WHERE invoice_id = ${invoiceId} AND source = 'operator'`;
  return row!.n;
}

/** The workspace's time, read in the transaction that holds the invoice's lock. */
async function workspaceNowIn(tx: Tx, workspaceId: string): Promise<Date> {
  const [row] = await tx<{ now: Date }[]>`SELECT workspace_now(${workspaceId}) AS now`;
  return row!.now;
}

/**
 * Completes a pending credit note and returns it issued (an issued one as it is): the provider refund of an
 * operator's note's card part, the customer balance credit, the clawback. Every step is idempotent.
 */
export async function completeCreditNote(deps: { sql: Sql; payments?: PaymentProvider }, note: CreditNoteRow): Promise<CreditNoteRow> {
  if (note.status === 'issued') return note;
  const { sql } = deps;
  const card = Number(note.refunded_to_card_cents);
  if (note.source === 'operator' && card > 0 && !note.provider_refund_id) {
    const invoice = (await getInvoice(sql, note.invoice_id))!;
    if (!deps.payments) throw new Error(`credit note ${note.id} needs its provider refund`);
    try {
      const { refundId } = await deps.payments.refund({
        invoiceId: invoice.id, workspaceId: invoice.workspace_id, providerInvoiceId: invoice.provider_invoice_id,
        amountCents: card, idempotencyKey: note.business_key, reason: note.reason,
      });
      await setProviderRefund(sql, note.id, refundId);
    } catch (error) {
      if (!isProviderInvalidRequest(error)) throw error; // transient: the note stays pending for the retry
      await dropPendingCreditNote(sql, note.id);
      throw new Refusal('provider_refund_failed', `the payment provider refused the refund: ${(error as Error).message}`);
    }
  }
  // A dashboard refund is recorded in full, so it, like a lost dispute, takes back a change's credit for the same time.
  if (note.source === 'provider') await takeBackChangeCredit(sql, note);
  const balance = Number(note.credited_to_balance_cents);
  if (balance > 0) {
    await onceInLedger(sql, { key: `${note.business_key}:customer-balance`, workspaceId: note.workspace_id }, async (tx) => {
      const owed = await settleOwedTakebackFirst(tx, note.workspace_id, balance);
      await tx`UPDATE workspaces SET customer_balance_cents = customer_balance_cents + ${balance - owed} WHERE id = ${note.workspace_id}`;
      return balance;
    });
  }
  const clawback = await clawBackForRefund(sql, {
    key: clawbackKeyOf(note), invoiceId: note.invoice_id,
    refundedCentsTotal: await refundedThrough(sql, note.invoice_id, note.seq), at: await workspaceNow(sql, note.workspace_id),
  });
  return issueCreditNote(sql, note.id, clawback);
}

/**
 * `charge.refunded` (SPEC §10): Stripe's `amount_refunded` is the charge's total refunded. What we have not
 * recorded (a refund made in Stripe's dashboard) becomes a credit note of source `provider`, card part only,
 * keyed by that total so a duplicate (same or new event id) finds it; the echo of our own refund adds nothing,
 * and completes our refunds of the invoice a crash left pending (with `payments`, also one whose provider call
 * is unconfirmed: it is idempotent). Throws (for the inbox to retry) while the invoice is not paid here yet.
 */
export async function applyProviderRefund(
  deps: { sql: Sql; payments?: PaymentProvider }, event: { invoiceId: string; amountRefundedCents: number },
): Promise<CreditNoteRow | null> {
  const note = await deps.sql.begin(async (tx) => {
    const invoice = await lockInvoice(tx, event.invoiceId);
    if (!invoice) return null; // not one of ours
    const businessKey = `${invoice.id}:provider-refund:${event.amountRefundedCents}`;
    const known = await creditNoteByKey(tx, businessKey);
    if (known) return known;
    if (invoice.status === 'void') return null; // nothing was paid here to give back
    if (invoice.status !== 'paid') throw new Error(`invoice ${invoice.id} is ${invoice.status}: its refund is applied once it is paid here`);
    const so = await refundedSoFar(tx, invoice.id);
    const amount = unrecordedProviderRefund(event.amountRefundedCents, invoice.total_cents, so);
    if (amount <= 0) return null;
    const now = await workspaceNowIn(tx, invoice.workspace_id);
    return insertCreditNote(tx, {
      businessKey, invoiceId: invoice.id, workspaceId: invoice.workspace_id, amountCents: amount, cardCents: amount, balanceCents: 0,
      reason: 'refunded at the payment provider', requestedCents: null, source: 'provider', createdAt: now,
    });
  });
  const completed = note ? await completeCreditNote(deps, note) : null;
  await completePendingCreditNotes(deps, event.invoiceId);
  return completed;
}

/**
 * Completes the invoice's pending credit notes (refunds a crash interrupted after recording them). Without
 * `payments`, a note whose provider refund is unconfirmed stays pending for its retry.
 */
export async function completePendingCreditNotes(deps: { sql: Sql; payments?: PaymentProvider }, invoiceId: string): Promise<void> {
  for (const note of await pendingCreditNotes(deps.sql, invoiceId)) {
    const needsProvider = note.source === 'operator' && Number(note.refunded_to_card_cents) > 0 && !note.provider_refund_id;
    if (needsProvider && !deps.payments) continue;
    await completeCreditNote(deps, note);
  }
}
