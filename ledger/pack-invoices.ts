import { LIVE_STATUSES } from '../domain/lifecycle/status.js';
import type { Sql } from './db.js';
import type { Tx } from './operations.js';

/**
 * Open pack invoices (waiting for 3-D Secure) that have lapsed: created `ttlMs` (ms) or more before `asOf` (default
 * their workspace's time), or in a workspace with no live subscription left to deliver the pack to (SPEC §1);
 * with `onlyWithoutLive`, only the latter. Optionally only a test clock's workspaces, one workspace, or the
 * workspace of one subscription; oldest first, at most `limit`. Uses the partial index invoices_open_packs
 * (migration 1732400000029).
 */
export async function lapsedPackInvoiceIds(
  sql: Sql,
  scope: {
    ttlMs: number; asOf?: Date; onlyWithoutLive?: boolean; testClockId?: string; workspaceId?: string; subscriptionId?: string; limit: number;
  },
): Promise<string[]> {
  const noLive = sql`NOT EXISTS (SELECT 1 FROM subscriptions s WHERE s.workspace_id = w.id AND s.status IN ${sql(LIVE_STATUSES)})`;
  const rows = await sql<{ id: string }[]>`
    SELECT i.id FROM invoices i JOIN workspaces w ON w.id = i.workspace_id
    WHERE i.status = 'open' AND i.kind = 'pack'
      ${scope.testClockId ? sql`AND w.test_clock_id = ${scope.testClockId}` : sql``}
      ${scope.workspaceId ? sql`AND i.workspace_id = ${scope.workspaceId}` : sql``}
      ${scope.subscriptionId ? sql`AND i.workspace_id = (SELECT workspace_id FROM subscriptions WHERE id = ${scope.subscriptionId})` : sql``}
      AND ${scope.onlyWithoutLive ? noLive
        : sql`(i.created_at <= coalesce(${scope.asOf ?? null}::timestamptz, workspace_now(w.id)) - ${scope.ttlMs} * interval '1 millisecond' OR ${noLive})`}
    ORDER BY i.created_at LIMIT ${scope.limit}`;
  return rows.map((r) => r.id);
}

/**
 * The customer balance (cents) held by the workspace's open pack invoices that lapse (`ttlMs` after their
 * purchase) at or before `at`: given back by then unless paid, so the charge due at `at` can use it.
 */
export async function balanceReturnedByPacksBefore(sql: Sql, workspaceId: string, at: Date, ttlMs: number): Promise<number> {
  const [row] = await sql<{ cents: number }[]>`
    SELECT coalesce(sum(balance_applied_cents), 0)::int AS cents FROM invoices
    WHERE workspace_id = ${workspaceId} AND status = 'open' AND kind = 'pack'
      AND created_at <= ${at}::timestamptz - ${ttlMs} * interval '1 millisecond'`;
  return row!.cents;
}

/** Whether the pack invoice's lot was granted (grantLot's operation key `<invoice>:pack`, billing/packs.ts). */
export async function packDelivered(sql: Sql | Tx, invoiceId: string): Promise<boolean> {
  const [row] = await sql`SELECT 1 FROM ledger_operations WHERE key = ${`${invoiceId}:pack`}`;
  return row !== undefined;
}
