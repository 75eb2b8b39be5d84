import { formatLotId } from './credits.js';
import type { Sql } from './db.js';
import type { EntryKind } from './operations.js';
import { type CreationView, readCreation } from './spend.js';

export interface Page<T> {
  data: T[];
  has_more: boolean;
  next_cursor: string | null;
}

export interface LedgerEntryView {
  id: string;
  kind: EntryKind;
  lot: string;
  amount: number;
  balance_after: number;
  at: string;
  operation: string;
  /** The entry's effect on the available balance: its amount, except a capture's (0: held credits left the balance when held). */
  balance_change: number;
  /** Why (an adjustment's reason); null otherwise. */
  reason: string | null;
}

/** An entry's effect on the available balance (see LedgerEntryView.balance_change). */
export function balanceChange(kind: EntryKind, amount: number): number {
  return kind === 'capture' ? 0 : amount;
}

const entryId = (id: number) => `le_${id}`;

/** `limit + 1` rows fetched in list order as a page of `limit`: one more row than asked says another page follows. */
export function page<T extends { id: string }>(rows: T[], limit: number): Page<T> {
  const has_more = rows.length > limit;
  const data = rows.slice(0, limit);
  return { data, has_more, next_cursor: has_more ? data[data.length - 1]!.id : null };
}

/** A page of `items` (already in list order) after the one whose id is `after`; null when no item has that id. Pure. */
export function pageAfter<T extends { id: string }>(items: T[], opts: { limit: number; after?: string }): Page<T> | null {
  const start = opts.after === undefined ? 0 : items.findIndex((item) => item.id === opts.after) + 1;
  if (start === 0 && opts.after !== undefined) return null;
  return page(items.slice(start, start + opts.limit + 1), opts.limit);
}

/** The journal, newest first; `after` is the id of the last entry of the previous page. */
export async function listLedger(sql: Sql, workspaceId: string, opts: { limit: number; after?: string }): Promise<Page<LedgerEntryView> | null> {
  const afterId = opts.after === undefined ? null : Number(opts.after.replace(/^le_/, ''));
  if (afterId !== null && !Number.isSafeInteger(afterId)) return null;
  const rows = await sql<{ id: number; kind: EntryKind; lot_id: number; amount: number; balance_after: number; at: Date; operation_key: string; reason: string | null }[]>`
    SELECT id, kind, lot_id, amount, balance_after, at, operation_key, reason FROM ledger_entries
    WHERE workspace_id = ${workspaceId} ${afterId === null ? sql`` : sql`AND id < ${afterId}`}
    ORDER BY id DESC LIMIT ${opts.limit + 1}`;
  return page(rows.map((r) => ({
    id: entryId(r.id), kind: r.kind, lot: formatLotId(r.lot_id), amount: r.amount, balance_after: r.balance_after,
    at: r.at.toISOString(), operation: r.operation_key, balance_change: balanceChange(r.kind, r.amount), reason: r.reason,
  })), opts.limit);
}

/**
 * Creations with quoted and charged credits, their receipts and what each was (SPEC §11), newest first;
 * only those with the studio's `externalId` when given. `after` is the id of the last creation of the
 * previous page; null when it is not one of the workspace's creations.
 */
export async function listCreations(
  sql: Sql, workspaceId: string, opts: { limit: number; after?: string; externalId?: string },
): Promise<Page<CreationView> | null> {
  let cursor = sql``;
  if (opts.after !== undefined) {
    const [anchor] = await sql<{ created_at: Date; seq: number }[]>`
      SELECT created_at, seq FROM creations WHERE id = ${opts.after} AND workspace_id = ${workspaceId}`;
    if (!anchor) return null;
    cursor = sql`AND (created_at, seq) < (${anchor.created_at}, ${anchor.seq})`;
  }
  const ids = await sql<{ id: string }[]>`
    SELECT id FROM creations WHERE workspace_id = ${workspaceId} ${cursor}
      ${opts.externalId === undefined ? sql`` : sql`AND external_id = ${opts.externalId}`}
    ORDER BY created_at DESC, seq DESC LIMIT ${opts.limit + 1}`;
  const views = await Promise.all(ids.map((row) => readCreation(sql, workspaceId, row.id)));
  return page(views as CreationView[], opts.limit);
}

export interface NotificationView {
  id: string;
  kind: string;
  payload: unknown;
  at: string;
}

/**
 * A page of the workspace's alerts, newest first; `after` is the id of the last one of the previous page (ntf_…);
 * null when it is not one of the workspace's alerts.
 */
export async function pageNotifications(
  sql: Sql, workspaceId: string, opts: { limit: number; after?: string },
): Promise<Page<NotificationView> | null> {
  const afterId = opts.after === undefined ? null : Number(opts.after.replace(/^ntf_/, ''));
  if (afterId !== null && !Number.isSafeInteger(afterId)) return null;
  if (afterId !== null) {
    const [anchor] = await sql`SELECT 1 FROM notifications WHERE id = ${afterId} AND workspace_id = ${workspaceId} AND event_id IS NULL`;
    if (!anchor) return null;
  }
  const rows = await sql<{ id: number; kind: string; payload: unknown; at: Date }[]>`
    SELECT id, kind, payload, at FROM notifications WHERE workspace_id = ${workspaceId} AND event_id IS NULL
      ${afterId === null ? sql`` : sql`AND id < ${afterId}`}
    ORDER BY id DESC LIMIT ${opts.limit + 1}`;
  return page(rows.map((r) => ({ id: `ntf_${r.id}`, kind: r.kind, payload: r.payload, at: r.at.toISOString() })), opts.limit);
}

/** The workspace's alerts (SPEC §6), newest first; outgoing events (rows with an event_id) are in the delivery log instead. */
export async function listNotifications(sql: Sql, workspaceId: string, limit: number): Promise<NotificationView[]> {
  const rows = await sql<{ id: number; kind: string; payload: unknown; at: Date }[]>`
    SELECT id, kind, payload, at FROM notifications WHERE workspace_id = ${workspaceId} AND event_id IS NULL ORDER BY id DESC LIMIT ${limit}`;
  return rows.map((r) => ({ id: `ntf_${r.id}`, kind: r.kind, payload: r.payload, at: r.at.toISOString() }));
}
