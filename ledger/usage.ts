import {
  creditsRetired, type JournalKindSums, reconcileUsage, type UsageFigures, type UsageGroupBy, usageGroups,
  type UsageReconciliation, type UsageRow, usageTotals, type UsageWindow,
} from '../domain/usage.js';
import type { Sql } from './db.js';

/** One group of GET /v1/usage: its key (a UTC day, a model, an API key's id; null: no key) and its figures. */
export interface UsageGroupView extends UsageFigures {
  key: string | null;
  /** The API key's name when grouped by api_key (null: unnamed or no key); absent otherwise. */
  api_key_name?: string | null;
}

export interface UsageView {
  from: string;
  to: string;
  group_by: UsageGroupBy;
  groups: UsageGroupView[];
  totals: UsageFigures;
  /** Credits that left their lots by expiry in the window (journaled at the expiry instant). */
  credits_expired: number;
  /** Credits forfeited in the window (a canceled plan's lots at the end of its last period). */
  credits_forfeited: number;
  reconciliation: UsageReconciliation;
}

type Figures = { credits_captured: number; creations: number; creations_failed: number; creations_expired: number };

/**
 * Creations that ended in [from, to), aggregated by `key` (a SQL expression over creations). A creation counts
 * at its end (ended_at): its capture when it succeeded. Uses the creations_by_end index (migration 1732400000022).
 */
async function creationRows(sql: Sql, workspaceId: string, window: UsageWindow, groupBy: UsageGroupBy): Promise<UsageRow[]> {
  const key = groupBy === 'day' ? sql`to_char(ended_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')`
    : groupBy === 'model' ? sql`model` : sql`api_key_id`;
  return sql<(Figures & { key: string | null })[]>`
    SELECT ${key} AS key,
      coalesce(sum(charged) FILTER (WHERE status = 'succeeded'), 0)::integer AS credits_captured,
      (count(*) FILTER (WHERE status = 'succeeded'))::integer AS creations,
      (count(*) FILTER (WHERE status = 'failed'))::integer AS creations_failed,
      (count(*) FILTER (WHERE status = 'expired'))::integer AS creations_expired
    FROM creations
    WHERE workspace_id = ${workspaceId} AND status <> 'running' AND ended_at >= ${window.from} AND ended_at < ${window.to}
    GROUP BY 1`;
}

/** The journal's entries with `at` in [from, to), summed per kind (index ledger_entries_by_time). */
async function journalSums(sql: Sql, workspaceId: string, window: UsageWindow): Promise<JournalKindSums[]> {
  return sql<JournalKindSums[]>`
    SELECT kind, sum(amount)::integer AS amount, sum(remaining_delta)::integer AS remaining_delta
    FROM ledger_entries WHERE workspace_id = ${workspaceId} AND at >= ${window.from} AND at < ${window.to}
    GROUP BY kind`;
}

/**
 * The available balance just before `at`: the balance_after of the journal's last entry before it (in the
 * order of `at`, then of writing), 0 when there is none.
 */
export async function availableBefore(sql: Sql, workspaceId: string, at: Date): Promise<number> {
  const [row] = await sql<{ balance_after: number }[]>`
    SELECT balance_after FROM ledger_entries WHERE workspace_id = ${workspaceId} AND at < ${at}
    ORDER BY at DESC, id DESC LIMIT 1`;
  return row?.balance_after ?? 0;
}

/**
 * GET /v1/usage (SPEC §11) over [from, to): groups of creations by UTC day, model or API key (credits captured,
 * creations succeeded, failed and expired; they sum to `totals`), the credits expired and forfeited in the
 * window, and the journal's reconciliation from the available balance at `from` to the one at `to`.
 * Credits are whole numbers; times are UTC. Four independent queries run concurrently.
 */
export async function readUsage(sql: Sql, workspaceId: string, window: UsageWindow, groupBy: UsageGroupBy): Promise<UsageView> {
  const [rows, sums, opening, closing] = await Promise.all([
    creationRows(sql, workspaceId, window, groupBy),
    journalSums(sql, workspaceId, window),
    availableBefore(sql, workspaceId, window.from),
    availableBefore(sql, workspaceId, window.to),
  ]);
  const groups = usageGroups(groupBy, window, rows);
  let views: UsageGroupView[] = groups;
  if (groupBy === 'api_key') {
    const ids = groups.map((g) => g.key).filter((k): k is string => k !== null);
    const names = new Map<string, string | null>();
    if (ids.length > 0) {
      for (const k of await sql<{ id: string; name: string | null }[]>`
        SELECT id, name FROM api_keys WHERE workspace_id = ${workspaceId} AND id IN ${sql(ids)}`) names.set(k.id, k.name);
    }
    views = groups.map((g) => ({ ...g, api_key_name: g.key === null ? null : names.get(g.key) ?? null }));
  }
  return {
    from: window.from.toISOString(), to: window.to.toISOString(), group_by: groupBy,
    groups: views, totals: usageTotals(groups),
    credits_expired: creditsRetired(sums, 'expire'), credits_forfeited: creditsRetired(sums, 'forfeit'),
    reconciliation: reconcileUsage(sums, opening, closing),
  };
}

/** Credits captured on one UTC day by one model (model 'unknown' when the creation did not record one). */
export interface DailyModelCredits {
  /** The UTC day, `YYYY-MM-DD`. */
  day: string;
  model: string;
  /** Credits captured that day by that model's succeeded creations. */
  credits: number;
}

/**
 * Credits captured per UTC day per model over [from, to) (for the /billing usage chart, SPEC §11): one row
 * per (day, model) with captures, oldest day first then model; days without captures have no row. A creation
 * counts on the day of its capture (ended_at). Credits are whole numbers.
 */
export async function capturedPerDayPerModel(sql: Sql, workspaceId: string, from: Date, to: Date): Promise<DailyModelCredits[]> {
  return sql<DailyModelCredits[]>`
    SELECT to_char(ended_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, coalesce(model, 'unknown') AS model,
      sum(charged)::integer AS credits
    FROM creations
    WHERE workspace_id = ${workspaceId} AND status = 'succeeded' AND ended_at >= ${from} AND ended_at < ${to}
    GROUP BY 1, 2 ORDER BY 1, 2`;
}
