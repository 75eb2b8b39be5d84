import type { Sql } from './db.js';

/** One operator action as recorded (SPEC §10 audit log). */
export interface AuditRecord {
  operatorKeyId: string;
  /** Real time the request arrived (never a test clock's). */
  at: Date;
  method: string;
  path: string;
  /** The workspace the action concerns, when there is one. */
  workspaceId: string | null;
  /** The object acted on (workspace, invoice, clock, key id…), when there is one. */
  target: string | null;
  /** The request body (JSON), secrets redacted; null when there was none. */
  request: unknown;
  status: number;
  /** 'ok' for a 2xx answer, else the problem's code. */
  outcome: string;
}

export interface AuditEntryView {
  id: string;
  operator_key_id: string;
  at: string;
  method: string;
  path: string;
  workspace_id: string | null;
  target: string | null;
  request: unknown;
  status: number;
  outcome: string;
}

export async function recordAudit(sql: Sql, record: AuditRecord): Promise<void> {
  await sql`
    INSERT INTO audit_log (operator_key_id, at, method, path, workspace_id, target, request, status, outcome)
    VALUES (${record.operatorKeyId}, ${record.at}, ${record.method}, ${record.path}, ${record.workspaceId}, ${record.target},
            ${record.request === null || record.request === undefined ? null : sql.json(record.request as never)}, ${record.status}, ${record.outcome})`;
}

const auditId = (id: number) => `aud_${id}`;

/**
 * The audit log, newest first, optionally of one workspace; `cursor` is the id of the last entry of the
 * previous page. Null when the cursor is not an audit entry id.
 */
export async function listAudit(
  sql: Sql,
  opts: { workspaceId?: string; limit: number; cursor?: string },
): Promise<{ data: AuditEntryView[]; has_more: boolean; next_cursor: string | null } | null> {
  const before = opts.cursor === undefined ? null : Number(opts.cursor.replace(/^aud_/, ''));
  if (before !== null && (!/^aud_\d+$/.test(opts.cursor!) || !Number.isSafeInteger(before))) return null;
  const rows = await sql<{
    id: number; operator_key_id: string; at: Date; method: string; path: string; workspace_id: string | null;
    target: string | null; request: unknown; status: number; outcome: string;
  }[]>`
    SELECT id, operator_key_id, at, method, path, workspace_id, target, request, status, outcome FROM audit_log
    WHERE true ${opts.workspaceId === undefined ? sql`` : sql`AND workspace_id = ${opts.workspaceId}`}
      ${before === null ? sql`` : sql`AND id < ${before}`}
    ORDER BY id DESC LIMIT ${opts.limit + 1}`;
  const has_more = rows.length > opts.limit;
  const data = rows.slice(0, opts.limit).map((r) => ({ ...r, id: auditId(r.id), at: r.at.toISOString() }));
  return { data, has_more, next_cursor: has_more ? data[data.length - 1]!.id : null };
}

/** The workspace an invoice belongs to (an action on an invoice concerns its workspace). */
export async function workspaceOfInvoice(sql: Sql, invoiceId: string): Promise<string | null> {
  const [row] = await sql<{ workspace_id: string }[]>`SELECT workspace_id FROM invoices WHERE id = ${invoiceId}`;
  return row?.workspace_id ?? null;
}
