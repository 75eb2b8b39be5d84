import type { Sql } from './db.js';
import type { InvoiceRow } from './invoices.js';

/**
 * One page of the workspace's invoices (drafts excluded), newest first as GET /v1/invoices lists them, after
 * the invoice `after` (its id; undefined: from the newest). Keyset on (created_at, seq), so a download of the
 * whole list reads each page with one index probe (invoices_by_workspace). `next`: the cursor of the next
 * page, undefined after the last. An unknown `after` reads nothing.
 */
export async function invoicesAfter(sql: Sql, workspaceId: string, after: string | undefined, limit: number): Promise<{ rows: InvoiceRow[]; next: string | undefined }> {
  let cursor = sql``;
  if (after !== undefined) {
    const [anchor] = await sql<{ created_at: Date; seq: number }[]>`
      SELECT created_at, seq FROM invoices WHERE id = ${after} AND workspace_id = ${workspaceId}`;
    if (!anchor) return { rows: [], next: undefined };
    cursor = sql`AND (created_at, seq) < (${anchor.created_at}, ${anchor.seq})`;
  }
  const rows = await sql<InvoiceRow[]>`
    SELECT * FROM invoices WHERE workspace_id = ${workspaceId} AND status <> 'draft' ${cursor}
    ORDER BY created_at DESC, seq DESC LIMIT ${limit + 1}`;
  const page = rows.slice(0, limit);
  return { rows: page, next: rows.length > limit ? page[page.length - 1]!.id : undefined };
}
