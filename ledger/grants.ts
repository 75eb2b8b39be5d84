import type { Sql } from './db.js';

/** The lot a grant created, found by the grant's business key (undefined when that grant never ran). */
export async function lotOfGrant(sql: Sql, workspaceId: string, grantKey: string): Promise<number | undefined> {
  const [row] = await sql<{ lot_id: string }[]>`
    SELECT lot_id FROM ledger_entries WHERE workspace_id = ${workspaceId} AND kind = 'grant' AND operation_key = ${grantKey} LIMIT 1`;
  return row ? Number(row.lot_id) : undefined;
}
