import { describe, expect, it } from 'vitest';
import { intervalSwitchLines, prorateCents, prorateCredits, remainingFraction, upgradeLines } from '../../domain/proration.js';

const t = (iso: string) => Date.parse(iso);

describe('proration in exact integer arithmetic', () => {
  it('SPEC example 2: Plus → Max on 01-11 of [01-01, 01-31): lines −800 and +1933, 166 credits', () => {
    const r = remainingFraction(t('2026-01-01T00:00Z'), t('2026-01-31T00:00Z'), t('2026-01-11T00:00Z'));
    expect(r).toEqual({ remainingMs: 20 * 86_400_000, totalMs: 30 * 86_400_000 });
    const lines = upgradeLines('Plus', 1200, 'Max', 2900, r);
    expect(lines.map((l) => l.amount_cents)).toEqual([-800, 1933]);
    expect(lines[0]!.description).toBe('Unused time on Plus');
    expect(prorateCredits(400 - 150, r)).toBe(166);
  });

  it('SPEC example 4: Max monthly → yearly on 01-11: −1933 and +20880', () => {
    const r = remainingFraction(t('2026-01-01T00:00Z'), t('2026-01-31T00:00Z'), t('2026-01-11T00:00Z'));
    expect(intervalSwitchLines('Max (monthly)', 2900, 'Max (yearly)', 20880, r).map((l) => l.amount_cents)).toEqual([-1933, 20880]);
  });

  it('SPEC example 5: Max yearly → monthly on 2026-07-02, 183 of 365 days left: −10469 and +2900', () => {
    const r = remainingFraction(t('2026-01-01T00:00Z'), t('2027-01-01T00:00Z'), t('2026-07-02T00:00Z'));
    expect(r.remainingMs / 86_400_000).toBe(183);
    expect(intervalSwitchLines('Max (yearly)', 20880, 'Max (monthly)', 2900, r).map((l) => l.amount_cents)).toEqual([-10469, 2900]);
  });

  it('rounds half up, credits down, and clamps outside the period', () => {
    expect(prorateCents(1, { remainingMs: 1, totalMs: 2 })).toBe(1);
    expect(prorateCents(-1, { remainingMs: 1, totalMs: 2 })).toBe(-1);
    expect(prorateCents(3, { remainingMs: 1, totalMs: 2 })).toBe(2);
    expect(prorateCredits(5, { remainingMs: 1, totalMs: 2 })).toBe(2);
    expect(remainingFraction(0, 10, 15)).toEqual({ remainingMs: 0, totalMs: 10 });
    expect(remainingFraction(0, 10, -5)).toEqual({ remainingMs: 10, totalMs: 10 });
    // Team yearly over a leap year to the millisecond stays exact.
    expect(prorateCents(215280, { remainingMs: 366 * 86_400_000 - 1, totalMs: 366 * 86_400_000 })).toBe(215280);
  });
});
