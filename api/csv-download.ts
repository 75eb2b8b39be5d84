import { stringify } from 'csv-stringify/sync';
import type { Context } from 'hono';
import type { Sql } from '../ledger/db.js';
import { type LedgerEntryView, listCreations, listLedger } from '../ledger/history.js';
import { invoicesAfter } from '../ledger/exports.js';
import type { CreationView } from '../ledger/spend.js';
import { refundViewsOf } from './routes/admin-invoices.js';
import { presentInvoice } from './routes/invoices.js';

/**
 * CSV downloads of the workspace's lists (SPEC §11: `Accept: text/csv` on GET /v1/ledger, /v1/creations and
 * /v1/invoices). The whole list, newest first as the JSON list, streamed a page at a time (keyset cursor, so
 * the memory used does not grow with the list), RFC 4180 (csv-stringify: CRLF records, quoting where needed)
 * with a header row. Values are exact: integers as integers (credits, cents), instants as ISO 8601 UTC,
 * nested values (lines, lots, request, metadata) as JSON, null as an empty field.
 */

/** The media type of the downloads, as declared in the routes' OpenAPI responses. */
export const CSV_MEDIA_TYPE = 'text/csv';

/** True when the request's Accept header asks for text/csv (with a q above 0). */
export function wantsCsv(c: Context): boolean {
  const accept = c.req.header('accept');
  if (!accept) return false;
  return accept.split(',').some((range) => {
    const [type, ...params] = range.split(';').map((p) => p.trim().toLowerCase());
    if (type !== CSV_MEDIA_TYPE) return false;
    const q = params.find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

type Cell = string | number | null;
interface Column<T> { header: string; value: (row: T) => Cell }

/** Reads one page after a cursor (undefined: the first page); `next` undefined: it was the last. */
type PageReader<T> = (after: string | undefined) => Promise<{ rows: T[]; next: string | undefined }>;

const json = (value: unknown) => JSON.stringify(value);

/** A text/csv attachment streamed from pages: the header row first, then each page's records as it is read. */
function csvResponse<T>(c: Context, filename: string, columns: Column<T>[], read: PageReader<T>): Response {
  const options = { record_delimiter: 'windows' as const };
  const encoder = new TextEncoder();
  let cursor: string | undefined;
  let done = false;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(encoder.encode(stringify([columns.map((col) => col.header)], options)));
    },
    async pull(controller) {
      if (done) return;
      const page = await read(cursor);
      const records = page.rows.map((row) => columns.map((col) => col.value(row) ?? ''));
      if (records.length > 0) controller.enqueue(encoder.encode(stringify(records.map((r) => r.map(String)), options)));
      cursor = page.next;
      if (cursor === undefined) {
        done = true;
        controller.close();
      }
    },
  });
  return c.body(body, 200, {
    'content-type': `${CSV_MEDIA_TYPE}; charset=utf-8; header=present`,
    'content-disposition': `attachment; filename="${filename}"`,
    'cache-control': 'no-store',
  });
}

const day = (at: Date) => at.toISOString().slice(0, 10);

export const LEDGER_CSV_COLUMNS: Column<LedgerEntryView>[] = [
  { header: 'id', value: (e) => e.id },
  { header: 'at', value: (e) => e.at },
  { header: 'kind', value: (e) => e.kind },
  { header: 'lot', value: (e) => e.lot },
  { header: 'amount', value: (e) => e.amount },
  { header: 'balance_change', value: (e) => e.balance_change },
  { header: 'balance_after', value: (e) => e.balance_after },
  { header: 'operation', value: (e) => e.operation },
  { header: 'reason', value: (e) => e.reason },
];

/** GET /v1/ledger as CSV: every journal entry, newest first (the columns of the JSON list). */
export function ledgerCsv(c: Context, sql: Sql, workspaceId: string, now: Date = new Date()): Response {
  return csvResponse(c, `ledger-${workspaceId}-${day(now)}.csv`, LEDGER_CSV_COLUMNS, async (after) => {
    const page = (await listLedger(sql, workspaceId, { limit: 1000, after }))!;
    return { rows: page.data, next: page.has_more ? page.next_cursor! : undefined };
  });
}

export const CREATION_CSV_COLUMNS: Column<CreationView>[] = [
  { header: 'id', value: (x) => x.id },
  { header: 'created_at', value: (x) => x.created_at },
  { header: 'status', value: (x) => x.status },
  { header: 'model', value: (x) => x.model },
  { header: 'quoted', value: (x) => x.quoted },
  { header: 'held', value: (x) => x.held },
  { header: 'charged', value: (x) => x.charged },
  { header: 'released', value: (x) => x.released },
  { header: 'variance', value: (x) => x.variance },
  { header: 'expires_at', value: (x) => x.expires_at },
  { header: 'api_key_id', value: (x) => x.api_key?.id ?? null },
  { header: 'api_key_name', value: (x) => x.api_key?.name ?? null },
  { header: 'external_id', value: (x) => x.external_id },
  { header: 'request', value: (x) => (x.request === null ? null : json(x.request)) },
  { header: 'metadata', value: (x) => json(x.metadata) },
  { header: 'lots', value: (x) => json(x.lots) },
];

/** GET /v1/creations as CSV: every creation, newest first, its receipt (`lots`) and request as JSON. */
export function creationsCsv(c: Context, sql: Sql, workspaceId: string, now: Date = new Date()): Response {
  return csvResponse(c, `creations-${workspaceId}-${day(now)}.csv`, CREATION_CSV_COLUMNS, async (after) => {
    const page = (await listCreations(sql, workspaceId, { limit: 100, after }))!;
    return { rows: page.data, next: page.has_more ? page.next_cursor! : undefined };
  });
}

type InvoiceView = ReturnType<typeof presentInvoice>;
export const INVOICE_CSV_COLUMNS: Column<InvoiceView>[] = [
  { header: 'id', value: (i) => i.id },
  { header: 'number', value: (i) => i.number },
  { header: 'created_at', value: (i) => i.created_at },
  { header: 'kind', value: (i) => i.kind },
  { header: 'status', value: (i) => i.status },
  { header: 'subtotal_cents', value: (i) => i.subtotal_cents },
  { header: 'tax_cents', value: (i) => i.tax_cents },
  { header: 'total_cents', value: (i) => i.total_cents },
  { header: 'amount_due_cents', value: (i) => i.amount_due_cents },
  { header: 'paid_at', value: (i) => i.paid_at },
  { header: 'refunded_cents', value: (i) => i.credit_notes.reduce((t, n) => t + n.amount_cents, 0) },
  { header: 'dispute_status', value: (i) => i.dispute?.status ?? null },
  { header: 'hosted_url', value: (i) => i.hosted_url },
  { header: 'pdf_url', value: (i) => i.pdf_url },
  { header: 'lines', value: (i) => json(i.lines) },
];

/** GET /v1/invoices as CSV: every invoice (not only the JSON list's latest 100), newest first; amounts in cents. */
export function invoicesCsv(c: Context, sql: Sql, workspaceId: string, now: Date = new Date()): Response {
  return csvResponse(c, `invoices-${workspaceId}-${day(now)}.csv`, INVOICE_CSV_COLUMNS, async (after) => {
    const page = await invoicesAfter(sql, workspaceId, after, 200);
    const refunds = await refundViewsOf(sql, page.rows.map((row) => row.id));
    return { rows: page.rows.map((row) => presentInvoice(row, refunds(row.id))), next: page.next };
  });
}
