import { describe, expect, it } from 'vitest';
import {
  addMonthsClamped, opensPeriod, periodBounds, periodOfRefresh, refreshAt, refreshLotExpiry,
} from '../../domain/calendar.js';

const t = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();

describe('monthly plans: exactly 30-day periods from the anchor', () => {
  const anchor = t('2026-01-01T00:00:00Z');
  it.each([
    [0, '2026-01-01T00:00:00.000Z', '2026-01-31T00:00:00.000Z'],
    [1, '2026-01-31T00:00:00.000Z', '2026-03-02T00:00:00.000Z'],
    [2, '2026-03-02T00:00:00.000Z', '2026-04-01T00:00:00.000Z'],
    [12, '2026-12-27T00:00:00.000Z', '2027-01-26T00:00:00.000Z'],
  ])('period %i is [%s, %s)', (n, start, end) => {
    const bounds = periodBounds(anchor, 'month', n);
    expect([iso(bounds.start), iso(bounds.end)]).toEqual([start, end]);
  });

  it('refreshes at every period start, and each refresh opens a period', () => {
    expect(iso(refreshAt(anchor, 'month', 2))).toBe('2026-03-02T00:00:00.000Z');
    expect([0, 1, 2].every((i) => opensPeriod('month', i) && periodOfRefresh('month', i) === i)).toBe(true);
  });

  it('expires each lot 30 days after the next refresh (SPEC example 1)', () => {
    expect(iso(refreshLotExpiry(anchor, 'month', 0))).toBe('2026-03-02T00:00:00.000Z'); // lot A
    expect(iso(refreshLotExpiry(anchor, 'month', 1))).toBe('2026-04-01T00:00:00.000Z'); // lot B
    expect(iso(refreshLotExpiry(anchor, 'month', 2))).toBe('2026-05-01T00:00:00.000Z'); // lot C
  });

  it('keeps the time of day of a mid-day anchor', () => {
    expect(iso(refreshAt(t('2026-01-11T15:30:00Z'), 'month', 1))).toBe('2026-02-10T15:30:00.000Z');
  });
});

describe('yearly plans: same calendar day and time, clamped to the month end', () => {
  it('renews a 29 February anchor on 28 February, and on 29 February again in leap years (SPEC example 6)', () => {
    const anchor = t('2028-02-29T09:00:00Z');
    expect([1, 2, 3, 4].map((n) => iso(periodBounds(anchor, 'year', n).start))).toEqual([
      '2029-02-28T09:00:00.000Z', '2030-02-28T09:00:00.000Z', '2031-02-28T09:00:00.000Z', '2032-02-29T09:00:00.000Z',
    ]);
  });

  it('refreshes every calendar month on the anchor day, twelve per period (SPEC example 6)', () => {
    const anchor = t('2028-02-29T09:00:00Z');
    const refreshes = Array.from({ length: 13 }, (_, i) => iso(refreshAt(anchor, 'year', i)).slice(0, 10));
    expect(refreshes).toEqual([
      '2028-02-29', '2028-03-29', '2028-04-29', '2028-05-29', '2028-06-29', '2028-07-29', '2028-08-29',
      '2028-09-29', '2028-10-29', '2028-11-29', '2028-12-29', '2029-01-29', '2029-02-28',
    ]);
    expect(refreshes.map((_, i) => opensPeriod('year', i))).toEqual([true, ...Array(11).fill(false), true]);
    expect(periodOfRefresh('year', 11)).toBe(0);
    expect(periodOfRefresh('year', 12)).toBe(1);
  });

  it('clamps from the anchor, never from the previous clamped date: 31 Jan → 28 Feb → 31 Mar → 30 Apr', () => {
    const anchor = t('2026-01-31T12:00:00Z');
    expect([1, 2, 3].map((k) => iso(addMonthsClamped(anchor, k)))).toEqual([
      '2026-02-28T12:00:00.000Z', '2026-03-31T12:00:00.000Z', '2026-04-30T12:00:00.000Z',
    ]);
  });

  it('crosses year ends and handles negative-free month arithmetic', () => {
    expect(iso(addMonthsClamped(t('2026-11-30T00:00:00Z'), 3))).toBe('2027-02-28T00:00:00.000Z');
    expect(iso(addMonthsClamped(t('2027-12-31T23:59:59Z'), 2))).toBe('2028-02-29T23:59:59.000Z');
  });

  it('expires a yearly plan lot 30 days after the next monthly refresh (SPEC example 4: 01-11 → 02-11 + 30 days)', () => {
    expect(iso(refreshLotExpiry(t('2026-01-11T00:00:00Z'), 'year', 0))).toBe('2026-03-13T00:00:00.000Z');
    // The last refresh of a yearly period expires 30 days after the renewal.
    expect(iso(refreshLotExpiry(t('2028-02-29T09:00:00Z'), 'year', 11))).toBe('2029-03-30T09:00:00.000Z');
  });
});
