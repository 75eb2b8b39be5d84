import type { Sql } from './db.js';

/*
 * A grant runs once per business key through onceInLedger, which keeps its result ({ lotId }) in
 * ledger_operations under that key: finding a grant's lot is a primary-key lookup, never a scan of the
 * workspace's journal (lot expiry runs this for every lot, in the worker's loop).
 */

/** The lot a grant created, found by the grant's business key (undefined when that grant never ran). */
export async function lotOfGrant(sql: Sql, workspaceId: string, grantKey: string): Promise<number | undefined> {
  const [row] = await sql<{ lot_id: string | null }[]>`
    SELECT result->>'lotId' AS lot_id FROM ledger_operations WHERE key = ${grantKey} AND workspace_id = ${workspaceId}`;
  return row?.lot_id ? Number(row.lot_id) : undefined;
}

/** Credits still available (unspent, unheld, unexpired, unfrozen) at `at` in the lots of the given grants. */
export async function availableOfGrants(sql: Sql, workspaceId: string, grantKeys: string[], at: Date): Promise<number> {
  if (grantKeys.length === 0) return 0;
  const [row] = await sql<{ available: number }[]>`
    SELECT coalesce(sum(lot_available(l, ${at})), 0)::int AS available FROM lots l
    WHERE l.workspace_id = ${workspaceId} AND l.id IN (
      SELECT (o.result->>'lotId')::bigint FROM ledger_operations o
      WHERE o.key IN ${sql(grantKeys)} AND o.workspace_id = ${workspaceId} AND o.result ? 'lotId')`;
  return row!.available;
}
