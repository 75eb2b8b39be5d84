/**
 * The building blocks of a billing cycle (SPEC §2, §4): granting a refresh lot, charging a period,
 * starting a cycle (subscribe, pause end, restart), applying a downgrade, ending the subscription.
 * Each returns the changed state and the effects; none decides *whether* (that is due.ts, requests.ts).
 */
import { periodBounds, periodOfRefresh, refreshLotExpiry } from '../calendar.js';
import { planById } from '../catalog.js';
import { type Charge, type ChargePurpose, type Effect, keys, periodLine, type Step } from './effects.js';
import type { LifecycleState } from './state.js';

/** Grants refresh `index`'s lot of `credits` (default: the plan's monthly credits); its expiry is fixed by the calendar. */
export function grantRefresh(
  state: LifecycleState, index: number, grantedAt: number, credits = planById(state.plan).monthlyCredits, reason: 'refresh' | 'change' = 'refresh',
): { state: LifecycleState; effects: Effect[] } {
  const expiresAt = refreshLotExpiry(state.anchor, state.interval, index);
  const key = keys.refreshGrant(state, index);
  const effects: Effect[] = credits > 0
    ? [{ kind: 'grant', key, source: 'monthly', reason, credits, grantedAt, expiresAt, summary: `grant ${credits} credits, refresh ${index}` }]
    : [];
  return {
    state: {
      ...state, lots: credits > 0 ? [...state.lots, { key, expiresAt }] : state.lots, currentLotExpiresAt: expiresAt,
      nextRefresh: index + 1, status: 'active',
    },
    effects,
  };
}

/** The charge for the period that refresh `index` opens, in the state's cycle. */
export function periodCharge(state: LifecycleState, index: number, at: number, attempt: number, purpose: ChargePurpose): Charge {
  const { anchor } = state;
  const periodIndex = periodOfRefresh(state.interval, index);
  const { start, end } = periodBounds(anchor, state.interval, periodIndex);
  const what = attempt > 0 ? `retry ${attempt} of` : index === 0 ? 'first charge,' : 'renewal,';
  return {
    businessKey: keys.period(state, periodIndex), invoiceKind: 'subscription', at, attempt, purpose,
    lines: [periodLine(state.plan, state.interval, start, end)],
    coverage: [{ plan: state.plan, interval: state.interval, anchor, from: start, to: end, sign: 1 }],
    summary: `${what} ${planById(state.plan).name} ${state.interval}ly period ${periodIndex}`,
  };
}

/** Starts a cycle anchored at `at` (subscribe, pause end, restart): its first period is charged; the state changes on the outcome. */
export function startCycle(state: LifecycleState, at: number, reason: 'subscribe' | 'restart' | 'resume'): Step {
  const cycle = reason === 'subscribe' ? state.cycle : state.cycle + 1;
  return { state, effects: [], charge: periodCharge({ ...state, anchor: at, cycle }, 0, at, 0, { kind: 'first', reason, anchor: at, cycle }) };
}

/** A lower plan takes effect (at a renewal or where a pause starts): models above its limit are deactivated. */
export function applyDowngrade(state: LifecycleState, plan: string, at: number): { state: LifecycleState; effects: Effect[] } {
  return {
    state: { ...state, plan, scheduledChange: null },
    effects: [
      { kind: 'deactivate_models', plan, keep: planById(plan).customModelLimit },
      { kind: 'notify', notification: 'downgrade_applied', dedupeKey: keys.downgradeNotice(state, at), at, payload: { plan } },
    ],
  };
}

/**
 * The end of the last period (or at once, while past due): no further renewals, plan credits forfeited,
 * packs frozen. An unpaid renewal is voided first (`afterLapse`: paid meanwhile, it settles instead).
 */
export function endSubscription(state: LifecycleState, at: number, byRequest = false): Step {
  if (state.dunning) return { state, effects: [], lapse: { kind: 'dunning', invoiceId: state.dunning.invoiceId, at, byRequest } };
  const unpaid = [state.pendingChange?.invoiceId, state.incomplete?.invoiceId].filter((id): id is string => id !== undefined);
  return {
    state: {
      ...state, status: 'canceled', lots: [], currentLotExpiresAt: null, cancelAtPeriodEnd: false, scheduledChange: null,
      pause: null, dunning: null, pendingChange: null, incomplete: null,
    },
    effects: [
      ...unpaid.map((invoiceId): Effect => ({ kind: 'void', invoiceId })),
      { kind: 'end_plan_credits', key: keys.end(state, at), at },
    ],
  };
}

/** A payment failed: the customer is told (SPEC §6), once per attempt. */
export function paymentFailedNotice(invoiceId: string, attempt: number, at: number, payload: Record<string, unknown>): Effect {
  return { kind: 'notify', notification: 'payment_failed', dedupeKey: keys.paymentFailedNotice(invoiceId, attempt), at, payload: { invoice_id: invoiceId, ...payload } };
}
