/**
 * Usage over a window (SPEC §11): the pure rules of GET /v1/usage. Window validation, UTC-day bucketing,
 * the totals of the groups and the reconciliation arithmetic of the journal. No I/O: ledger/usage.ts reads
 * the rows, this module shapes them.
 */

export const USAGE_GROUP_BYS = ['day', 'model', 'api_key'] as const;
export type UsageGroupBy = (typeof USAGE_GROUP_BYS)[number];

/** The longest window a usage query may cover: a year and a bit, so a 365-day chart with margins fits. */
export const MAX_USAGE_WINDOW_DAYS = 400;
/** The window used when a query names neither end: the 30 days up to the workspace's time. */
export const DEFAULT_USAGE_WINDOW_DAYS = 30;
export const DAY_MS = 86_400_000;

export interface UsageWindow {
  from: Date;
  to: Date;
}

/** A bad window: the query parameter to name in the 400 and why. */
export interface WindowProblem {
  field: 'from' | 'to';
  message: string;
}

/**
 * The window [from, to) a query asks for, or the parameter it gets wrong. Missing ends default around the
 * workspace's time `now`: `to` = now, `from` = to − 30 days (and `to` = from + 30 days when only `from` is given).
 * Refused: to ≤ from (names `to`), more than MAX_USAGE_WINDOW_DAYS days (names `to`).
 */
export function usageWindow(query: { from?: Date; to?: Date }, now: Date): UsageWindow | WindowProblem {
  const to = query.to ?? (query.from ? new Date(query.from.getTime() + DEFAULT_USAGE_WINDOW_DAYS * DAY_MS) : now);
  const from = query.from ?? new Date(to.getTime() - DEFAULT_USAGE_WINDOW_DAYS * DAY_MS);
  if (to.getTime() <= from.getTime()) return { field: 'to', message: 'must be after from' };
  if (to.getTime() - from.getTime() > MAX_USAGE_WINDOW_DAYS * DAY_MS) {
    return { field: 'to', message: `the window may cover at most ${MAX_USAGE_WINDOW_DAYS} days` };
  }
  return { from, to };
}

export function isWindowProblem(w: UsageWindow | WindowProblem): w is WindowProblem {
  return 'field' in w;
}

/** The UTC day of an instant as `YYYY-MM-DD` (a usage day: days are UTC days of the workspace's time). */
export function utcDay(at: Date): string {
  return at.toISOString().slice(0, 10);
}

/** Every UTC day [from, to) touches, oldest first, as `YYYY-MM-DD` (the first and last may be partial). */
export function utcDaysOf(window: UsageWindow): string[] {
  const days: string[] = [];
  const first = Math.floor(window.from.getTime() / DAY_MS) * DAY_MS;
  for (let t = first; t < window.to.getTime(); t += DAY_MS) days.push(utcDay(new Date(t)));
  return days;
}

/** What one group of creations did in the window: captured credits and the creations that ended there. */
export interface UsageFigures {
  /** Credits captured (charged) by creations that succeeded in the window. */
  credits_captured: number;
  /** Creations that succeeded in the window (counted at their capture). */
  creations: number;
  /** Creations that failed in the window (nothing captured). */
  creations_failed: number;
  /** Creations whose hold lapsed in the window (nothing captured). */
  creations_expired: number;
}

export const NO_USAGE: UsageFigures = { credits_captured: 0, creations: 0, creations_failed: 0, creations_expired: 0 };

/** One row of the creations' aggregate: the group's key (null: none) and its figures. */
export interface UsageRow extends UsageFigures {
  key: string | null;
}

/** The key of creations that did not record a model (made before models were recorded). */
export const UNKNOWN_MODEL = 'unknown';

/**
 * The groups of a usage answer: for `day`, one per UTC day the window touches (zeros included, oldest first,
 * so a chart has every day); for `model` and `api_key`, one per key met, by credits captured then key.
 * Rows for the same key are added up; a row whose day lies outside the window is ignored.
 */
export function usageGroups(groupBy: UsageGroupBy, window: UsageWindow, rows: UsageRow[]): UsageRow[] {
  const byKey = new Map<string | null, UsageRow>();
  if (groupBy === 'day') for (const day of utcDaysOf(window)) byKey.set(day, { key: day, ...NO_USAGE });
  for (const row of rows) {
    const key = groupBy === 'model' ? row.key ?? UNKNOWN_MODEL : row.key;
    const group = byKey.get(key);
    if (group) byKey.set(key, { key, ...addFigures(group, row) });
    else if (groupBy !== 'day') byKey.set(key, { key, ...addFigures(NO_USAGE, row) });
  }
  const groups = [...byKey.values()];
  if (groupBy !== 'day') {
    groups.sort((a, b) => b.credits_captured - a.credits_captured || String(a.key).localeCompare(String(b.key)));
  }
  return groups;
}

