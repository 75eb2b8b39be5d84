import type { Sql } from './db.js';

/** The lot a grant created, found by the grant's business key (undefined when that grant never ran). */
export async function lotOfGrant(sql: Sql, workspaceId: string, grantKey: string): Promise<number | undefined> {
  const [row] = await sql<{ lot_id: string }[]>`
    SELECT lot_id FROM ledger_entries WHERE workspace_id = ${workspaceId} AND kind = 'grant' AND operation_key = ${grantKey} LIMIT 1`;
  return row ? Number(row.lot_id) : undefined;
}

/** Credits still available (unspent, unheld, unexpired, unfrozen) at `at` in the lots of the given grants. */
export async function availableOfGrants(sql: Sql, workspaceId: string, grantKeys: string[], at: Date): Promise<number> {
  if (grantKeys.length === 0) return 0;
  const [row] = await sql<{ available: number }[]>`
    SELECT coalesce(sum(lot_available(l, ${at})), 0)::int AS available FROM lots l
    WHERE l.workspace_id = ${workspaceId} AND l.id IN (
      SELECT lot_id FROM ledger_entries WHERE workspace_id = ${workspaceId} AND kind = 'grant' AND operation_key IN ${sql(grantKeys)})`;
  return row!.available;
}
