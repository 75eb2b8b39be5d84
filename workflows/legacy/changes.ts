/**
 * Pure decisions about customer requests: whether one is allowed now, and what it costs. Used by the
 * Update validators (so a refused request leaves no trace in history) and by the handlers.
 */
import { ApplicationFailure } from '@temporalio/workflow';
import { periodBounds, periodOfRefresh, refreshAt } from '../../domain/calendar.js';
import { findPlan, type Interval, planById, priceCents } from '../../domain/catalog.js';
import { type Fraction, intervalSwitchLines, type InvoiceLine, prorateCredits, remainingFraction, upgradeLines } from '../../domain/proration.js';
import type { SubscriptionState } from './types.js';

/** A refusal the API maps to a problem response: `code` is stable, `status` the HTTP status. */
export function refuse(code: string, message: string, status = 409): never {
  throw ApplicationFailure.create({ type: code, message, nonRetryable: true, details: [status] });
}

/** The period last opened: while a renewal is past due, the one being charged for. */
export function currentPeriod(state: SubscriptionState): { index: number; start: number; end: number } {
  const refresh = state.dunning ? state.dunning.refreshIndex : Math.max(state.nextRefresh - 1, 0);
  const index = periodOfRefresh(state.interval, refresh);
  return { index, ...periodBounds(state.anchor, state.interval, index) };
}

export type PlannedChange =
  | { kind: 'downgrade'; plan: string; effectiveAt: number }
  | { kind: 'upgrade'; plan: string; lines: InvoiceLine[]; credits: number }
  | { kind: 'interval_switch'; plan: string; interval: Interval; lines: InvoiceLine[] };

function label(planId: string, interval: Interval): string {
  return `${planById(planId).name} (${interval === 'month' ? 'monthly' : 'yearly'})`;
}

export function assertChangeAllowed(state: SubscriptionState): void {
  if (state.status !== 'active') refuse('subscription_not_active', `a ${state.status} subscription cannot change plan`);
  if (state.cancelAtPeriodEnd) refuse('subscription_canceling', 'the subscription ends at the period end; resume it first');
  if (state.pendingChange) refuse('change_pending', 'a change is waiting for payment authentication');
}

/** Decides what a plan/interval change is and prices it at `at`. Throws a refusal when not allowed. */
export function planChange(state: SubscriptionState, request: { plan?: string; interval?: Interval }, at: number): PlannedChange {
  assertChangeAllowed(state);
  const planId = request.plan ?? state.plan;
  const interval = request.interval ?? state.interval;
  const target = findPlan(planId);
  if (!target) refuse('unknown_plan', `no plan ${planId}`, 400);
  if (planId === state.plan && interval === state.interval) refuse('same_plan', `already on ${label(planId, interval)}`);
  const current = planById(state.plan);
  const period = currentPeriod(state);
  const r = remainingFraction(period.start, period.end, at);
  if (interval !== state.interval) {
    return {
      kind: 'interval_switch', plan: planId, interval,
      lines: intervalSwitchLines(label(state.plan, state.interval), priceCents(current, state.interval),
        label(planId, interval), priceCents(target, interval), r),
    };
  }
  if (target.tier < current.tier) return { kind: 'downgrade', plan: planId, effectiveAt: period.end };
  return {
    kind: 'upgrade', plan: planId,
    lines: upgradeLines(label(state.plan, interval), priceCents(current, interval), label(planId, interval), priceCents(target, interval), r),
    credits: prorateCredits(target.monthlyCredits - current.monthlyCredits, refreshFraction(state, at)),
  };
}

/**
 * Credit-aware proration uses the remaining part of the current refresh interval: for monthly plans
 * that is the period itself; for yearly plans, the current month (its lot is what the upgrade tops up).
 */
function refreshFraction(state: SubscriptionState, at: number): Fraction {
  const last = Math.max(state.nextRefresh - 1, 0);
  return remainingFraction(refreshAt(state.anchor, state.interval, last), refreshAt(state.anchor, state.interval, last + 1), at);
}

export function assertPauseAllowed(state: SubscriptionState, cycles: number): void {
  if (!Number.isInteger(cycles) || cycles < 1 || cycles > 3) refuse('invalid_request', 'cycles must be 1, 2 or 3', 400);
  if (state.status === 'paused' || state.pause) refuse('already_paused', 'the subscription is already paused or pausing');
  if (state.status !== 'active') refuse('subscription_not_active', `a ${state.status} subscription cannot be paused`);
  if (state.cancelAtPeriodEnd) refuse('subscription_canceling', 'the subscription ends at the period end; resume it first');
}

export function assertCancelAllowed(state: SubscriptionState): void {
  if (state.status === 'canceled' || state.status === 'incomplete') refuse('not_cancelable', `a ${state.status} subscription cannot be canceled`);
  if (state.cancelAtPeriodEnd) refuse('already_canceling', 'the subscription already ends at the period end');
}

export type Resumption = 'withdraw_cancel' | 'withdraw_pause' | 'end_pause' | 'restart';

export function resumption(state: SubscriptionState): Resumption {
  if (state.cancelAtPeriodEnd) return 'withdraw_cancel';
  if (state.status === 'paused') return 'end_pause';
  if (state.pause) return 'withdraw_pause';
  if (state.status === 'canceled') return 'restart';
  return refuse('nothing_to_resume', 'the subscription is neither canceling, paused nor canceled');
}

export function assertWithdrawAllowed(state: SubscriptionState): void {
  if (!state.scheduledChange) refuse('no_scheduled_change', 'no change is scheduled');
}
