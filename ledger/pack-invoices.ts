import { LIVE_STATUSES } from '../domain/lifecycle/status.js';
import type { Sql } from './db.js';
import type { Tx } from './operations.js';

/**
 * Open pack invoices (waiting for 3-D Secure) that have lapsed by their workspace's time: created `ttlMs` (ms)
 * or more ago, or in a workspace with no live subscription left to deliver the pack to (SPEC §1). Optionally
 * only a test clock's workspaces or one workspace; oldest first, at most `limit`. Uses the partial index
 * invoices_open_packs (migration 1732400000029).
 */
export async function lapsedPackInvoiceIds(
  sql: Sql,
  scope: { ttlMs: number; testClockId?: string; workspaceId?: string; limit: number },
): Promise<string[]> {
  const rows = await sql<{ id: string }[]>`
    SELECT i.id FROM invoices i JOIN workspaces w ON w.id = i.workspace_id
    WHERE i.status = 'open' AND i.kind = 'pack'
      ${scope.testClockId ? sql`AND w.test_clock_id = ${scope.testClockId}` : sql``}
      ${scope.workspaceId ? sql`AND i.workspace_id = ${scope.workspaceId}` : sql``}
      AND (i.created_at <= workspace_now(w.id) - ${scope.ttlMs} * interval '1 millisecond'
        OR NOT EXISTS (SELECT 1 FROM subscriptions s WHERE s.workspace_id = w.id AND s.status IN ${sql(LIVE_STATUSES)}))
    ORDER BY i.created_at LIMIT ${scope.limit}`;
  return rows.map((r) => r.id);
}

/** Whether the pack invoice's lot was granted (grantLot's operation key `<invoice>:pack`, billing/packs.ts). */
export async function packDelivered(sql: Sql | Tx, invoiceId: string): Promise<boolean> {
  const [row] = await sql`SELECT 1 FROM ledger_operations WHERE key = ${`${invoiceId}:pack`}`;
  return row !== undefined;
}
