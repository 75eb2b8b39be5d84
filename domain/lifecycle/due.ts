/**
 * What happens when a due event is reached (SPEC §2, §4): lot expiry, lapse of an unpaid first invoice
 * or pending change, dunning retries, the end of a pause, and refreshes — a renewal when the refresh opens
 * a period, where a cancellation, a pause and a scheduled downgrade take effect.
 */
import { opensPeriod } from '../calendar.js';
import { applyDowngrade, endSubscription, grantRefresh, periodCharge, startCycle } from './cycle.js';
import type { Step } from './effects.js';
import { type DueEvent, pauseEnd } from './schedule.js';
import type { LifecycleState } from './state.js';

export function onDue(state: LifecycleState, event: DueEvent): Step {
  switch (event.kind) {
    case 'expire':
      return { state: { ...state, lots: state.lots.filter((lot) => lot.key !== event.lot.key) }, effects: [{ kind: 'expire', key: event.lot.key, at: event.at }] };
    case 'incomplete_expiry':
      // Unpaid after 23 hours: the attempt ends (a subscribe ends canceled; a restart stays canceled).
      return { state, effects: [], lapse: { kind: 'first_payment', invoiceId: state.incomplete!.invoiceId, at: event.at, byRequest: false } };
    case 'pending_change_expiry':
      return { state, effects: [], lapse: { kind: 'pending_change', invoiceId: state.pendingChange!.invoiceId, at: event.at } };
    case 'dunning_retry': {
      const dunning = { ...state.dunning!, retries: state.dunning!.retries + 1, attempts: state.dunning!.attempts + 1 };
      const next = { ...state, dunning };
      return { state: next, effects: [], charge: periodCharge(next, dunning.refreshIndex, event.at, dunning.attempts, { kind: 'dunning_retry', scheduled: true }) };
    }
    case 'pause_end':
      if (state.cancelAtPeriodEnd) return endSubscription(state, event.at);
      return startCycle(state, event.at, 'resume');
    case 'refresh':
      return refresh(state, event.index, event.at);
  }
}

function refresh(state: LifecycleState, index: number, at: number): Step {
  if (!opensPeriod(state.interval, index)) return grantRefresh(state, index, at);
  // A scheduled downgrade takes effect at this period end, also when a pause starts or the subscription ends
  // here (a restart then charges the plan the customer chose last).
  const downgraded = state.scheduledChange ? applyDowngrade(state, state.scheduledChange.plan, at) : { state, effects: [] };
  const next = downgraded.state;
  if (next.cancelAtPeriodEnd) {
    const ended = endSubscription(next, at);
    return { state: ended.state, effects: [...downgraded.effects, ...ended.effects] };
  }
  if (next.pause) {
    return {
      state: { ...next, status: 'paused', pause: { ...next.pause, startsAt: at, resumesAt: pauseEnd(at, next.interval, next.pause.cycles) } },
      effects: downgraded.effects,
    };
  }
  return { state: next, effects: downgraded.effects, charge: periodCharge(next, index, at, 0, { kind: 'renewal', refreshIndex: index }) };
}
