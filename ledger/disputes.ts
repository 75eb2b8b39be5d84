/**
 * Disputes (SPEC §10) as the provider reports them, one row per dispute. Every event of a dispute runs under
 * the dispute's lock (lockDispute), so the effects decided from the row happen once whatever the number,
 * order or concurrency of events; a closed dispute stays closed.
 */
import type { Sql } from './db.js';
import type { Tx } from './operations.js';

/** Stripe's terminal dispute statuses, and what each means here. */
export const CLOSED_DISPUTE_STATUSES = ['won', 'lost', 'warning_closed', 'prevented'] as const;
export type DisputeOutcome = (typeof CLOSED_DISPUTE_STATUSES)[number];

export function outcomeOf(status: string): DisputeOutcome | null {
  return (CLOSED_DISPUTE_STATUSES as readonly string[]).includes(status) ? (status as DisputeOutcome) : null;
}

export interface DisputeRow {
  id: string;
  invoice_id: string;
  workspace_id: string;
  status: string;
  amount_cents: number;
  opened_at: Date;
  closed_at: Date | null;
  outcome: DisputeOutcome | null;
  last_event_id: string;
  last_event_created: number;
}

/**
 * Takes the dispute's lock for the rest of the transaction `tx`: a transaction-level advisory lock, not a row
 * lock, because the effects run on other connections and lock the invoice and the workspace themselves (a
 * row of `disputes` would hold a key-share lock on its invoice, which they update).
 */
export async function lockDispute(tx: Tx, disputeId: string): Promise<void> {
  await tx`SELECT pg_advisory_xact_lock(hashtext(${`dispute:${disputeId}`}))`;
}

/**
 * Records one event of a dispute (the caller holds lockDispute) and returns its row, committed. The first
 * event creates the row; a closing status closes it (once: later events change nothing); an open status
 * replaces an older open status only (by the provider's event time).
 */
export async function recordDisputeEvent(
  tx: Sql,
  event: { id: string; created: number; disputeId: string; status: string; amountCents: number; invoiceId: string; workspaceId: string; at: Date },
): Promise<DisputeRow> {
  const outcome = outcomeOf(event.status);
  await tx`
    INSERT INTO disputes (id, invoice_id, workspace_id, status, amount_cents, opened_at, closed_at, outcome, last_event_id, last_event_created)
    VALUES (${event.disputeId}, ${event.invoiceId}, ${event.workspaceId}, ${event.status}, ${event.amountCents}, ${event.at},
            ${outcome ? event.at : null}, ${outcome}, ${event.id}, ${event.created})
    ON CONFLICT (id) DO NOTHING`;
  const [row] = await tx<DisputeRow[]>`SELECT * FROM disputes WHERE id = ${event.disputeId}`;
  if (row!.outcome !== null || row!.last_event_id === event.id) return row!;
  if (outcome) {
    const [closed] = await tx<DisputeRow[]>`
      UPDATE disputes SET status = ${event.status}, outcome = ${outcome}, closed_at = ${event.at}, amount_cents = ${event.amountCents},
        last_event_id = ${event.id}, last_event_created = ${event.created}
      WHERE id = ${event.disputeId} RETURNING *`;
    return closed!;
  }
  if (event.created < Number(row!.last_event_created)) return row!;
  const [updated] = await tx<DisputeRow[]>`
    UPDATE disputes SET status = ${event.status}, amount_cents = ${event.amountCents}, last_event_id = ${event.id}, last_event_created = ${event.created}
    WHERE id = ${event.disputeId} RETURNING *`;
  return updated!;
}

/** The invoice's latest dispute, for `dispute: {id, status} | null` on invoices. */
export async function disputesOf(sql: Sql, invoiceIds: string[]): Promise<Map<string, DisputeRow>> {
  const byInvoice = new Map<string, DisputeRow>();
  if (invoiceIds.length === 0) return byInvoice;
  const rows = await sql<DisputeRow[]>`
    SELECT DISTINCT ON (invoice_id) * FROM disputes WHERE invoice_id IN ${sql(invoiceIds)} ORDER BY invoice_id, opened_at DESC, id`;
  for (const row of rows) byInvoice.set(row.invoice_id, row);
  return byInvoice;
}

/** A dispute that blocks refunds of the invoice: one still open, or one lost (the bank already returned the money). */
export async function blockingDispute(tx: Tx | Sql, invoiceId: string): Promise<DisputeRow | undefined> {
  const [row] = await tx<DisputeRow[]>`
    SELECT * FROM disputes WHERE invoice_id = ${invoiceId} AND (outcome IS NULL OR outcome = 'lost') ORDER BY opened_at DESC LIMIT 1`;
  return row;
}
