import type { Sql } from '../ledger/db.js';
import { type BalanceView, getBalance, readBalance } from '../ledger/credits.js';
import { expireStaleHolds } from '../ledger/spend.js';

/**
 * A workspace's balance at its current time (GET /v1/credits, and the operator's view of any workspace):
 * lots in burn order. Abandoned holds (over an hour old) the sweep has not reached yet are released first,
 * then the balance is read again.
 */
export async function currentBalance(sql: Sql, workspaceId: string): Promise<BalanceView> {
  const { balance, lapsedHolds } = await readBalance(sql, workspaceId);
  if (!lapsedHolds) return balance;
  await expireStaleHolds(sql, { workspaceId });
  return getBalance(sql, workspaceId);
}