export function addFigures(a: UsageFigures, b: UsageFigures): UsageFigures {
  return {
    credits_captured: a.credits_captured + b.credits_captured,
    creations: a.creations + b.creations,
    creations_failed: a.creations_failed + b.creations_failed,
    creations_expired: a.creations_expired + b.creations_expired,
  };
}

/** The window's totals: the sum of its groups (so the groups always add up to it). */
export function usageTotals(groups: UsageFigures[]): UsageFigures {
  return groups.reduce<UsageFigures>((sum, g) => addFigures(sum, g), NO_USAGE);
}

/** The journal's entries in a window, summed per kind: signed `amount`s and `remaining_delta`s (credits). */
export interface JournalKindSums {
  kind: string;
  /** Sum of the entries' amounts (their effect on the available balance, except a capture's: see below). */
  amount: number;
  /** Sum of the entries' remaining_delta (credits that left or entered the lots). */
  remaining_delta: number;
}

/**
 * How the window's journal moves the available balance, each figure a signed balance effect in credits:
 * `closing_available − opening_available = granted + adjusted + thawed + frozen + captured + expired + forfeited
 * + clawed_back + held_change` (= `net_change`). A capture's credits leave the available balance when they are
 * held; `captured` counts them at capture and `held_change` (holds − releases − captures, negated) counts what is
 * still held or was held and not yet ended, so the two add up to the holds' and releases' amounts.
 */
export interface UsageReconciliation {
  opening_available: number;
  granted: number;
  adjusted: number;
  thawed: number;
  frozen: number;
  captured: number;
  expired: number;
  forfeited: number;
  clawed_back: number;
  held_change: number;
  net_change: number;
  closing_available: number;
}

/**
 * The reconciliation block of a window from its per-kind sums and the available balance at both ends as the
 * journal has it (the sum of the balance changes of the entries dated before `from` and before `to`). Pure
 * arithmetic: a journal whose balance changes add up (README "a journal that reconciles") gives
 * net_change = closing − opening, and closing at the workspace's time is GET /v1/credits' `available`.
 */
export function reconcileUsage(sums: JournalKindSums[], opening: number, closing: number): UsageReconciliation {
  const amount = (kind: string) => sums.filter((s) => s.kind === kind).reduce((t, s) => t + s.amount, 0);
  const captured = amount('capture');
  const parts = {
    granted: amount('grant'),
    adjusted: amount('adjust'),
    thawed: amount('thaw'),
    frozen: amount('freeze'),
    captured,
    expired: amount('expire'),
    forfeited: amount('forfeit'),
    clawed_back: amount('clawback'),
    held_change: amount('hold') + amount('release') - captured,
  };
  const net_change = Object.values(parts).reduce((t, v) => t + v, 0);
  return { opening_available: opening, ...parts, net_change, closing_available: closing };
}

/** Credits that left the lots by a kind of entry in the window (positive): what `expired`/`forfeited` report. */
export function creditsRetired(sums: JournalKindSums[], kind: 'expire' | 'forfeit'): number {
  // `0 - x`, not `-x`: an empty window is 0, never -0 (JSON shows both as 0, but equality checks tell them apart).
  return 0 - sums.filter((s) => s.kind === kind).reduce((t, s) => t + s.remaining_delta, 0);
}

/**
 * The daily rollup of usage (migration 1732400000022): whole UTC days that ended at least this many days before
 * the workspace's time are folded into per-day sums, so a long window reads a few thousand rows instead of
 * every journal entry. The margin leaves room for entries journaled a little after their instant (a swept
 * hold, an expiry written by a sweep); later arrivals are still counted (see ledger/usage-rollup.ts).
 */
export const USAGE_SETTLE_DAYS = 2;

/** The instant up to which days may be folded at the workspace's time `now`: a UTC midnight. */
export function foldTarget(now: Date): Date {
  return new Date((Math.floor(now.getTime() / DAY_MS) - USAGE_SETTLE_DAYS) * DAY_MS);
}

/**
 * The part of a window read from the rollup: the whole UTC days inside [from, to) before `foldedUntil`, as
 * [start, end) on UTC midnights, or null when there is none. The rest of the window ([from, start), [end, to))
 * is read from the journal and the creations directly.
 */
export function rollupRange(window: UsageWindow, foldedUntil: Date | null): UsageWindow | null {
  if (foldedUntil === null) return null;
  const start = Math.ceil(window.from.getTime() / DAY_MS) * DAY_MS;
  const end = Math.min(Math.floor(window.to.getTime() / DAY_MS) * DAY_MS, Math.floor(foldedUntil.getTime() / DAY_MS) * DAY_MS);
  return start < end ? { from: new Date(start), to: new Date(end) } : null;
}
