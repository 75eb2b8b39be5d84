import type { UsageGroupBy, UsageWindow } from '../domain/usage.js';
import { expireDueAdjustments } from '../ledger/adjustments.js';
import type { Sql } from '../ledger/db.js';
import { expireStaleHolds } from '../ledger/spend.js';
import { readUsage, type UsageView } from '../ledger/usage.js';
import { foldUsage } from '../ledger/usage-rollup.js';

/**
 * Usage over [from, to) (SPEC §11) as GET /v1/usage answers it. First journals what is due and not yet
 * written (lapsed holds, adjustment lots past their expiry: the worker's sweep does it within seconds, but a
 * read must not miss an expiry that happened at its instant), as the operator's journal reads do; then folds
 * the days that settled into the daily rollup (at most once a day per workspace), then reads.
 */
export async function usageOf(sql: Sql, workspaceId: string, window: UsageWindow, groupBy: UsageGroupBy): Promise<UsageView> {
  await expireStaleHolds(sql, { workspaceId });
  await expireDueAdjustments(sql, workspaceId);
  await foldUsage(sql, workspaceId);
  return readUsage(sql, workspaceId, window, groupBy);
}
