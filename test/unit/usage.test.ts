import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DAY_MS, isWindowProblem, type JournalKindSums, MAX_USAGE_WINDOW_DAYS, reconcileUsage, type UsageGroupBy, usageGroups,
  type UsageRow, usageTotals, usageWindow, utcDay, utcDaysOf, type UsageWindow,
} from '../../domain/usage.js';
import { balanceChange } from '../../ledger/history.js';
import type { EntryKind } from '../../ledger/operations.js';

/**
 * The pure rules of GET /v1/usage (SPEC §11, domain/usage.ts). USAGE_SEED replays a run; USAGE_RUNS sets the
 * number of cases per property (default 500).
 */
const SEED = Number(process.env.USAGE_SEED ?? Math.floor(Math.random() * 2 ** 31));
const RUNS = Number(process.env.USAGE_RUNS ?? 500);
console.log(`[usage] seed ${SEED} (USAGE_SEED=${SEED} to replay)`);

const T0 = Date.UTC(2026, 0, 1);
const instant = fc.integer({ min: T0, max: T0 + 90 * DAY_MS }).map((t) => new Date(t));
const windowArb = fc.tuple(instant, fc.integer({ min: 1, max: 40 * DAY_MS })).map(([from, len]): UsageWindow => ({ from, to: new Date(from.getTime() + len) }));
const figures = { credits_captured: fc.nat(500), creations: fc.nat(20), creations_failed: fc.nat(5), creations_expired: fc.nat(5) };

/** Rows as the creations' aggregate returns them for a group_by: a day inside the window, a model (or null), a key. */
function rowsArb(groupBy: UsageGroupBy, window: UsageWindow) {
  const days = utcDaysOf(window);
  const key = groupBy === 'day' ? fc.constantFrom(...days)
    : groupBy === 'model' ? fc.constantFrom(null, 'imagen-3', 'veo-2', 'kling-2', 'unknown')
      : fc.constantFrom(null, 'key_a', 'key_b', 'key_c');
  return fc.array(fc.record({ key, ...figures }), { maxLength: 30 });
}

const sumOf = (rows: UsageRow[], field: keyof Omit<UsageRow, 'key'>) => rows.reduce((t, r) => t + r[field], 0);

describe('usage groups', () => {
  it(`groups sum to the total, and the total is every row's figures (seed ${SEED})`, () => {
    fc.assert(fc.property(
      fc.constantFrom<UsageGroupBy>('day', 'model', 'api_key').chain((groupBy) => windowArb.chain((window) =>
        rowsArb(groupBy, window).map((rows) => ({ groupBy, window, rows })))),
      ({ groupBy, window, rows }) => {
        const groups = usageGroups(groupBy, window, rows);
        const totals = usageTotals(groups);
        for (const field of ['credits_captured', 'creations', 'creations_failed', 'creations_expired'] as const) {
          expect(totals[field]).toBe(sumOf(groups, field));
          expect(totals[field]).toBe(sumOf(rows, field));
        }
        // One group per key: a key never appears twice.
        expect(new Set(groups.map((g) => g.key)).size).toBe(groups.length);
        if (groupBy === 'day') expect(groups.map((g) => g.key)).toEqual(utcDaysOf(window));
        if (groupBy === 'model') expect(groups.some((g) => g.key === null)).toBe(false);
      },
    ), { seed: SEED, numRuns: RUNS });
  });

  it('days are the UTC days a window touches, partial ends included', () => {
    expect(utcDaysOf({ from: new Date('2026-01-01T23:00:00Z'), to: new Date('2026-01-03T00:00:00Z') })).toEqual(['2026-01-01', '2026-01-02']);
    expect(utcDaysOf({ from: new Date('2026-01-01T00:00:00Z'), to: new Date('2026-01-01T00:00:00.001Z') })).toEqual(['2026-01-01']);
    expect(utcDaysOf({ from: new Date('2026-02-28T12:00:00Z'), to: new Date('2026-03-01T12:00:00Z') })).toEqual(['2026-02-28', '2026-03-01']);
  });

  it(`every day group holds exactly the instants of its UTC day (seed ${SEED})`, () => {
    fc.assert(fc.property(windowArb, fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), (window, f) => {
      const t = new Date(window.from.getTime() + Math.floor(f * (window.to.getTime() - window.from.getTime())));
      expect(utcDaysOf(window)).toContain(utcDay(t));
      const days = utcDaysOf(window);
      expect(days[0]).toBe(utcDay(window.from));
      expect(days[days.length - 1]).toBe(utcDay(new Date(window.to.getTime() - 1)));
    }), { seed: SEED, numRuns: RUNS });
  });
});

