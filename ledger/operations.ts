import type postgres from 'postgres';
import type { Sql } from './db.js';

export type Tx = postgres.TransactionSql<{ bigint: number }>;

/**
 * Runs one balance-changing business operation exactly once. The operation row is claimed first
 * (a concurrent duplicate blocks on the key until the first commits, then reads its result), and
 * the workspace row is locked so every journal entry's balance_after is computed in a serial order.
 */
export async function onceInLedger<T extends postgres.JSONValue>(
  sql: Sql,
  op: { key: string; workspaceId: string },
  apply: (tx: Tx) => Promise<T>,
): Promise<T> {
  return (await sql.begin(async (tx) => {
    const claimed = await tx`
      INSERT INTO ledger_operations (key, workspace_id, result) VALUES (${op.key}, ${op.workspaceId}, 'null')
      ON CONFLICT (key) DO NOTHING RETURNING key`;
    if (claimed.length === 0) {
      const [prior] = await tx<{ result: T }[]>`SELECT result FROM ledger_operations WHERE key = ${op.key}`;
      return prior!.result;
    }
    await tx`SELECT 1 FROM workspaces WHERE id = ${op.workspaceId} FOR UPDATE`;
    const result = await apply(tx);
    await tx`UPDATE ledger_operations SET result = ${tx.json(result)} WHERE key = ${op.key}`;
    return result;
  })) as T;
}

/** The workspace's available balance at `at`: unexpired, unfrozen remaining minus held. */
export async function availableAt(tx: Tx | Sql, workspaceId: string, at: Date): Promise<number> {
  const [row] = await tx<{ available: number }[]>`
    SELECT coalesce(sum(remaining - held), 0)::int AS available FROM lots
    WHERE workspace_id = ${workspaceId} AND NOT frozen AND (expires_at IS NULL OR expires_at > ${at})`;
  return row!.available;
}

export type EntryKind = 'grant' | 'hold' | 'capture' | 'release' | 'expire' | 'freeze' | 'thaw' | 'forfeit';

export interface Entry {
  workspaceId: string;
  kind: EntryKind;
  lotId: number;
  remainingDelta: number;
  heldDelta: number;
  balanceAfter: number;
  at: Date;
  key: string;
}

export async function journal(tx: Tx, entries: Entry[]): Promise<void> {
  if (entries.length === 0) return;
  await tx`INSERT INTO ledger_entries ${tx(entries.map((e) => ({
    workspace_id: e.workspaceId, kind: e.kind, lot_id: e.lotId, remaining_delta: e.remainingDelta,
    held_delta: e.heldDelta, balance_after: e.balanceAfter, at: e.at, operation_key: e.key,
  })))}`;
}
