import type postgres from 'postgres';
import { defaultLowBalanceThreshold, findPlan } from '../domain/catalog.js';
import { LIVE_STATUSES } from '../domain/lifecycle/status.js';
import type { Sql } from './db.js';

export type Tx = postgres.TransactionSql<{ bigint: number }>;

/** What every ledger transaction learns while locking its workspace. */
export interface LedgerContext {
  /** The workspace's current time (its test clock's when it has one). */
  now: Date;
  /** Low-balance alert threshold, or null when the workspace has no plan and set none. */
  threshold: number | null;
  /** Has an active, past-due or paused subscription (packs are frozen without one). */
  live: boolean;
}

/**
 * Locks the workspace row: every balance change of one workspace runs in a serial order, so holds never
 * overdraw and each journal entry's balance_after is exact, while other workspaces never wait.
 */
export async function lockWorkspace(tx: Tx, workspaceId: string): Promise<LedgerContext> {
  const [row] = await tx<{ now: Date; low_balance_threshold: number | null; plan: string | null }[]>`
    SELECT workspace_now(w.id) AS now, w.low_balance_threshold,
      (SELECT s.plan FROM subscriptions s WHERE s.workspace_id = w.id AND s.status IN ${tx(LIVE_STATUSES)} LIMIT 1) AS plan
    FROM workspaces w WHERE w.id = ${workspaceId} FOR UPDATE OF w`;
  if (!row) throw new Error(`workspace ${workspaceId} not found`);
  return { now: row.now, threshold: lowBalanceThreshold(row.low_balance_threshold, row.plan), live: row.plan !== null };
}

/**
 * The low-balance threshold in force: the workspace's own, else its live plan's default, else none (no plan).
 * The spend path's SQL function ledger_low_balance_threshold applies the same rule to the same defaults.
 */
export function lowBalanceThreshold(own: number | null, livePlan: string | null): number | null {
  const plan = livePlan ? findPlan(livePlan) : undefined;
  return own ?? (plan ? defaultLowBalanceThreshold(plan) : null);
}

/**
 * Runs one balance-changing business operation exactly once. The workspace row is locked first, then the
 * operation row claimed (a duplicate waits for the lock, then reads the first one's result). Locking before
 * claiming matters: the claim's foreign key takes a KEY SHARE lock on the workspace row, and two operations
 * of one workspace that each held that and then asked for the row lock deadlocked.
 */
export async function onceInLedger<T extends postgres.JSONValue>(
  sql: Sql,
  op: { key: string; workspaceId: string },
  apply: (tx: Tx, ctx: LedgerContext) => Promise<T>,
): Promise<T> {
  return (await sql.begin(async (tx) => {
    const ctx = await lockWorkspace(tx, op.workspaceId);
    const claimed = await tx`
      INSERT INTO ledger_operations (key, workspace_id, result) VALUES (${op.key}, ${op.workspaceId}, 'null')
      ON CONFLICT (key) DO NOTHING RETURNING key`;
    if (claimed.length === 0) {
      const [prior] = await tx<{ result: T }[]>`SELECT result FROM ledger_operations WHERE key = ${op.key}`;
      return prior!.result;
    }
    const result = await apply(tx, ctx);
    await tx`UPDATE ledger_operations SET result = ${tx.json(result)} WHERE key = ${op.key}`;
    return result;
  })) as T;
}

/** The workspace's available balance at `at`: unexpired, unfrozen remaining minus held (SQL spendable_lots). */
export async function availableAt(tx: Tx | Sql, workspaceId: string, at: Date): Promise<number> {
  const [row] = await tx<{ available: number }[]>`
    SELECT coalesce(sum(s.available), 0)::int AS available FROM spendable_lots(${workspaceId}, ${at}) s`;
  return row!.available;
}

export type EntryKind = 'grant' | 'hold' | 'capture' | 'release' | 'expire' | 'freeze' | 'thaw' | 'forfeit' | 'clawback' | 'adjust';

export interface Entry {
  workspaceId: string;
  kind: EntryKind;
  lotId: number;
  remainingDelta: number;
  heldDelta: number;
  /** Signed credits as the customer reads the entry (see the ledger_entries migration). */
  amount: number;
  balanceAfter: number;
  at: Date;
  key: string;
  /** Why, when someone said (an adjustment's reason). */
  reason?: string;
}

export async function journal(tx: Tx, entries: Entry[]): Promise<void> {
  if (entries.length === 0) return;
  await tx`INSERT INTO ledger_entries ${tx(entries.map((e) => ({
    workspace_id: e.workspaceId, kind: e.kind, lot_id: e.lotId, remaining_delta: e.remainingDelta,
    held_delta: e.heldDelta, amount: e.amount, balance_after: e.balanceAfter, at: e.at, operation_key: e.key,
    reason: e.reason ?? null,
  })))}`;
}

/**
 * Records a low-balance alert when an operation takes the balance from at or above the threshold to
 * below it: once per crossing, keyed by the operation that crossed.
 */
export async function noteLowBalance(
  tx: Tx,
  change: { workspaceId: string; ctx: LedgerContext; before: number; after: number; key: string },
): Promise<void> {
  const { threshold } = change.ctx;
  if (threshold === null || !(change.before >= threshold && change.after < threshold)) return;
  await tx`
    INSERT INTO notifications (workspace_id, kind, dedupe_key, payload, at)
    VALUES (${change.workspaceId}, 'low_balance', ${`low_balance:${change.key}`},
            ${tx.json({ available: change.after, threshold })}, ${change.ctx.now})
    ON CONFLICT (dedupe_key) DO NOTHING`;
}
