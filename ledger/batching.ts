/**
 * Where the ledger's batchers live: one per postgres.js instance (the API's pool, a test's, a bench's) and per
 * kind of call (spend: ledger_batch; balance: one query for many workspaces), with the policy of
 * runtime/config.ts's LEDGER_BATCH_* settings unless configureLedgerBatching says otherwise for that instance.
 * A transaction's or a reserved connection's handle is never batched: its statements must run on it.
 */
import { ledgerBatchPolicy } from '../runtime/config.js';
import { type BatchPolicy, CommitBatcher, type ItemOutcome } from './commit-batcher.js';
import type { Sql } from './db.js';

const policies = new WeakMap<Sql, BatchPolicy>();
const batchers = new WeakMap<Sql, Map<string, CommitBatcher<unknown, unknown>>>();
let processPolicy: BatchPolicy | null = null;

/** The policy of `sql`'s batchers: its own (configureLedgerBatching), else the process's LEDGER_BATCH_* settings. */
export function batchPolicyOf(sql: Sql): BatchPolicy {
  return policies.get(sql) ?? (processPolicy ??= ledgerBatchPolicy());
}

/**
 * Sets `sql`'s batch policy (e.g. `{ maxItems: 1 }`: every call its own transaction, as before batching). Flushes
 * and drops the batchers it had, so the next call uses the new policy.
 */
export async function configureLedgerBatching(sql: Sql, policy: Partial<BatchPolicy>): Promise<void> {
  const before = batchers.get(sql);
  policies.set(sql, { ...batchPolicyOf(sql), ...policy });
  batchers.delete(sql);
  await Promise.all([...(before?.values() ?? [])].map((b) => b.flush()));
}

/** Sends every waiting item of `sql`'s batchers now and waits for their calls (call before sql.end()). */
export async function flushLedgerBatches(sql: Sql): Promise<void> {
  await Promise.all([...(batchers.get(sql)?.values() ?? [])].map((b) => b.flush()));
}

/**
 * `sql`'s batcher for `kind`, made with `run` on first use; null when batching is off (maxItems 1) or `sql` is a
 * transaction or a reserved connection (its statements must stay on it).
 */
export function batcherFor<I, R>(
  sql: Sql, kind: string, run: (items: I[]) => Promise<ItemOutcome<R>[]>, keyOf?: (item: I) => string,
  /** This kind's own window, in ms (else the policy's): the rest of the policy (on/off, calls out) stays `sql`'s. */
  windowMs?: number,
): CommitBatcher<I, R> | null {
  if ('savepoint' in sql || 'release' in sql) return null;
  const policy = windowMs === undefined ? batchPolicyOf(sql) : { ...batchPolicyOf(sql), windowMs };
  if (policy.maxItems <= 1) return null;
  let byKind = batchers.get(sql);
  if (!byKind) batchers.set(sql, (byKind = new Map()));
  let batcher = byKind.get(kind) as CommitBatcher<I, R> | undefined;
  if (!batcher) {
    batcher = new CommitBatcher(run, policy, keyOf);
    byKind.set(kind, batcher as CommitBatcher<unknown, unknown>);
  }
  return batcher;
}

/** `sql`'s batchers' counts by kind (calls sent, items carried, largest call), for measurements and tests. */
export function ledgerBatchStats(sql: Sql): Record<string, { calls: number; items: number; largest: number }> {
  return Object.fromEntries([...(batchers.get(sql)?.entries() ?? [])].map(([kind, b]) => [kind, { ...b.stats }]));
}
