/**
 * When things happen (SPEC §2, §4): the current period and refresh interval, the due events the
 * subscription must handle next, and the next scheduled charge. Pure; instants in epoch ms UTC.
 */
import { addMonthsClamped, DAY_MS, MONTHLY_PERIOD_MS, opensPeriod, periodBounds, periodOfRefresh, refreshAt } from '../calendar.js';
import type { Interval } from '../catalog.js';
import type { LifecycleState, LotRef } from './state.js';

/** Dunning: retries 1, 3, 5 and 7 days after the renewal's due date. */
export const RETRY_AFTER_DAYS = [1, 3, 5, 7] as const;
/** An unpaid first invoice or pending change lapses after 23 hours at most. */
export const UNPAID_TTL_MS = 23 * 60 * 60 * 1000;

export type DueEvent =
  | { kind: 'expire'; at: number; lot: LotRef }
  | { kind: 'incomplete_expiry'; at: number }
  | { kind: 'pending_change_expiry'; at: number }
  | { kind: 'dunning_retry'; at: number }
  | { kind: 'pause_end'; at: number }
  | { kind: 'refresh'; at: number; index: number };

/** At one instant: expiries and lapses first (a renewal never counts credits that expired at that moment). */
const RANK: Record<DueEvent['kind'], number> = {
  expire: 0, incomplete_expiry: 1, pending_change_expiry: 2, dunning_retry: 3, pause_end: 4, refresh: 5,
};

/** The period last opened: while a renewal is past due, the one being charged for. */
export function currentPeriod(state: LifecycleState): { index: number; start: number; end: number } {
  const refresh = state.dunning ? state.dunning.refreshIndex : Math.max(state.nextRefresh - 1, 0);
  const index = periodOfRefresh(state.interval, refresh);
  return { index, ...periodBounds(state.anchor, state.interval, index) };
}

/** The refresh interval in force: [last refresh, next refresh). */
export function currentRefreshInterval(state: LifecycleState): { start: number; end: number } {
  const last = Math.max(state.nextRefresh - 1, 0);
  return { start: refreshAt(state.anchor, state.interval, last), end: refreshAt(state.anchor, state.interval, last + 1) };
}

/** A pause of `cycles` periods starting at `startsAt`: 30 days per cycle (monthly) or a calendar year (yearly). */
export function pauseEnd(startsAt: number, interval: Interval, cycles: number): number {
  return interval === 'month' ? startsAt + cycles * MONTHLY_PERIOD_MS : addMonthsClamped(startsAt, 12 * cycles);
}

export function dueEvents(state: LifecycleState): DueEvent[] {
  const events: DueEvent[] = state.lots.map((lot) => ({ kind: 'expire', at: lot.expiresAt, lot }));
  if (state.status === 'active') {
    events.push({ kind: 'refresh', at: refreshAt(state.anchor, state.interval, state.nextRefresh), index: state.nextRefresh });
  }
  if (state.incomplete) events.push({ kind: 'incomplete_expiry', at: state.incomplete.deadline });
  if (state.pendingChange) events.push({ kind: 'pending_change_expiry', at: state.pendingChange.deadline });
  if (state.dunning && state.dunning.retries < RETRY_AFTER_DAYS.length) {
    events.push({ kind: 'dunning_retry', at: state.dunning.dueAt + RETRY_AFTER_DAYS[state.dunning.retries]! * DAY_MS });
  }
  if (state.status === 'paused' && state.pause?.resumesAt != null) events.push({ kind: 'pause_end', at: state.pause.resumesAt });
  return events.sort((a, b) => a.at - b.at || RANK[a.kind] - RANK[b.kind]);
}

/** The earliest event the subscription must handle next. */
export function nextDueEvent(state: LifecycleState): DueEvent | undefined {
  return dueEvents(state)[0];
}

/**
 * The next charge the schedule will make without any request (`next_due_at`): the renewal, the charge at
 * a scheduled or running pause's end, or the next dunning retry; null when none is scheduled (canceling,
 * canceled, incomplete, or past due after the last retry).
 */
export function nextChargeAt(state: LifecycleState): number | null {
  switch (state.status) {
    case 'active': {
      if (state.cancelAtPeriodEnd) return null;
      const { end } = currentPeriod(state);
      if (state.pause) return pauseEnd(end, state.interval, state.pause.cycles);
      // The next refresh that opens a period (a yearly plan refreshes monthly in between).
      let index = state.nextRefresh;
      while (!opensPeriod(state.interval, index)) index += 1;
      return refreshAt(state.anchor, state.interval, index);
    }
    case 'paused':
      return state.cancelAtPeriodEnd ? null : state.pause?.resumesAt ?? null;
    case 'past_due': {
      const retries = state.dunning?.retries ?? RETRY_AFTER_DAYS.length;
      return retries < RETRY_AFTER_DAYS.length ? state.dunning!.dueAt + RETRY_AFTER_DAYS[retries]! * DAY_MS : null;
    }
    default:
      return null;
  }
}
