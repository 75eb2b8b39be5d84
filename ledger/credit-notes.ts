/**
 * Credit notes (SPEC §10): money given back on a paid invoice. A note is written `pending` under the
 * invoice's row lock (so concurrent refunds never exceed what was paid), then completed (provider refund,
 * customer balance, clawback) and `issued`. Amounts in cents, credits in whole credits.
 */
import { randomBytes } from 'node:crypto';
import type { RefundedSoFar } from '../domain/billing/refunds.js';
import type { Sql } from './db.js';
import { readRefundClawback } from './invoice-clawback.js';
import type { InvoiceRow } from './invoices.js';
import type { Tx } from './operations.js';

export type CreditNoteSource = 'operator' | 'provider' | 'dispute_lost';

export interface CreditNoteRow {
  id: string;
  seq: number;
  invoice_id: string;
  workspace_id: string;
  amount_cents: number;
  refunded_to_card_cents: number;
  credited_to_balance_cents: number;
  reason: string;
  requested_cents: number | null;
  credits_clawed_back: number;
  shortfall: number;
  credits_pending: number;
  provider_refund_id: string | null;
  business_key: string;
  source: CreditNoteSource;
  status: 'pending' | 'issued';
  created_at: Date;
}

export interface NewCreditNote {
  businessKey: string;
  invoiceId: string;
  workspaceId: string;
  amountCents: number;
  cardCents: number;
  balanceCents: number;
  reason: string;
  requestedCents: number | null;
  source: CreditNoteSource;
  createdAt: Date;
}

/** The operation key of a credit note's clawback (ledger_operations, its journal entries). */
export const clawbackKeyOf = (note: Pick<CreditNoteRow, 'business_key'>) => `${note.business_key}:clawback`;

/**
 * Locks a paid (or any) invoice's row for the rest of the transaction: refunds, dashboard refunds and lost
 * disputes of one invoice record their notes one at a time, and a change's draft (FOR SHARE, ledger/period-in-force.ts)
 * waits for them. FOR NO KEY UPDATE, not FOR UPDATE: the note's insert then waits for the workspace row's key-share
 * lock, while a clawback or balance credit holding the workspace row (ledger_lock_workspace) inserts rows referencing
 * this invoice (a foreign-key check: KEY SHARE on it); FOR UPDATE blocked that check and the two deadlocked
 * (CI, concurrent refunds of one pack; test/breaker/money-concurrent-operator-actions). NO KEY UPDATE does not block
 * a key-share lock, and still conflicts with itself, with FOR SHARE and with every UPDATE of the row.
 */
export async function lockInvoice(tx: Tx, invoiceId: string): Promise<InvoiceRow | undefined> {
  const [row] = await tx<InvoiceRow[]>`SELECT * FROM invoices WHERE id = ${invoiceId} FOR NO KEY UPDATE`;
  return row;
}

/** What the invoice's credit notes (pending ones included: they are promised) gave back so far. */
export async function refundedSoFar(tx: Tx | Sql, invoiceId: string): Promise<RefundedSoFar & { count: number }> {
  const [row] = await tx<{ amount: number; card: number; provider_card: number; count: number }[]>`
    SELECT coalesce(sum(amount_cents), 0)::bigint AS amount, coalesce(sum(refunded_to_card_cents), 0)::bigint AS card,
           coalesce(sum(refunded_to_card_cents) FILTER (WHERE source <> 'dispute_lost'), 0)::bigint AS provider_card,
           count(*)::int AS count
    FROM credit_notes WHERE invoice_id = ${invoiceId}`;
  return { amountCents: Number(row!.amount), cardCents: Number(row!.card), providerCardCents: Number(row!.provider_card), count: row!.count };
}

/** Inserts a pending note, or returns the one with the same business key. */
export async function insertCreditNote(tx: Tx, note: NewCreditNote): Promise<CreditNoteRow> {
  await tx`
    INSERT INTO credit_notes (id, invoice_id, workspace_id, amount_cents, refunded_to_card_cents, credited_to_balance_cents,
                              reason, requested_cents, business_key, source, created_at)
    VALUES (${`cn_${randomBytes(12).toString('hex')}`}, ${note.invoiceId}, ${note.workspaceId}, ${note.amountCents}, ${note.cardCents},
            ${note.balanceCents}, ${note.reason}, ${note.requestedCents}, ${note.businessKey}, ${note.source}, ${note.createdAt})
    ON CONFLICT (business_key) DO NOTHING`;
  return (await creditNoteByKey(tx, note.businessKey))!;
}

