/**
 * Plan changes (SPEC §4 Upgrade, Downgrade, Interval switch): what a change is, its invoice and credits,
 * and what it does once paid. Money uses the remaining fraction r of the billing period; credits use
 * the remaining fraction r_refresh of the current refresh interval (credit-aware proration).
 */
import { periodBounds } from '../calendar.js';
import { findPlan, type Interval, planById, priceCents } from '../catalog.js';
import { intervalSwitchLines, prorateCredits, remainingFraction, upgradeLines } from '../proration.js';
import { refuse } from '../refusals.js';
import { grantRefresh } from './cycle.js';
import { type Charge, type Coverage, type Effect, keys, planLabel } from './effects.js';
import { currentPeriod, currentRefreshInterval, UNPAID_TTL_MS } from './schedule.js';
import type { LifecycleState, PendingChange } from './state.js';

export interface ChangeRequest {
  plan?: string;
  interval?: Interval;
}

export type PlannedChange =
  | { kind: 'downgrade'; plan: string; effectiveAt: number }
  | { kind: 'upgrade' | 'interval_switch'; charge: Charge };

export function assertChangeAllowed(state: LifecycleState): void {
  if (state.status !== 'active') refuse('subscription_not_active', `a ${state.status} subscription cannot change plan`);
  if (state.cancelAtPeriodEnd) refuse('subscription_canceling', 'the subscription ends at the period end; resume it first');
  if (state.pendingChange) refuse('change_pending', 'a change is waiting for payment authentication');
}

/**
 * Decides what a plan/interval change is at `at` and prices it. Throws a Refusal when not allowed.
 * A different interval is an interval switch (immediate) even when the plan is also lower.
 */
export function planChange(state: LifecycleState, request: ChangeRequest, at: number): PlannedChange {
  assertChangeAllowed(state);
  const planId = request.plan ?? state.plan;
  const interval = request.interval ?? state.interval;
  const target = findPlan(planId) ?? refuse('unknown_plan', `no plan ${planId}`, { field: 'plan' });
  if (planId === state.plan && interval === state.interval) refuse('same_plan', `already on ${planLabel(planId, interval)}`);
  const current = planById(state.plan);
  const period = currentPeriod(state);
  const r = remainingFraction(period.start, period.end, at);
  const refresh = currentRefreshInterval(state);
  const rRefresh = remainingFraction(refresh.start, refresh.end, at);
  const kind = interval !== state.interval ? 'interval_switch' : target.tier < current.tier ? 'downgrade' : 'upgrade';
  if (kind === 'downgrade') return { kind, plan: planId, effectiveAt: period.end };
  const oldLabel = planLabel(state.plan, state.interval);
  const newLabel = planLabel(planId, interval);
  const unused: Coverage = { plan: state.plan, interval: state.interval, anchor: state.anchor, from: Math.max(at, period.start), to: period.end, sign: -1 };
  // Switch: the unused money is credited back while the current lot stays, so its unused part is deducted;
  // what the new plan's credits cannot cover of it is taken back from that lot (switching never creates credits).
  const unusedCredits = kind === 'upgrade' ? 0 : prorateCredits(current.monthlyCredits, rRefresh);
  const credits = kind === 'upgrade'
    ? prorateCredits(target.monthlyCredits - current.monthlyCredits, rRefresh)
    : Math.max(0, target.monthlyCredits - unusedCredits);
  const clawBack = Math.max(0, unusedCredits - target.monthlyCredits);
  const lines = kind === 'upgrade'
    ? upgradeLines(oldLabel, priceCents(current, interval), newLabel, priceCents(target, interval), r)
    : intervalSwitchLines(oldLabel, priceCents(current, state.interval), newLabel, priceCents(target, interval), r);
  const coverage: Coverage[] = kind === 'upgrade'
    ? [unused, { plan: planId, interval, anchor: state.anchor, from: unused.from, to: period.end, sign: 1 }]
    : [unused, { plan: planId, interval, anchor: at, from: at, to: periodBounds(at, interval, 0).end, sign: 1 }];
  return {
    kind,
    charge: {
      businessKey: keys.change(state, kind, planId, interval, at), invoiceKind: kind, lines, coverage, at, attempt: 0,
      summary: `${kind.replace('_', ' ')} to ${planLabel(planId, interval)}`,
      purpose: {
        kind: 'change', change: { kind, plan: planId, interval, credits, clawBack, requestedAt: at },
        // Priced for this refresh interval: unpaid, it lapses after 23 hours or at the interval's end.
        deadline: Math.min(at + UNPAID_TTL_MS, refresh.end),
      },
    },
  };
}

/**
 * A paid upgrade or interval switch takes effect (at once, or when 3-D Secure completes). An upgrade
 * tops up the current refresh lot (same expiry) and clears a scheduled downgrade; an interval switch
 * starts a new cycle at the request instant with its credit-aware lot, clearing scheduled changes and pauses.
 */
export function applyPaidChange(
  state: LifecycleState, change: Omit<PendingChange, 'invoiceId' | 'deadline'>, paidAt: number,
): { state: LifecycleState; effects: Effect[] } {
  const cleared: LifecycleState = { ...state, scheduledChange: null, pendingChange: null };
  if (change.kind === 'upgrade') {
    const upgraded = { ...cleared, plan: change.plan };
    if (change.credits <= 0 || state.currentLotExpiresAt === null) return { state: upgraded, effects: [] };
    const key = keys.upgradeGrant(state, change.plan, change.requestedAt);
    const expiresAt = state.currentLotExpiresAt;
    return {
      state: { ...upgraded, lots: [...upgraded.lots, { key, expiresAt }] },
      effects: [{ kind: 'grant', key, source: 'upgrade', reason: 'change', credits: change.credits, grantedAt: paidAt, expiresAt, summary: `upgrade: grant ${change.credits} credits` }],
    };
  }
  const switched: LifecycleState = { ...cleared, plan: change.plan, interval: change.interval, anchor: change.requestedAt, cycle: state.cycle + 1, pause: null };
  const granted = grantRefresh(switched, 0, paidAt, change.credits, 'change');
  const effects: Effect[] = [];
  if (planById(change.plan).customModelLimit < planById(state.plan).customModelLimit) {
    effects.push({ kind: 'deactivate_models', keep: planById(change.plan).customModelLimit });
  }
  if (change.clawBack > 0) {
    // The newest allocation first: the lots that would last longest (the current refresh lot and its top-ups).
    const grantKeys = [...state.lots].sort((a, b) => b.expiresAt - a.expiresAt).map((lot) => lot.key);
    effects.push({ kind: 'claw_back', key: keys.switchClawBack(state, change.requestedAt), grantKeys, credits: change.clawBack, at: paidAt });
  }
  return { state: granted.state, effects: [...effects, ...granted.effects] };
}
