import { createRoute, z } from '@hono/zod-openapi';
import { pageInvoices, readableInvoice, type InvoiceRow } from '../../ledger/invoices.js';
import type { Sql } from '../../ledger/db.js';
import { upcomingInvoiceOf } from '../../billing/upcoming.js';
import { invalid, notFound } from '../errors.js';
import { CreditNote, type InvoiceRefundView, refundViewsOf } from './admin-invoices.js';
import { requireWorkspace } from '../auth.js';
import { invoicesCsv, wantsCsv } from '../csv-download.js';
import { newRouter, type ApiDeps } from '../router.js';
import { bearer, Instant, listOf, pageQuery, Problem, problemResponses, TextLine } from '../schemas.js';

const notFoundResponse = { description: 'No such invoice (or not this workspace\'s)', content: { 'application/problem+json': { schema: Problem } } };

const InvoiceLine = z.object({ description: z.string(), amount_cents: z.number().int() }).openapi('InvoiceLine');

export const Invoice = z.object({
  id: z.string(),
  number: z.string().nullable().openapi({ description: 'Human number, sequential per seller and year (e.g. CE-2026-000123), given when the invoice is finalized; null only on an invoice voided before it was', example: 'CE-2026-000123' }),
  kind: z.enum(['subscription', 'upgrade', 'interval_switch', 'pack']),
  status: z.enum(['paid', 'open', 'void']),
  lines: z.array(InvoiceLine),
  subtotal_cents: z.number().int(),
  tax_cents: z.number().int(),
  total_cents: z.number().int(),
  amount_due_cents: z.number().int(),
  hosted_url: z.string().nullable(),
  pdf_url: z.string().nullable(),
  created_at: Instant,
  paid_at: Instant.nullable(),
  credit_notes: z.array(CreditNote).openapi({ description: 'Refunds and lost disputes of this invoice, oldest first (SPEC §10)' }),
  dispute: z.object({ id: z.string(), status: z.string() }).nullable().openapi({ description: 'The latest dispute (chargeback) of its payment, with the provider\'s status' }),
}).openapi('Invoice');

export const UpcomingInvoice = z.object({
  kind: z.literal('subscription'),
  reason: z.enum(['renewal', 'pause_end', 'dunning_retry']),
  invoice_id: z.string().nullable().openapi({ description: 'The open invoice a retry pays again (past due); null when not yet drafted' }),
  plan: z.string(),
  interval: z.enum(['month', 'year']),
  period_start: Instant,
  period_end: Instant,
  lines: z.array(InvoiceLine),
  subtotal_cents: z.number().int(),
  tax_cents: z.number().int(),
  total_cents: z.number().int(),
  balance_applied_cents: z.number().int(),
  amount_due_cents: z.number().int(),
  next_attempt_at: Instant.nullable().openapi({ description: 'When the charge is attempted; null while past due after the last scheduled retry' }),
}).openapi('UpcomingInvoice');

export function presentInvoice(row: InvoiceRow, refunds: InvoiceRefundView = { credit_notes: [], dispute: null }): z.infer<typeof Invoice> {
  return {
    id: row.id, number: row.number, kind: row.kind, status: row.status as 'paid' | 'open' | 'void', lines: row.lines,
    subtotal_cents: row.subtotal_cents, tax_cents: row.tax_cents, total_cents: row.total_cents,
    amount_due_cents: row.amount_due_cents, hosted_url: row.hosted_url, pdf_url: row.pdf_url,
    created_at: row.created_at.toISOString(), paid_at: row.paid_at?.toISOString() ?? null,
    ...refunds,
  };
}

/** GET /v1/invoices's query: the latest 100 when no limit is sent, as before pages existed. */
export const InvoiceQuery = pageQuery(100);
export const InvoiceList = listOf('InvoiceList', Invoice);

/** A page of the workspace's invoices as the API shows them (credit notes and dispute included); 400 for a foreign cursor. */
export async function invoicePage(sql: Sql, workspaceId: string, query: z.infer<typeof InvoiceQuery>): Promise<z.infer<typeof InvoiceList>> {
  const page = await pageInvoices(sql, workspaceId, { limit: query.limit, after: query.starting_after });
  if (!page) throw invalid('starting_after', 'not an invoice id of this workspace');
  const refunds = await refundViewsOf(sql, page.data.map((row) => row.id));
  return { ...page, data: page.data.map((row) => presentInvoice(row, refunds(row.id))) };
}

export function invoiceRoutes(deps: ApiDeps) {
  const router = newRouter();
  router.openapi(
    createRoute({ method: 'get', path: '/v1/invoices', security: bearer,
      request: { query: InvoiceQuery },
      responses: { 200: { description: 'A page of invoices, newest first; with `Accept: text/csv`, every invoice as a CSV download (RFC 4180, cents as integers)', content: { 'application/json': { schema: InvoiceList }, 'text/csv': { schema: z.string() } } }, ...problemResponses } }),
    async (c) => {
      const workspace = requireWorkspace(c.get('principal'));
      if (wantsCsv(c)) return invoicesCsv(c, deps.sql, workspace.id);
      return c.json(await invoicePage(deps.sql, workspace.id, c.req.valid('query')), 200);
    },
  );
  router.openapi(
    createRoute({ method: 'get', path: '/v1/invoices/upcoming', security: bearer,
      description: 'The next scheduled charge (SPEC §10): the renewal (at the scheduled downgrade\'s price when one is scheduled), '
        + 'the charge at a pause\'s end, or while past due the open invoice with `next_attempt_at`. '
        + '`balance_applied_cents` = min(customer balance, total) for a charge not yet drafted; 404 `no_upcoming_invoice` when '
        + 'canceling, canceled or incomplete. Computed by the functions that will make the charge; changes nothing.',
      responses: { 200: { description: 'The upcoming invoice', content: { 'application/json': { schema: UpcomingInvoice } } }, 404: notFoundResponse, ...problemResponses } }),
    async (c) => c.json(await upcomingInvoiceOf(deps, requireWorkspace(c.get('principal'))), 200),
  );
  // Registered after the fixed paths under /v1/invoices/ (e.g. /upcoming), which it would otherwise shadow.
  router.openapi(
    createRoute({ method: 'get', path: '/v1/invoices/{id}', security: bearer,
      description: 'One invoice: a workspace reads only its own (another\'s is 404); the operator reads any.',
      request: { params: z.object({ id: TextLine.min(1).max(64) }) },
      responses: { 200: { description: 'The invoice', content: { 'application/json': { schema: Invoice } } }, 404: notFoundResponse, ...problemResponses } }),
    async (c) => {
      const principal = c.get('principal');
      const row = await readableInvoice(deps.sql, c.req.valid('param').id, principal.kind === 'workspace' ? principal.workspace.id : null);
      if (!row) throw notFound('invoice');
      return c.json(presentInvoice(row, (await refundViewsOf(deps.sql, [row.id]))(row.id)), 200);
    },
  );
  return router;
}
