import { randomBytes } from 'node:crypto';
import { applyCustomerBalance } from '../domain/billing/customer-balance.js';
import { repriceUnusedTime } from '../domain/billing/refund-aware-credit.js';
import type { Sql } from './db.js';
import { type Page, page } from './history.js';
import { settleOwedTakebackFirst } from './owed-takebacks.js';
import { lockPeriodCredited, periodInForceOf } from './period-in-force.js';
import type { InvoiceSeller } from './seller.js';

export type InvoiceKind = 'subscription' | 'upgrade' | 'interval_switch' | 'pack';
export type InvoiceStatus = 'draft' | 'open' | 'paid' | 'void';

export interface InvoiceLine {
  description: string;
  amount_cents: number;
}

export interface InvoiceRow {
  id: string;
  business_key: string;
  workspace_id: string;
  subscription_id: string | null;
  kind: InvoiceKind;
  status: InvoiceStatus;
  lines: InvoiceLine[];
  subtotal_cents: number;
  tax_cents: number;
  total_cents: number;
  amount_due_cents: number;
  balance_applied_cents: number;
  hosted_url: string | null;
  pdf_url: string | null;
  /** The provider's invoice (Stripe `in_…`) once a charge attempt made one. */
  provider_invoice_id: string | null;
  last_payment_error: string | null;
  metadata: Record<string, unknown>;
  created_at: Date;
  paid_at: Date | null;
  /**
   * The human number (PREFIX-YEAR-NNNNNN, sequential per prefix and year of created_at), set in the
   * transaction that finalizes the invoice (draft → open or paid; migration 0016's trigger). Null on a draft
   * and on a draft voided before finalization; a finalized invoice that is voided keeps its number.
   */
  number: string | null;
  /** The seller as it was at finalization; null until then. */
  seller: InvoiceSeller | null;
}

export interface NewInvoice {
  businessKey: string;
  workspaceId: string;
  subscriptionId: string | null;
  kind: InvoiceKind;
  lines: InvoiceLine[];
  createdAt: Date;
  metadata?: Record<string, unknown>;
  /**
   * What the customer confirmed as due (cents, SPEC §10 "Preview before paying"): the draft is refused
   * (AmountDueChanged, nothing written) when the customer balance applied now leaves a different amount due.
   */
  expectedAmountDueCents?: number;
}

/**
 * A draft refused because its amount due (cents, after the customer balance) is not what the customer
 * confirmed: something spent or added to the balance since the preview. Nothing was written.
 */
export class AmountDueChanged extends Error {
  constructor(readonly amountDueCents: number, readonly expectedAmountDueCents: number) {
    super(`the amount due is now ${amountDueCents}, not ${expectedAmountDueCents}`);
    this.name = 'AmountDueChanged';
  }
}

/**
 * Creates the invoice for a business operation, or returns the one an earlier attempt created: the
 * business key is unique, so a retried charge never makes a second invoice. In the same transaction the
 * customer balance pays what it can, and a negative total (credits above charges) adds to it. An upgrade's or
 * interval switch's unused-time credit is re-checked against the refunds of the period in force as they stand
 * now, under the locks refunds take (lowered, never raised: repriceUnusedTime, SPEC §4, §10). With
 * `expectedAmountDueCents`, a new draft whose amount due differs throws AmountDueChanged (rolled back).
 */
export async function draftInvoice(sql: Sql, inv: NewInvoice): Promise<InvoiceRow> {
  return sql.begin(async (tx) => {
    // A refund recorded after the workflow read the refunds (before this draft) is seen here, and one recorded after
    // this commits sees this invoice's credit (billing/refunds.ts): both hold the credited invoice's row.
    const creditsUnusedTime = (inv.kind === 'upgrade' || inv.kind === 'interval_switch') && inv.subscriptionId !== null;
    if (creditsUnusedTime) await lockPeriodCredited(tx, inv.workspaceId, inv.subscriptionId!);
    // Lock first, then look: a concurrent attempt with the same key waits here and finds the first invoice.
    const [workspace] = await tx<{ customer_balance_cents: number }[]>`
      SELECT customer_balance_cents FROM workspaces WHERE id = ${inv.workspaceId} FOR UPDATE`;
    const [existing] = await tx<InvoiceRow[]>`SELECT * FROM invoices WHERE business_key = ${inv.businessKey}`;
    if (existing) return existing;
    const lines = creditsUnusedTime ? repriceUnusedTime(inv.lines, await periodInForceOf(tx, inv.workspaceId, inv.subscriptionId!)) : inv.lines;
    const subtotal = lines.reduce((sum, line) => sum + line.amount_cents, 0);
    const total = subtotal; // tax arrives with billing addresses
    const { appliedCents: applied, amountDueCents: amountDue, balanceAfterCents: balanceAfter } = applyCustomerBalance(total, workspace!.customer_balance_cents);
    // Compared under the workspace lock the balance is applied under: no purchase can spend it in between.
    if (inv.expectedAmountDueCents !== undefined && amountDue !== inv.expectedAmountDueCents) {
      throw new AmountDueChanged(amountDue, inv.expectedAmountDueCents);
    }
    const owed = await settleOwedTakebackFirst(tx, inv.workspaceId, balanceAfter - workspace!.customer_balance_cents);
    await tx`UPDATE workspaces SET customer_balance_cents = ${balanceAfter - owed} WHERE id = ${inv.workspaceId}`;
    const [row] = await tx<InvoiceRow[]>`
      INSERT INTO invoices (id, business_key, workspace_id, subscription_id, kind, status, lines, subtotal_cents,
                            tax_cents, total_cents, amount_due_cents, balance_applied_cents, metadata, created_at)
      VALUES (${`in_${randomBytes(12).toString('hex')}`}, ${inv.businessKey}, ${inv.workspaceId}, ${inv.subscriptionId},
              ${inv.kind}, 'draft', ${tx.json(lines as never)}, ${subtotal}, 0, ${total}, ${amountDue},
              ${applied}, ${tx.json((inv.metadata ?? {}) as never)}, ${inv.createdAt})
      RETURNING *`;
    return row!;
  });
}

