import { describe, expect, it } from 'vitest';
import { afterOutcome, capMonth, chargeDecision, type ChargeCheck, limitAllowsOnePack, refreshAwaited, type RefreshSchedule } from '../../domain/auto-top-up.js';

/** The automatic top-up's pure rules (SPEC §11), table-tested. */
describe('automatic top-up rules', () => {
  const ok: ChargeCheck = {
    enabled: true, subscription: { status: 'active', cancel_at_period_end: false }, spentThisMonthCents: 0, priceCents: 800, monthlyLimitCents: 1600,
    cause: 'capture', available: 10, threshold: 100,
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
    ['an expiry whose instant left the balance below', { ...ok, cause: 'expiry', available: 99 }, { charge: true }],
    ['an expiry whose instant\'s refresh lifted the balance', { ...ok, cause: 'expiry', available: 100 }, { charge: false, reason: 'recovered' }],
    ['recovered before the other reasons', { ...ok, cause: 'expiry', available: 800, subscription: { status: 'past_due', cancel_at_period_end: false } }, { charge: false, reason: 'recovered' }],
    ['disabled before recovered', { ...ok, cause: 'expiry', available: 800, enabled: false }, { charge: false, reason: 'disabled' }],
    ['a capture is decided on its crossing (SPEC §11), not re-read', { ...ok, cause: 'capture', available: 800 }, { charge: true }],
    ['a refusal too', { ...ok, cause: 'refusal', available: 800 }, { charge: true }],
  ] as const)('charge decision: %s', (_name, check, expected) => {
    expect(chargeDecision(check as ChargeCheck)).toEqual(expected);
  });

  const monthly: RefreshSchedule = { status: 'active', interval: 'month', current_period_start: new Date('2026-01-31T00:00:00Z') };
  const yearly: RefreshSchedule = { status: 'active', interval: 'year', current_period_start: new Date('2026-01-15T00:00:00Z') };
  it.each([
    ['monthly: the renewal at the period end, not granted yet', '2026-03-02T00:00:00Z', monthly, false, true],
    ['monthly: granted since', '2026-03-02T00:00:00Z', monthly, true, false],
    ['monthly: the current period start, its refresh not granted yet (projection already moved)', '2026-01-31T00:00:00Z', monthly, false, true],
    ['monthly: no refresh at that instant (an adjustment lot expiring mid-period)', '2026-02-10T00:00:00Z', monthly, false, false],
    ['monthly: a millisecond later', '2026-03-02T00:00:00.001Z', monthly, false, false],
    ['past due: the renewal failed, nothing to wait for', '2026-03-02T00:00:00Z', { ...monthly, status: 'past_due' }, false, false],
    ['paused: no refresh while paused', '2026-03-02T00:00:00Z', { ...monthly, status: 'paused' }, false, false],
    ['canceled', '2026-03-02T00:00:00Z', { ...monthly, status: 'canceled' }, false, false],
    ['yearly: a monthly refresh on the anchor day (April has 30 days: the March lot expires at the May refresh)', '2026-05-15T00:00:00Z', yearly, false, true],
    ['yearly: the renewal a year on', '2027-01-15T00:00:00Z', yearly, false, true],
    ['yearly: not a refresh day', '2026-05-14T00:00:00Z', yearly, false, false],
  ] as const)('refresh awaited: %s', (_name, at, sub, granted, expected) => {
    expect(refreshAwaited(new Date(at), sub as RefreshSchedule, granted)).toBe(expected);
  });
  it('refresh awaited: no subscription', () => expect(refreshAwaited(new Date('2026-03-02T00:00:00Z'), undefined, false)).toBe(false));

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
