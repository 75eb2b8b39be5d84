import { describe, expect, it } from 'vitest';
import { afterOutcome, capMonth, chargeDecision, type ChargeCheck, limitAllowsOnePack } from '../../domain/auto-top-up.js';

/** The automatic top-up's pure rules (SPEC §11), table-tested. */
describe('automatic top-up rules', () => {
  const ok: ChargeCheck = {
    enabled: true, subscription: { status: 'active', cancel_at_period_end: false }, spentThisMonthCents: 0, priceCents: 800, monthlyLimitCents: 1600,
  };
  it.each([
    ['enabled, active, within the cap', ok, { charge: true }],
    ['paused is fine', { ...ok, subscription: { status: 'paused', cancel_at_period_end: false } }, { charge: true }],
    ['exactly at the cap with this one', { ...ok, spentThisMonthCents: 800 }, { charge: true }],
    ['over the cap with this one', { ...ok, spentThisMonthCents: 801 }, { charge: false, reason: 'monthly_limit' }],
    ['disabled since the crossing', { ...ok, enabled: false }, { charge: false, reason: 'disabled' }],
    ['no subscription', { ...ok, subscription: undefined }, { charge: false, reason: 'no_live_subscription' }],
    ['canceled', { ...ok, subscription: { status: 'canceled', cancel_at_period_end: false } }, { charge: false, reason: 'no_live_subscription' }],
    ['incomplete', { ...ok, subscription: { status: 'incomplete', cancel_at_period_end: false } }, { charge: false, reason: 'no_live_subscription' }],
    ['past due', { ...ok, subscription: { status: 'past_due', cancel_at_period_end: false } }, { charge: false, reason: 'past_due' }],
    ['cancel at the period end', { ...ok, subscription: { status: 'active', cancel_at_period_end: true } }, { charge: false, reason: 'cancel_at_period_end' }],
  ] as const)('charge decision: %s', (_name, check, expected) => {
    expect(chargeDecision(check as ChargeCheck)).toEqual(expected);
  });

  it.each([
    [0, 'paid', { failuresInRow: 0, disable: false }],
    [1, 'paid', { failuresInRow: 0, disable: false }],
    [0, 'failed', { failuresInRow: 1, disable: false }],
    [1, 'failed', { failuresInRow: 2, disable: true }],
    [1, 'skipped', { failuresInRow: 1, disable: false }],
  ] as const)('failures in a row: %i then %s', (before, outcome, expected) => {
    expect(afterOutcome(before, outcome)).toEqual(expected);
  });

  it('the cap month is the calendar month (UTC), end exclusive, across a year end and February', () => {
    expect(capMonth(new Date('2026-12-31T23:59:59.999Z'))).toEqual({
      key: '2026-12', start: new Date('2026-12-01T00:00:00Z'), end: new Date('2027-01-01T00:00:00Z'),
    });
    expect(capMonth(new Date('2028-02-29T12:00:00Z')).end).toEqual(new Date('2028-03-01T00:00:00Z'));
    expect(capMonth(new Date('2027-01-01T00:00:00Z')).key).toBe('2027-01');
  });

  it('a monthly limit must allow one pack', () => {
    expect(limitAllowsOnePack(800, 800)).toBe(true);
    expect(limitAllowsOnePack(799, 800)).toBe(false);
  });
});
