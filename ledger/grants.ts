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

/** The plan credits of some grants' lots as an interval switch prices them (SPEC §4, §10), in credits. */
export interface PlanCreditsView {
  /** Unspent, unheld, unexpired and spendable (what availableOfGrants answers). */
  available: number;
  /** Unspent and unheld but frozen by an open dispute (unexpired): still the customer's unless the dispute is lost. */
  frozen: number;
  /** Taken from these lots by operators' negative adjustments (journaled `adjust`, SPEC §10): neither used nor kept. */
  adjustedAway: number;
}

/**
 * What the lots of the given grants hold at `at` (available, dispute-frozen) and what negative adjustments took
 * from them (journaled `adjust` with a negative amount up to `at`). One query: the lots by the grants' keys, and
 * their adjustments through the partial index ledger_entries_adjust_by_lot (migration 1732400000033), so the
 * spend path's entries are never read.
 */
export async function planCreditsOfGrants(sql: Sql, workspaceId: string, grantKeys: string[], at: Date): Promise<PlanCreditsView> {
  if (grantKeys.length === 0) return { available: 0, frozen: 0, adjustedAway: 0 };
  const [row] = await sql<{ available: number; frozen: number; adjusted_away: number }[]>`
    WITH plan_lots AS MATERIALIZED (
      SELECT l.* FROM lots l
      WHERE l.workspace_id = ${workspaceId} AND l.id IN (
        SELECT (o.result->>'lotId')::bigint FROM ledger_operations o
        WHERE o.key IN ${sql(grantKeys)} AND o.workspace_id = ${workspaceId} AND o.result ? 'lotId'))
    SELECT
      coalesce((SELECT sum(lot_available(l, ${at})) FROM plan_lots l), 0)::int AS available,
      coalesce((SELECT sum(l.remaining - l.held) FROM plan_lots l
                WHERE l.dispute_freeze_key IS NOT NULL AND NOT l.frozen AND NOT lot_expired(l, ${at})), 0)::int AS frozen,
      coalesce((SELECT -sum(e.amount) FROM ledger_entries e
                WHERE e.workspace_id = ${workspaceId} AND e.kind = 'adjust' AND e.amount < 0 AND e.at <= ${at}
                  AND e.at >= (SELECT min(l.granted_at) FROM plan_lots l) AND e.lot_id IN (SELECT l.id FROM plan_lots l)), 0)::int AS adjusted_away`;
  return { available: row!.available, frozen: row!.frozen, adjustedAway: row!.adjusted_away };
}
