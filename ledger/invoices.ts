import { randomBytes } from 'node:crypto';
import type { Sql } from './db.js';

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
  hosted_url: string | null;
  pdf_url: string | null;
  last_payment_error: string | null;
  metadata: Record<string, unknown>;
  created_at: Date;
  paid_at: Date | null;
}

export interface NewInvoice {
  businessKey: string;
  workspaceId: string;
  subscriptionId: string | null;
  kind: InvoiceKind;
  lines: InvoiceLine[];
  createdAt: Date;
  metadata?: Record<string, unknown>;
}

/**
 * Creates the invoice for a business operation, or returns the one an earlier attempt created:
 * the business key is unique, so a retried charge never makes a second invoice.
 */
export async function draftInvoice(sql: Sql, inv: NewInvoice): Promise<InvoiceRow> {
  const subtotal = inv.lines.reduce((sum, line) => sum + line.amount_cents, 0);
  const id = `in_${randomBytes(12).toString('hex')}`;
  await sql`
    INSERT INTO invoices (id, business_key, workspace_id, subscription_id, kind, status, lines,
                          subtotal_cents, tax_cents, total_cents, amount_due_cents, metadata, created_at)
    VALUES (${id}, ${inv.businessKey}, ${inv.workspaceId}, ${inv.subscriptionId}, ${inv.kind}, 'draft',
            ${sql.json(inv.lines as never)}, ${subtotal}, 0, ${subtotal}, ${Math.max(subtotal, 0)},
            ${sql.json((inv.metadata ?? {}) as never)}, ${inv.createdAt})
    ON CONFLICT (business_key) DO NOTHING`;
  const [row] = await sql<InvoiceRow[]>`SELECT * FROM invoices WHERE business_key = ${inv.businessKey}`;
  return row!;
}

/** Settles an invoice's payment state; a paid invoice never goes back. Returns the invoice as stored. */
export async function markInvoice(
  sql: Sql,
  id: string,
  update: { status: InvoiceStatus; paidAt?: Date; hostedUrl?: string; error?: string },
): Promise<InvoiceRow> {
  await sql`
    UPDATE invoices SET status = ${update.status}, paid_at = coalesce(${update.paidAt ?? null}, paid_at),
      hosted_url = coalesce(${update.hostedUrl ?? null}, hosted_url), last_payment_error = ${update.error ?? null}
    WHERE id = ${id} AND status <> 'paid'`;
  const [row] = await sql<InvoiceRow[]>`SELECT * FROM invoices WHERE id = ${id}`;
  return row!;
}

export async function listInvoices(sql: Sql, workspaceId: string): Promise<InvoiceRow[]> {
  return sql<InvoiceRow[]>`
    SELECT * FROM invoices WHERE workspace_id = ${workspaceId} AND status <> 'draft'
    ORDER BY created_at DESC, id DESC LIMIT 100`;
}
