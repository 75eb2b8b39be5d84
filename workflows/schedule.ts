import { refreshAt } from '../domain/calendar.js';
import type { LiveLot, SubscriptionState } from './messages.js';

export type DueEvent =
  | { kind: 'expire'; at: number; lot: LiveLot }
  | { kind: 'refresh'; at: number; index: number }
  | { kind: 'incomplete_expiry'; at: number };

/**
 * The earliest event the subscription must handle next. At one instant a lot's expiry goes before a
 * refresh, so the balance after a renewal never counts credits that expired at that same moment.
 */
export function nextDueEvent(state: SubscriptionState): DueEvent | undefined {
  const candidates: DueEvent[] = state.lots.map((lot) => ({ kind: 'expire', at: lot.expiresAt, lot }));
  if (state.status === 'active') {
    candidates.push({ kind: 'refresh', at: refreshAt(state.anchor, state.interval, state.nextRefresh), index: state.nextRefresh });
  }
  if (state.status === 'incomplete' && state.incompleteDeadline !== null) {
    candidates.push({ kind: 'incomplete_expiry', at: state.incompleteDeadline });
  }
  const rank = { expire: 0, incomplete_expiry: 1, refresh: 2 } as const;
  candidates.sort((a, b) => a.at - b.at || rank[a.kind] - rank[b.kind]);
  return candidates[0];
}
