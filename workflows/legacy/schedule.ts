import { DAY_MS, opensPeriod, refreshAt } from '../../domain/calendar.js';
import type { LiveLot, SubscriptionState } from './types.js';

/** Dunning: retries 1, 3, 5 and 7 days after the renewal's due date. */
export const RETRY_AFTER_DAYS = [1, 3, 5, 7] as const;

export type DueEvent =
  | { kind: 'expire'; at: number; lot: LiveLot }
  | { kind: 'incomplete_expiry'; at: number }
  | { kind: 'pending_change_expiry'; at: number }
  | { kind: 'dunning_retry'; at: number }
  | { kind: 'pause_end'; at: number }
  | { kind: 'refresh'; at: number; index: number };

/** At one instant: expiries first (a renewal never counts credits that expired at that moment). */
const RANK: Record<DueEvent['kind'], number> = {
  expire: 0, incomplete_expiry: 1, pending_change_expiry: 2, dunning_retry: 3, pause_end: 4, refresh: 5,
};

export function dueEvents(state: SubscriptionState): DueEvent[] {
  const events: DueEvent[] = state.lots.map((lot) => ({ kind: 'expire', at: lot.expiresAt, lot }));
  if (state.status === 'active') {
    events.push({ kind: 'refresh', at: refreshAt(state.anchor, state.interval, state.nextRefresh), index: state.nextRefresh });
  }
  if (state.incomplete) events.push({ kind: 'incomplete_expiry', at: state.incomplete.deadline });
  if (state.pendingChange) events.push({ kind: 'pending_change_expiry', at: state.pendingChange.deadline });
  if (state.dunning && state.dunning.retries < RETRY_AFTER_DAYS.length) {
    events.push({ kind: 'dunning_retry', at: state.dunning.dueAt + RETRY_AFTER_DAYS[state.dunning.retries]! * DAY_MS });
  }
  if (state.status === 'paused' && state.pause?.resumesAt) events.push({ kind: 'pause_end', at: state.pause.resumesAt });
  return events.sort((a, b) => a.at - b.at || RANK[a.kind] - RANK[b.kind]);
}

/** The earliest event the subscription must handle next. */
export function nextDueEvent(state: SubscriptionState): DueEvent | undefined {
  return dueEvents(state)[0];
}

/** The next event that charges or may charge the customer, for operators (search attribute NextDueAt). */
export function nextBillingAt(state: SubscriptionState): number | null {
  const billing = dueEvents(state).find((e) =>
    e.kind === 'dunning_retry' || e.kind === 'pause_end' || (e.kind === 'refresh' && opensPeriod(state.interval, e.index)));
  return billing?.at ?? null;
}