describe('usage window', () => {
  const now = new Date('2026-03-01T12:00:00Z');
  it('defaults to the 30 days up to the workspace\'s time', () => {
    expect(usageWindow({}, now)).toEqual({ from: new Date('2026-01-30T12:00:00Z'), to: now });
    expect(usageWindow({ from: new Date('2026-01-01T00:00:00Z') }, now)).toEqual({ from: new Date('2026-01-01T00:00:00Z'), to: new Date('2026-01-31T00:00:00Z') });
  });
  it('refuses to ≤ from and windows over 400 days, naming `to`', () => {
    expect(usageWindow({ from: now, to: now }, now)).toEqual({ field: 'to', message: 'must be after from' });
    const long = usageWindow({ from: new Date(now.getTime() - MAX_USAGE_WINDOW_DAYS * DAY_MS - 1), to: now }, now);
    expect(isWindowProblem(long) && long.field).toBe('to');
    expect(isWindowProblem(usageWindow({ from: new Date(now.getTime() - MAX_USAGE_WINDOW_DAYS * DAY_MS), to: now }, now))).toBe(false);
  });
});

const KINDS: EntryKind[] = ['grant', 'hold', 'capture', 'release', 'expire', 'freeze', 'thaw', 'forfeit', 'clawback', 'adjust'];
/** A signed amount as each kind journals it (grants, thaws and releases add; the rest take; adjustments either way). */
const amountOf = (kind: EntryKind, n: number) => (['grant', 'thaw', 'release'].includes(kind) ? n : kind === 'adjust' ? n - 50 : -n);

describe('usage reconciliation', () => {
  it(`the window's signed figures add up to the change of available balance between from and to (seed ${SEED})`, () => {
    fc.assert(fc.property(
      fc.array(fc.record({ kind: fc.constantFrom(...KINDS), n: fc.nat(100), gap: fc.integer({ min: 0, max: 3 * DAY_MS }) }), { maxLength: 60 }),
      fc.nat(), fc.nat(),
      (steps, a, b) => {
        // A journal whose balance_after is the running sum of balance changes (a capture changes nothing: its
        // credits left the balance when held), at non-decreasing instants (several may share one).
        let at = T0;
        let balance = 0;
        const entries = steps.map((s) => {
          at += s.gap;
          const amount = amountOf(s.kind, s.n);
          balance += balanceChange(s.kind, amount);
          return { kind: s.kind, amount, remaining_delta: s.kind === 'hold' ? 0 : amount, at, balance_after: balance };
        });
        const span = Math.max(1, at - T0 + 2);
        const [x, y] = [T0 + (a % span), T0 + (b % span)].sort((p, q) => p - q);
        const window = { from: x!, to: y! + 1 };
        const before = (t: number) => entries.filter((e) => e.at < t).at(-1)?.balance_after ?? 0;
        const inWindow = entries.filter((e) => e.at >= window.from && e.at < window.to);
        const sums: JournalKindSums[] = KINDS.map((kind) => ({
          kind,
          amount: inWindow.filter((e) => e.kind === kind).reduce((t, e) => t + e.amount, 0),
          remaining_delta: inWindow.filter((e) => e.kind === kind).reduce((t, e) => t + e.remaining_delta, 0),
        }));
        const r = reconcileUsage(sums, before(window.from), before(window.to));
        expect(r.net_change).toBe(r.closing_available - r.opening_available);
        const parts = [r.granted, r.adjusted, r.thawed, r.frozen, r.captured, r.expired, r.forfeited, r.clawed_back, r.held_change];
        expect(parts.reduce((t, v) => t + v, 0)).toBe(r.net_change);
        // Signs as documented: what takes credits is never positive.
        for (const taking of ['frozen', 'captured', 'expired', 'forfeited', 'clawed_back'] as const) expect(r[taking]).toBeLessThanOrEqual(0);
        expect(r.granted).toBeGreaterThanOrEqual(0);
      },
    ), { seed: SEED, numRuns: RUNS });
  });
});
