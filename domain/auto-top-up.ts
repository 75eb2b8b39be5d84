/**
 * The automatic top-up's rules (SPEC §11), pure: whether the worker may charge a recorded top-up now, how
 * failures count, and the calendar month the cap counts in. No I/O; billing/auto-top-up.ts executes.
 */
import { addMonthsClamped, MONTHLY_PERIOD_MS } from './calendar.js';
import type { Interval } from './catalog.js';
import type { SubscriptionStatus } from './lifecycle/status.js';

/** Failed top-ups in a row that disable automatic top-ups (SPEC §11: two). */
export const MAX_FAILURES_IN_ROW = 2;

/** Why a recorded top-up was not charged (its status becomes `skipped`). */
export type SkipReason = 'disabled' | 'recovered' | 'no_live_subscription' | 'past_due' | 'cancel_at_period_end' | 'monthly_limit';

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
  /** What recorded the top-up (an expiry is decided on the balance after its whole instant). */
  cause: 'capture' | 'expiry' | 'refusal';
  /** Credits available now, after every event due at the top-up's instant (see refreshAwaited). */
  available: number;
  /** Credits: the setting's threshold now. */
  threshold: number;
}

/**
 * Whether a recorded top-up may be charged now: still enabled; for one an expiry recorded, the balance after
 * that whole instant still below the threshold (a refresh due at the same instant, granted after the expiry,
 * usually lifts it: `recovered`); a live subscription that is neither past due nor set to cancel at the period
 * end (paused is fine); and the month's automatic top-ups, this one included, within the monthly limit.
 * Answers `charge` or the first reason to skip, in that order. Call it only once refreshAwaited is false.
 */
export function chargeDecision(check: ChargeCheck): { charge: true } | { charge: false; reason: SkipReason } {
  if (!check.enabled) return { charge: false, reason: 'disabled' };
  if (check.cause === 'expiry' && check.available >= check.threshold) return { charge: false, reason: 'recovered' };
  const sub = check.subscription;
  if (!sub || !['active', 'past_due', 'paused'].includes(sub.status)) return { charge: false, reason: 'no_live_subscription' };
  if (sub.status === 'past_due') return { charge: false, reason: 'past_due' };
  if (sub.cancel_at_period_end) return { charge: false, reason: 'cancel_at_period_end' };
  if (check.spentThisMonthCents + check.priceCents > check.monthlyLimitCents) return { charge: false, reason: 'monthly_limit' };
  return { charge: true };
}

/** The subscription as refreshAwaited reads it (its projection row). */
export interface RefreshSchedule {
  status: SubscriptionStatus;
  interval: Interval;
  /** Start of the current billing period: the refresh schedule's anchor as far as it is known. */
  current_period_start: Date;
}

/**
 * Whether the subscription's credit refresh due at instant `at` (SPEC §2) is still to come: the subscription is
 * active, `at` is one of its refresh instants, and no refresh lot was granted at or after `at` yet. The
 * workflow processes an instant's expiry before its refresh (README), and a renewal's grant waits for its
 * payment, so a top-up an expiry recorded at `at` is decided only after that refresh: granted (a lot since
 * `at`), failed (past due), or not happening (paused, canceled). Monthly refreshes are 30 days apart from the
 * period start; yearly ones are monthly on the period start's day (exact for anchor days up to the 28th; a
 * clamped anchor day is compared from the clamped period start).
 */
export function refreshAwaited(at: Date, sub: RefreshSchedule | undefined, refreshGrantedSinceAt: boolean): boolean {
  if (!sub || sub.status !== 'active' || refreshGrantedSinceAt) return false;
  const start = sub.current_period_start.getTime();
  const t = at.getTime();
  if (t < start) return false;
  if (sub.interval === 'month') return (t - start) % MONTHLY_PERIOD_MS === 0;
  for (let k = 0; k <= 12; k++) if (addMonthsClamped(start, k) === t) return true;
  return false;
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
