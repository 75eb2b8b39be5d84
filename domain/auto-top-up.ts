/**
 * The automatic top-up's rules (SPEC §11), pure: whether the worker may charge a recorded top-up now, how
 * failures count, and the calendar month the cap counts in. No I/O; billing/auto-top-up.ts executes.
 */
import type { SubscriptionStatus } from './lifecycle/status.js';

/** Failed top-ups in a row that disable automatic top-ups (SPEC §11: two). */
export const MAX_FAILURES_IN_ROW = 2;

/** Why a recorded top-up was not charged (its status becomes `skipped`). */
export type SkipReason = 'disabled' | 'no_live_subscription' | 'past_due' | 'cancel_at_period_end' | 'monthly_limit';

export interface ChargeCheck {
  /** The setting as it is now (it may have changed since the crossing). */
  enabled: boolean;
  /** The workspace's current subscription, if any. */
  subscription: { status: SubscriptionStatus; cancel_at_period_end: boolean } | undefined;
  /** Cents of automatic top-ups paid or in flight in the cap's month, this one excluded. */
  spentThisMonthCents: number;
  /** What this pack costs now (the invoice total, cents). */
  priceCents: number;
  monthlyLimitCents: number;
}

/**
 * Whether a recorded top-up may be charged now: still enabled; a live subscription that is neither past due
 * nor set to cancel at the period end (paused is fine); and the month's automatic top-ups, this one
 * included, within the monthly limit. Answers `charge` or the first reason to skip, in that order.
 */
export function chargeDecision(check: ChargeCheck): { charge: true } | { charge: false; reason: SkipReason } {
  if (!check.enabled) return { charge: false, reason: 'disabled' };
  const sub = check.subscription;
  if (!sub || !['active', 'past_due', 'paused'].includes(sub.status)) return { charge: false, reason: 'no_live_subscription' };
  if (sub.status === 'past_due') return { charge: false, reason: 'past_due' };
  if (sub.cancel_at_period_end) return { charge: false, reason: 'cancel_at_period_end' };
  if (check.spentThisMonthCents + check.priceCents > check.monthlyLimitCents) return { charge: false, reason: 'monthly_limit' };
  return { charge: true };
}

/**
 * The failure count after a top-up ends: a paid one resets it, a failed one adds one and disables automatic
 * top-ups at MAX_FAILURES_IN_ROW; a skipped one changes nothing (it never reached the card).
 */
export function afterOutcome(failuresInRow: number, outcome: 'paid' | 'failed' | 'skipped'): { failuresInRow: number; disable: boolean } {
  if (outcome === 'paid') return { failuresInRow: 0, disable: false };
  if (outcome === 'skipped') return { failuresInRow, disable: false };
  const failures = failuresInRow + 1;
  return { failuresInRow: failures, disable: failures >= MAX_FAILURES_IN_ROW };
}

/** The calendar month (UTC) of an instant, `[start, end)`, and its key `YYYY-MM`: the cap's window. */
export function capMonth(at: Date): { key: string; start: Date; end: Date } {
  const start = new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1));
  const end = new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + 1, 1));
  return { key: start.toISOString().slice(0, 7), start, end };
}

/** Whether a monthly limit allows at least one pack at `packPriceCents` (a lower one is refused as input). */
export function limitAllowsOnePack(monthlyLimitCents: number, packPriceCents: number): boolean {
  return monthlyLimitCents >= packPriceCents;
}
