/**
 * Time rules (SPEC §2), pure and deterministic so workflows, activities and the API share them.
 * All instants are epoch milliseconds, UTC.
 *
 * Refreshes are numbered from 0 at the anchor. A monthly plan refreshes at each 30-day period start;
 * a yearly plan refreshes every calendar month on the anchor's day (clamped), twelve per period.
 * Refresh i therefore opens a billing period exactly when i is a multiple of refreshesPerPeriod.
 */
import type { Interval } from './catalog.js';

export const DAY_MS = 86_400_000;
export const MONTHLY_PERIOD_MS = 30 * DAY_MS;
export const ROLLOVER_MS = 30 * DAY_MS;

function daysInMonth(year: number, monthIndex: number): number {
  return new Date(Date.UTC(year, monthIndex + 1, 0)).getUTCDate();
}

/**
 * The anchor moved by whole calendar months, keeping its day and time of day; a day the target
 * month lacks is clamped to the month's last day. Always computed from the anchor, never chained,
 * so 31 Jan → 28 Feb → 31 Mar.
 */
export function addMonthsClamped(anchorMs: number, months: number): number {
  const a = new Date(anchorMs);
  const totalMonths = a.getUTCFullYear() * 12 + a.getUTCMonth() + months;
  const year = Math.floor(totalMonths / 12);
  const month = totalMonths - year * 12;
  const day = Math.min(a.getUTCDate(), daysInMonth(year, month));
  const timeOfDay = anchorMs - Date.UTC(a.getUTCFullYear(), a.getUTCMonth(), a.getUTCDate());
  return Date.UTC(year, month, day) + timeOfDay;
}

export function refreshesPerPeriod(interval: Interval): number {
  return interval === 'month' ? 1 : 12;
}

/** Instant of refresh i (i = 0 is the anchor). */
export function refreshAt(anchorMs: number, interval: Interval, i: number): number {
  return interval === 'month' ? anchorMs + MONTHLY_PERIOD_MS * i : addMonthsClamped(anchorMs, i);
}

/** Start of billing period n. */
export function periodStart(anchorMs: number, interval: Interval, n: number): number {
  return refreshAt(anchorMs, interval, n * refreshesPerPeriod(interval));
}

export function periodBounds(anchorMs: number, interval: Interval, n: number): { start: number; end: number } {
  return { start: periodStart(anchorMs, interval, n), end: periodStart(anchorMs, interval, n + 1) };
}

/** A refresh lot expires 30 days after the next scheduled refresh, fixed when it is granted. */
export function refreshLotExpiry(anchorMs: number, interval: Interval, i: number): number {
  return refreshAt(anchorMs, interval, i + 1) + ROLLOVER_MS;
}

/** Does refresh i open a new billing period (and so need a charge before its grant)? */
export function opensPeriod(interval: Interval, i: number): boolean {
  return i % refreshesPerPeriod(interval) === 0;
}

export function periodOfRefresh(interval: Interval, i: number): number {
  return Math.floor(i / refreshesPerPeriod(interval));
}

/** The UTC calendar day of an instant, e.g. 2026-01-31 (for summaries and invoice lines). */
export function isoDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}
