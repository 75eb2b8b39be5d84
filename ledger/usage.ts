import {
  creditsRetired, type JournalKindSums, reconcileUsage, rollupRange, type UsageFigures, type UsageGroupBy, usageGroups,
  type UsageReconciliation, type UsageRow, usageTotals, type UsageWindow, utcDay,
} from '../domain/usage.js';
import type { Sql } from './db.js';
import { balanceChange } from './history.js';
import type { EntryKind, Tx } from './operations.js';
import { lateEndings, rollupState, type RollupState } from './usage-rollup.js';

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
type Db = Sql | Tx;

const groupKey = (sql: Db, groupBy: UsageGroupBy) => (groupBy === 'day' ? sql`to_char(ended_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')`
  : groupBy === 'model' ? sql`model` : sql`api_key_id`);

/**
 * Creations that ended in [from, to) (`only`: and whose id is in that fragment), aggregated by group. A creation
 * counts at its end (ended_at): its capture when it succeeded. Index creations_by_end.
 */
async function creationRows(sql: Db, workspaceId: string, window: UsageWindow, groupBy: UsageGroupBy, only?: ReturnType<typeof lateEndings>): Promise<UsageRow[]> {
  return sql<(Figures & { key: string | null })[]>`
    SELECT ${groupKey(sql, groupBy)} AS key,
      coalesce(sum(charged) FILTER (WHERE status = 'succeeded'), 0)::integer AS credits_captured,
      (count(*) FILTER (WHERE status = 'succeeded'))::integer AS creations,
      (count(*) FILTER (WHERE status = 'failed'))::integer AS creations_failed,
      (count(*) FILTER (WHERE status = 'expired'))::integer AS creations_expired
    FROM creations
    WHERE workspace_id = ${workspaceId} AND status <> 'running' AND ended_at >= ${window.from} AND ended_at < ${window.to}
      ${only ? sql`AND id IN (${only})` : sql``}
    GROUP BY 1`;
}

/** The folded creations of the UTC days [from, to) (midnights), aggregated by group. */
async function foldedCreationRows(sql: Db, workspaceId: string, days: UsageWindow, groupBy: UsageGroupBy): Promise<UsageRow[]> {
  const key = groupBy === 'day' ? sql`to_char(day, 'YYYY-MM-DD')` : groupBy === 'model' ? sql`nullif(model, '')` : sql`nullif(api_key_id, '')`;
  return sql<(Figures & { key: string | null })[]>`
    SELECT ${key} AS key, sum(credits_captured)::integer AS credits_captured, sum(creations)::integer AS creations,
      sum(creations_failed)::integer AS creations_failed, sum(creations_expired)::integer AS creations_expired
    FROM usage_creation_days
    WHERE workspace_id = ${workspaceId} AND day >= ${utcDay(days.from)}::date AND day < ${utcDay(days.to)}::date
    GROUP BY 1`;
}

/**
 * The journal's entries with `at` in [from, to), summed per kind (index ledger_entries_by_time); with `afterId`,
 * only those with an id above it (journaled since the rollup's watermark, lateJournalSums).
 */
async function journalSums(sql: Db, workspaceId: string, window: UsageWindow, afterId?: number): Promise<JournalKindSums[]> {
  if (afterId !== undefined) return lateJournalSums(sql, workspaceId, window, afterId);
  return sql<JournalKindSums[]>`
    SELECT kind, sum(amount)::integer AS amount, sum(remaining_delta)::integer AS remaining_delta
    FROM ledger_entries WHERE workspace_id = ${workspaceId} AND at >= ${window.from} AND at < ${window.to}
    GROUP BY kind`;
}

/**
 * Entries journaled after the rollup's watermark (`afterId`) with `at` in [from, to), summed per kind: the few
 * written since the last fold, found from the newest end of ledger_entries_by_workspace (workspace_id, id DESC).
 * Materialized first because with both conditions in one WHERE the prepared statement's generic plan could
 * choose ledger_entries_by_time, reading every entry of the window's days to keep those above the watermark:
 * 150–260 ms per GET /v1/usage on a year of a million entries (bench/README "Usage queries"), against < 1 ms.
 */
async function lateJournalSums(sql: Db, workspaceId: string, window: UsageWindow, afterId: number): Promise<JournalKindSums[]> {
  return sql<JournalKindSums[]>`
    WITH late AS MATERIALIZED (
      SELECT kind, amount, remaining_delta, at FROM ledger_entries WHERE workspace_id = ${workspaceId} AND id > ${afterId})
    SELECT kind, sum(amount)::integer AS amount, sum(remaining_delta)::integer AS remaining_delta
    FROM late WHERE at >= ${window.from} AND at < ${window.to}
    GROUP BY kind`;
}

/** The folded journal of the UTC days [from, to) (midnights), summed per kind. */
async function foldedJournalSums(sql: Db, workspaceId: string, days: UsageWindow): Promise<JournalKindSums[]> {
  return sql<JournalKindSums[]>`
    SELECT kind, sum(amount)::integer AS amount, sum(remaining_delta)::integer AS remaining_delta FROM usage_journal_days
    WHERE workspace_id = ${workspaceId} AND day >= ${utcDay(days.from)}::date AND day < ${utcDay(days.to)}::date
    GROUP BY kind`;
}

