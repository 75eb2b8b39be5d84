import type { Sql } from '../ledger/db.js';
import { type BalanceRead, type BalanceView, readBalance } from '../ledger/credits.js';
import { expireStaleHolds } from '../ledger/spend.js';

/**
 * A workspace's balance at its current time (GET /v1/credits, and the operator's view of any workspace):
 * lots in burn order. Abandoned holds (over an hour old) the sweep has not reached yet are released first,
 * then the balance is read again.
 */
export async function currentBalance(sql: Sql, workspaceId: string): Promise<BalanceView> {
  return (await currentBalanceRead(sql, workspaceId)).balance;
}

/** currentBalance as read, with its JSON text (what GET /v1/credits sends without parsing it). */
export async function currentBalanceRead(sql: Sql, workspaceId: string): Promise<BalanceRead> {
  const read = await readBalance(sql, workspaceId);
  if (!read.lapsedHolds) return read;
  await expireStaleHolds(sql, { workspaceId });
  return readBalance(sql, workspaceId);
}