/** The workspace's customer balance (cents the next invoices draw on). */
export async function customerBalanceCents(sql: Sql, workspaceId: string): Promise<number> {
  const [row] = await sql<{ cents: number }[]>`SELECT customer_balance_cents AS cents FROM workspaces WHERE id = ${workspaceId}`;
  return row?.cents ?? 0;
}

export async function getInvoice(sql: Sql, id: string): Promise<InvoiceRow | undefined> {
  const [row] = await sql<InvoiceRow[]>`SELECT * FROM invoices WHERE id = ${id}`;
  return row;
}

/**
 * One invoice as its reader may see it: any invoice for the operator (workspaceId null), only its own for a
 * workspace; drafts are nobody's to see (they are not issued yet). Undefined otherwise (a 404).
 */
export async function readableInvoice(sql: Sql, id: string, workspaceId: string | null): Promise<InvoiceRow | undefined> {
  const [row] = await sql<InvoiceRow[]>`
    SELECT * FROM invoices WHERE id = ${id} AND status <> 'draft' AND (${workspaceId}::text IS NULL OR workspace_id = ${workspaceId})`;
  return row;
}

/** Settles an invoice's payment state; a paid invoice never goes back. Returns the invoice as stored. */
export async function markInvoice(
  sql: Sql,
  id: string,
  update: { status: InvoiceStatus; paidAt?: Date; hostedUrl?: string; pdfUrl?: string; providerInvoiceId?: string; error?: string },
): Promise<InvoiceRow> {
  await sql`
    UPDATE invoices SET status = ${update.status}, paid_at = coalesce(${update.paidAt ?? null}, paid_at),
      hosted_url = coalesce(${update.hostedUrl ?? null}, hosted_url), pdf_url = coalesce(${update.pdfUrl ?? null}, pdf_url),
      provider_invoice_id = coalesce(${update.providerInvoiceId ?? null}, provider_invoice_id),
      last_payment_error = ${update.error ?? null}
    WHERE id = ${id} AND status <> 'paid'`;
  const [row] = await sql<InvoiceRow[]>`SELECT * FROM invoices WHERE id = ${id}`;
  return row!;
}

/** Voids an unpaid invoice and gives back the customer balance it had used (take-backs still owed first). Idempotent. */
export async function voidInvoice(sql: Sql, id: string): Promise<void> {
  await sql.begin(async (tx) => {
    const [voided] = await tx<{ workspace_id: string; balance_applied_cents: number }[]>`
      UPDATE invoices SET status = 'void' WHERE id = ${id} AND status IN ('draft', 'open')
      RETURNING workspace_id, balance_applied_cents`;
    if (voided && voided.balance_applied_cents > 0) {
      const owed = await settleOwedTakebackFirst(tx, voided.workspace_id, voided.balance_applied_cents);
      await tx`UPDATE workspaces SET customer_balance_cents = customer_balance_cents + ${voided.balance_applied_cents - owed}
               WHERE id = ${voided.workspace_id}`;
    }
  });
}

/**
 * A page of the workspace's invoices (drafts excluded), newest first, by invoices_by_workspace; `after` is the id of
 * the last invoice of the previous page; null when it is not one of the workspace's invoices.
 */
export async function pageInvoices(sql: Sql, workspaceId: string, opts: { limit: number; after?: string }): Promise<Page<InvoiceRow> | null> {
  let cursor = sql``;
  if (opts.after !== undefined) {
    const [anchor] = await sql<{ created_at: Date; seq: number }[]>`
      SELECT created_at, seq FROM invoices WHERE id = ${opts.after} AND workspace_id = ${workspaceId} AND status <> 'draft'`;
    if (!anchor) return null;
    cursor = sql`AND (created_at, seq) < (${anchor.created_at}, ${anchor.seq})`;
  }
  const rows = await sql<InvoiceRow[]>`
    SELECT * FROM invoices WHERE workspace_id = ${workspaceId} AND status <> 'draft' ${cursor}
    ORDER BY created_at DESC, seq DESC LIMIT ${opts.limit + 1}`;
  return page(rows, opts.limit);
}

export async function listInvoices(sql: Sql, workspaceId: string): Promise<InvoiceRow[]> {
  return sql<InvoiceRow[]>`
    SELECT * FROM invoices WHERE workspace_id = ${workspaceId} AND status <> 'draft'
    ORDER BY created_at DESC, seq DESC LIMIT 100`;
}
