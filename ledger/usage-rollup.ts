import { foldTarget } from '../domain/usage.js';
import type { Sql } from './db.js';

/**
 * The daily usage rollup (migration 1732400000022), kept by the read path: GET /v1/usage folds the days that
 * settled since its last fold before reading, so the spend path writes nothing more. Invariant: a workspace's
 * folded set is exactly the journal entries with id <= entry_watermark and at < folded_until, and the ended
 * creations with ended_at < folded_until whose ending entries (capture or release, keyed 'capture:<id>' or
 * 'release:<id>', journaled at ended_at) have id <= entry_watermark. Folding holds the workspace lock that
 * every ledger write takes first (ledger_lock_workspace, onceInLedger), so no entry of the workspace with an id
 * at or below the watermark can commit after it. An entry journaled later with an earlier instant (a swept
 * hold, a test clock's catch-up) is read directly until the next fold adds it to its day.
 */
export interface RollupState {
  folded_until: Date;
  entry_watermark: number;
}

export async function rollupState(sql: Sql, workspaceId: string): Promise<RollupState | null> {
  const [row] = await sql<RollupState[]>`SELECT folded_until, entry_watermark FROM usage_rollup_state WHERE workspace_id = ${workspaceId}`;
  return row ?? null;
}

/**
 * Folds every whole UTC day that ended USAGE_SETTLE_DAYS before the workspace's time, and every entry or
 * creation that arrived for an already folded day since the last fold, into usage_journal_days and
 * usage_creation_days. Does nothing (no lock) when the rollup is current, so at most one fold a day per
 * workspace takes the lock; the first one reads the workspace's whole history.
 */
export async function foldUsage(sql: Sql, workspaceId: string): Promise<void> {
  const [peek] = await sql<{ folded_until: Date | null; now: Date }[]>`
    SELECT (SELECT folded_until FROM usage_rollup_state WHERE workspace_id = ${workspaceId}) AS folded_until, workspace_now(${workspaceId}) AS now`;
  if (peek!.folded_until && peek!.folded_until >= foldTarget(peek!.now)) return;
  await sql.begin(async (tx) => {
    const [lock] = await tx<{ now: Date }[]>`SELECT ledger_lock_workspace(${workspaceId}) AS now`;
    const target = foldTarget(lock!.now);
    const [state] = await tx<RollupState[]>`
      SELECT folded_until, entry_watermark FROM usage_rollup_state WHERE workspace_id = ${workspaceId}`;
    if (state && state.folded_until >= target) return;
    const [top] = await tx<{ watermark: number }[]>`
      SELECT coalesce(max(id), 0)::bigint AS watermark FROM ledger_entries WHERE workspace_id = ${workspaceId}`;
    const watermark = top!.watermark;
    const oldUntil = state?.folded_until ?? null;
    const since = (column: string) => (oldUntil === null ? tx`` : tx`AND ${tx(column)} >= ${oldUntil}`);
    const oldWatermark = state?.entry_watermark ?? 0;

    const addJournal = tx`
      ON CONFLICT (workspace_id, day, kind) DO UPDATE SET amount = usage_journal_days.amount + EXCLUDED.amount,
        remaining_delta = usage_journal_days.remaining_delta + EXCLUDED.remaining_delta`;
    // New days, then entries that arrived since the last fold for days folded before.
    await tx`
      INSERT INTO usage_journal_days (workspace_id, day, kind, amount, remaining_delta)
      SELECT ${workspaceId}, (at AT TIME ZONE 'UTC')::date, kind, sum(amount), sum(remaining_delta) FROM ledger_entries
      WHERE workspace_id = ${workspaceId} ${since('at')} AND at < ${target} AND id <= ${watermark}
      GROUP BY 2, 3 ${addJournal}`;
    if (state) {
      await tx`
        INSERT INTO usage_journal_days (workspace_id, day, kind, amount, remaining_delta)
        SELECT ${workspaceId}, (at AT TIME ZONE 'UTC')::date, kind, sum(amount), sum(remaining_delta) FROM ledger_entries
        WHERE workspace_id = ${workspaceId} AND id > ${oldWatermark} AND id <= ${watermark} AND at < ${oldUntil!}
        GROUP BY 2, 3 ${addJournal}`;
    }

    const creationSums = tx`
      SELECT ${workspaceId}, (ended_at AT TIME ZONE 'UTC')::date, coalesce(model, ''), coalesce(api_key_id, ''),
        coalesce(sum(charged) FILTER (WHERE status = 'succeeded'), 0), count(*) FILTER (WHERE status = 'succeeded'),
        count(*) FILTER (WHERE status = 'failed'), count(*) FILTER (WHERE status = 'expired')
      FROM creations`;
    const addCreations = tx`
      GROUP BY 2, 3, 4
      ON CONFLICT (workspace_id, day, model, api_key_id) DO UPDATE SET
        credits_captured = usage_creation_days.credits_captured + EXCLUDED.credits_captured,
        creations = usage_creation_days.creations + EXCLUDED.creations,
        creations_failed = usage_creation_days.creations_failed + EXCLUDED.creations_failed,
        creations_expired = usage_creation_days.creations_expired + EXCLUDED.creations_expired`;
    const columns = tx`(workspace_id, day, model, api_key_id, credits_captured, creations, creations_failed, creations_expired)`;
    await tx`
      INSERT INTO usage_creation_days ${columns} ${creationSums}
      WHERE workspace_id = ${workspaceId} AND status <> 'running' ${since('ended_at')} AND ended_at < ${target} ${addCreations}`;
    if (state) {
      await tx`
        INSERT INTO usage_creation_days ${columns} ${creationSums}
        WHERE workspace_id = ${workspaceId} AND status <> 'running' AND ended_at < ${oldUntil!}
          AND id IN (${lateEndings(tx as unknown as Sql, workspaceId, oldWatermark, watermark, oldUntil!)}) ${addCreations}`;
    }
    await tx`
      INSERT INTO usage_rollup_state (workspace_id, folded_until, entry_watermark) VALUES (${workspaceId}, ${target}, ${watermark})
      ON CONFLICT (workspace_id) DO UPDATE SET folded_until = EXCLUDED.folded_until, entry_watermark = EXCLUDED.entry_watermark`;
  });
}

/**
 * The ids of creations that ended with journal entries in (after, upTo] dated before `before` (a fragment for
 * `id IN (…)`): creations of folded days that ended after the fold. upTo null: no upper bound.
 */
export function lateEndings(sql: Sql, workspaceId: string, after: number, upTo: number | null, before: Date) {
  return sql`
    SELECT DISTINCT substr(operation_key, strpos(operation_key, ':') + 1) FROM ledger_entries
    WHERE workspace_id = ${workspaceId} AND id > ${after} ${upTo === null ? sql`` : sql`AND id <= ${upTo}`}
      AND kind IN ('capture', 'release') AND at < ${before}`;
}