/**
 * The available balance as journaled just before `at`: the sum of the balance changes (every amount but a
 * capture's) of the entries dated before it, through the rollup. Summed rather than read from an entry's
 * balance_after, which follows the order of writing: an entry journaled late at an earlier instant (a hold swept
 * after its lapse) carries the balance of its writing, so balance_after does not chain in the order of `at`.
 */
export async function journaledBalanceBefore(sql: Db, workspaceId: string, at: Date, state: RollupState | null): Promise<number> {
  const sums = await journalFigures(sql, workspaceId, { from: new Date(0), to: at }, state);
  return sums.reduce((t, s) => t + balanceChange(s.kind as EntryKind, s.amount), 0);
}

/** The journal's per-kind sums of a window: folded days from the rollup, the rest directly (see windowFigures). */
export async function journalFigures(sql: Db, workspaceId: string, window: UsageWindow, state: RollupState | null): Promise<JournalKindSums[]> {
  const days = rollupRange(window, state?.folded_until ?? null);
  if (!days || !state) return journalSums(sql, workspaceId, window);
  const sums: JournalKindSums[] = [...await foldedJournalSums(sql, workspaceId, days)];
  for (const edge of [{ from: window.from, to: days.from }, { from: days.to, to: window.to }]) {
    if (edge.from < edge.to) sums.push(...await journalSums(sql, workspaceId, edge));
  }
  sums.push(...await journalSums(sql, workspaceId, days, state.entry_watermark));
  return sums;
}

/**
 * The creations' rows and the journal's per-kind sums of a window, read from one snapshot: the whole folded
 * days inside it from the rollup (ledger/usage-rollup.ts), the rest ([from, first day), [last day, to), and
 * anything of the folded days not folded yet: entries above the watermark, creations ended by them) directly.
 */
export async function windowFigures(sql: Db, workspaceId: string, window: UsageWindow, groupBy: UsageGroupBy, state: RollupState | null) {
  const sums = await journalFigures(sql, workspaceId, window, state);
  const days = rollupRange(window, state?.folded_until ?? null);
  if (!days || !state) return { rows: await creationRows(sql, workspaceId, window, groupBy), sums };
  const rows: UsageRow[] = [...await foldedCreationRows(sql, workspaceId, days, groupBy)];
  for (const edge of [{ from: window.from, to: days.from }, { from: days.to, to: window.to }]) {
    if (edge.from < edge.to) rows.push(...await creationRows(sql, workspaceId, edge, groupBy));
  }
  rows.push(...await creationRows(sql, workspaceId, days, groupBy, lateEndings(sql as Sql, workspaceId, state.entry_watermark, null, state.folded_until)));
  return { rows, sums };
}

/**
 * GET /v1/usage (SPEC §11) over [from, to): groups of creations by UTC day, model or API key (credits captured,
 * creations succeeded, failed and expired; they sum to `totals`), the credits expired and forfeited in the
 * window, and the journal's reconciliation from the available balance at `from` to the one at `to`.
 * Credits are whole numbers; times are UTC. Reads one snapshot (repeatable read), so a concurrent fold never
 * counts a day twice; call foldUsage first to keep the direct part small.
 */
export async function readUsage(sql: Sql, workspaceId: string, window: UsageWindow, groupBy: UsageGroupBy): Promise<UsageView> {
  const { rows, sums, opening, closing, names } = await sql.begin('isolation level repeatable read read only', async (tx) => {
    const state = await rollupState(tx as unknown as Sql, workspaceId);
    const figures = await windowFigures(tx, workspaceId, window, groupBy, state);
    // The balance at `to` is the one at `from` plus the window's changes: the same sum over [0, to), as the
    // window's sums and the ones before it partition the journal (checked by test/integration/usage-rollup.test.ts).
    const opening = await journaledBalanceBefore(tx, workspaceId, window.from, state);
    const closing = opening + figures.sums.reduce((t, s) => t + balanceChange(s.kind as EntryKind, s.amount), 0);
    const ids = [...new Set(figures.rows.map((r) => r.key).filter((k): k is string => k !== null))];
    const keyNames = groupBy === 'api_key' && ids.length > 0
      ? await tx<{ id: string; name: string | null }[]>`SELECT id, name FROM api_keys WHERE workspace_id = ${workspaceId} AND id IN ${tx(ids)}`
      : [];
    return { ...figures, opening, closing, names: new Map(keyNames.map((k) => [k.id, k.name])) };
  });
  const groups = usageGroups(groupBy, window, rows);
  const views: UsageGroupView[] = groupBy === 'api_key'
    ? groups.map((g) => ({ ...g, api_key_name: g.key === null ? null : names.get(g.key) ?? null }))
    : groups;
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
    WHERE workspace_id = ${workspaceId} AND status = 'succeeded' AND charged > 0 AND ended_at >= ${from} AND ended_at < ${to}
    GROUP BY 1, 2 ORDER BY 1, 2`;
}