export async function creditNoteByKey(tx: Tx | Sql, businessKey: string): Promise<CreditNoteRow | undefined> {
  const [row] = await tx<CreditNoteRow[]>`SELECT * FROM credit_notes WHERE business_key = ${businessKey}`;
  return row;
}

/** An operator's pending refund of the same request (same amount asked, same reason): its retry after a crash. */
export async function pendingRefundLike(tx: Tx, invoiceId: string, requestedCents: number | null, reason: string): Promise<CreditNoteRow | undefined> {
  const [row] = await tx<CreditNoteRow[]>`
    SELECT * FROM credit_notes WHERE invoice_id = ${invoiceId} AND status = 'pending' AND source = 'operator'
      AND requested_cents IS NOT DISTINCT FROM ${requestedCents} AND reason = ${reason}
    ORDER BY seq LIMIT 1`;
  return row;
}

/** The invoice's notes still pending (a refund interrupted after its intent was recorded), oldest first. */
export async function pendingCreditNotes(sql: Sql, invoiceId: string): Promise<CreditNoteRow[]> {
  return sql<CreditNoteRow[]>`SELECT * FROM credit_notes WHERE invoice_id = ${invoiceId} AND status = 'pending' ORDER BY seq`;
}

/** The sum of the invoice's notes up to and including `seq`: the refunded total a note's clawback is computed at. */
export async function refundedThrough(sql: Sql, invoiceId: string, seq: number): Promise<number> {
  const [row] = await sql<{ cents: number }[]>`
    SELECT coalesce(sum(amount_cents), 0)::bigint AS cents FROM credit_notes WHERE invoice_id = ${invoiceId} AND seq <= ${seq}`;
  return Number(row!.cents);
}

export async function setProviderRefund(sql: Sql, id: string, refundId: string): Promise<void> {
  await sql`UPDATE credit_notes SET provider_refund_id = ${refundId} WHERE id = ${id}`;
}

/** A pending note the provider refused to refund: nothing was given back, so the intent goes. */
export async function dropPendingCreditNote(sql: Sql, id: string): Promise<void> {
  await sql`DELETE FROM credit_notes WHERE id = ${id} AND status = 'pending' AND provider_refund_id IS NULL`;
}

/** Marks a note issued with its clawback's outcome (idempotent: an issued note keeps its first outcome). */
export async function issueCreditNote(
  sql: Sql, id: string, clawback: { clawedBack: number; shortfall: number; pending: number },
): Promise<CreditNoteRow> {
  await sql`
    UPDATE credit_notes SET status = 'issued', credits_clawed_back = ${clawback.clawedBack}, shortfall = ${clawback.shortfall},
      credits_pending = ${clawback.pending}
    WHERE id = ${id} AND status = 'pending'`;
  const [row] = await sql<CreditNoteRow[]>`SELECT * FROM credit_notes WHERE id = ${id}`;
  return row!;
}

/**
 * The issued notes of some invoices, oldest first, by invoice. A note whose clawback found credits held shows
 * them as they settled since (taken when released, shortfall when captured: readRefundClawback).
 */
export async function creditNotesOf(sql: Sql, invoiceIds: string[]): Promise<Map<string, CreditNoteRow[]>> {
  const byInvoice = new Map<string, CreditNoteRow[]>();
  if (invoiceIds.length === 0) return byInvoice;
  const rows = await sql<CreditNoteRow[]>`
    SELECT * FROM credit_notes WHERE invoice_id IN ${sql(invoiceIds)} AND status = 'issued' ORDER BY seq`;
  for (const row of rows) {
    const settled = row.credits_pending > 0 ? await readRefundClawback(sql, clawbackKeyOf(row)) : undefined;
    const note = settled ? { ...row, credits_clawed_back: settled.clawedBack, credits_pending: settled.pending, shortfall: settled.shortfall } : row;
    byInvoice.set(row.invoice_id, [...(byInvoice.get(row.invoice_id) ?? []), note]);
  }
  return byInvoice;
}
