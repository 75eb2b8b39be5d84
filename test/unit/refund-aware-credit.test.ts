import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PaidSubscriptionInvoice } from '../../domain/billing/proration-credits.js';
import { deductibleCredits, periodInForceMoney, unusedTimeCredit } from '../../domain/billing/refund-aware-credit.js';
import { type Interval, PLANS, planById, priceCents } from '../../domain/catalog.js';
import { type ChargePurpose, initialState, type LedgerView, type LifecycleState, planChange } from '../../domain/lifecycle/index.js';
import { prorateCents, remainingFraction } from '../../domain/proration.js';
import { periodBounds } from '../../domain/calendar.js';

const DAY = 86_400_000;
const JAN_1 = Date.UTC(2026, 0, 1);
const invoice = (id: string, kind: PaidSubscriptionInvoice['kind'], lines: { description: string; amount_cents: number }[], refundedCents = 0): PaidSubscriptionInvoice =>
  ({ id, number: null, kind, totalCents: lines.reduce((s, l) => s + l.amount_cents, 0), lines, refundedCents });
/** A subscription paid for its first period and active (its first lot granted). */
const active = (plan: string, interval: Interval, anchor = JAN_1): LifecycleState => {
  const end = periodBounds(anchor, interval, 0).end;
  return { ...initialState({ subscriptionId: 'sub_1', plan, interval, startedAt: anchor }), status: 'active', nextRefresh: 1, lots: [{ key: 'lot0', expiresAt: end + 30 * DAY }], currentLotExpiresAt: end + 30 * DAY };
};
/** The first invoice of `state`'s plan, `refunded` cents of it refunded. */
const paidFirst = (state: LifecycleState, refunded: number): LedgerView['periodInForce'] =>
  periodInForceMoney([invoice('in_0', 'subscription', [{ description: 'plan', amount_cents: priceCents(planById(state.plan), state.interval) }], refunded)]);
const priced = (state: LifecycleState, request: { plan?: string; interval?: Interval }, at: number, ledger: LedgerView) => {
  const planned = planChange(state, request, at, ledger);
  if (planned.kind === 'downgrade') throw new Error('not a charge');
  const { change } = planned.charge.purpose as Extract<ChargePurpose, { kind: 'change' }>;
  return { lines: planned.charge.lines, credits: change.credits, creditsBought: planned.charge.creditsBought ?? 0 };
};

/**
 * SPEC §4/§10, README "Billing rules": a refund made before an upgrade or interval switch lowers that
 * change's unused-time credit by the refunded cents (never below 0, never above what the period in force was
 * paid and not refunded). Table tests of the rule and of planChange with it; a property that, whatever the
 * plan, interval, instant and refund, the money returned for the period (refund + credit) never exceeds what
 * was paid for it nor the unused time's value plus what was refunded. REFUND_SWITCH_SEED replays a run.
 */
describe('unusedTimeCredit (table)', () => {
  it.each<[string, number, Parameters<typeof unusedTimeCredit>[1], number]>([
    ['no paid period known (validators): unchanged', 1933, undefined, 1933],
    ['nothing refunded: unchanged', 1933, { refundedCents: 0, unreturnedCents: 2900, refundShare: 'proportional' }, 1933],
    ['1000 of 2900 refunded: 1933 × 1900 ÷ 2900 = 1266.5… half-up', 1933, { refundedCents: 1000, unreturnedCents: 1900, refundShare: 'proportional' }, 1266],
    ['1933 of 2900 refunded: 1933 × 967 ÷ 2900 = 644.5… half-up', 1933, { refundedCents: 1933, unreturnedCents: 967, refundShare: 'proportional' }, 645],
    ['refunded in full: 0, never negative', 1933, { refundedCents: 2900, unreturnedCents: 0, refundShare: 'proportional' }, 0],
    ['at most what the period still holds', 1933, { refundedCents: 100, unreturnedCents: 1500, refundShare: 'proportional' }, 1500],
    ['nothing paid: 0', 1933, { refundedCents: 0, unreturnedCents: 0, refundShare: 'proportional' }, 0],
    ['a view recorded before the rule (no refundShare): 1933 − 1000, end first', 1933, { refundedCents: 1000, unreturnedCents: 1900 }, 933],
    ['a view recorded before the rule: refunded exactly the unused time, 0', 1933, { refundedCents: 1933, unreturnedCents: 967 }, 0],
    ['a view recorded before the rule: at most what the period still holds', 1933, { refundedCents: 100, unreturnedCents: 1500 }, 1500],
  ])('%s', (_name, unused, money, expected) => {
    expect(unusedTimeCredit(unused, money)).toBe(expected);
  });

  it('periodInForceMoney: the last paid invoice is in force; a change invoice holds the credit that moved onto it', () => {
    expect(periodInForceMoney([])).toBeNull();
    const first = invoice('a', 'subscription', [{ description: 'Max (monthly)', amount_cents: 2900 }], 1000);
    expect(periodInForceMoney([first])).toEqual({ refundedCents: 1000, unreturnedCents: 1900, refundShare: 'proportional' });
    // Upgrade after that refund: credit 933 moved onto it, 3933 paid for the remaining time on Generative.
    const upgrade = invoice('u', 'upgrade', [{ description: 'Unused time on Max (monthly), less 1000 refunded', amount_cents: -933 }, { description: 'Remaining time on Generative (monthly)', amount_cents: 3933 }], 500);
    expect(periodInForceMoney([first, upgrade])).toEqual({ refundedCents: 500, unreturnedCents: 3933 - 500, refundShare: 'proportional' });
    // A refund of the invoice before does not lower the next change's credit (it only gives back used time).
    expect(periodInForceMoney([{ ...first, refundedCents: 1967 }, { ...upgrade, refundedCents: 0 }])).toEqual({ refundedCents: 0, unreturnedCents: 3933, refundShare: 'proportional' });
  });

  it.each<[number, number, number, number]>([
    [266, 1933, 1933, 266], [266, 933, 1933, 128], [267, 1266, 1933, 174], [266, 0, 1933, 0], [0, 500, 1933, 0], [13, 10469, 10469, 13],
  ])('deductibleCredits(%i, credit %i of %i) = %i', (deductible, credit, unused, expected) => {
    expect(deductibleCredits(deductible, credit, unused)).toBe(expected);
  });
});

describe('planChange with a refund of the period in force', () => {
  const jan11 = JAN_1 + 10 * DAY;
  it('Max monthly, 1000 refunded, switch to yearly on 01-11: −1266 (the unused 1933 at 1900 ÷ 2900), 174 credits deducted (not 267)', () => {
    const state = active('max', 'month');
    expect(priced(state, { interval: 'year' }, jan11, { availablePlanCredits: 262, periodInForce: paidFirst(state, 1000) })).toEqual({
      lines: [{ description: 'Unused time on Max (monthly), less 667 refunded', amount_cents: -1266 }, { description: 'Max (yearly)', amount_cents: 20880 }],
      credits: 400 - 174, creditsBought: 0,
    });
    // A view recorded in a history before the proportional rule replays as it was priced: the refund from the end.
    const recorded = { ...paidFirst(state, 1000)! };
    delete recorded.refundShare;
    expect(priced(state, { interval: 'year' }, jan11, { availablePlanCredits: 262, periodInForce: recorded })).toEqual({
      lines: [{ description: 'Unused time on Max (monthly), less 1000 refunded', amount_cents: -933 }, { description: 'Max (yearly)', amount_cents: 20880 }],
      credits: 400 - 128, creditsBought: 0,
    });
  });

  it('Max monthly refunded in full, switch: no credit, nothing deducted, no "already used" line', () => {
    const state = active('max', 'month');
    expect(priced(state, { interval: 'year' }, jan11, { availablePlanCredits: 0, periodInForce: paidFirst(state, 2900) })).toEqual({
      lines: [{ description: 'Unused time on Max (monthly), less 1933 refunded', amount_cents: 0 }, { description: 'Max (yearly)', amount_cents: 20880 }],
      credits: 400, creditsBought: 0,
    });
    // Before the rule: the full credit, and the 266 credits the refund took back charged as already used.
    expect(priced(state, { interval: 'year' }, jan11, { availablePlanCredits: 0 }).lines.map((l) => l.amount_cents)).toEqual([-1933, 20880, 1929]);
  });

  it('Plus monthly refunded in full, upgrade to Max: 0 credit, the remaining time on Max in full; credits as before', () => {
    const state = active('plus', 'month');
    expect(priced(state, { plan: 'max' }, jan11, { periodInForce: paidFirst(state, 1200) })).toEqual({
      lines: [{ description: 'Unused time on Plus (monthly), less 800 refunded', amount_cents: 0 }, { description: 'Remaining time on Max (monthly)', amount_cents: 1933 }],
      credits: 166, creditsBought: 0,
    });
  });

  it('Max yearly, 5000 refunded, switch to monthly on 07-02: −10469 × 15880 ÷ 20880 (each refresh gave up its share of credits too)', () => {
    const state = { ...active('max', 'year'), nextRefresh: 7 };
    const { lines } = priced(state, { interval: 'month' }, Date.UTC(2026, 6, 2), { availablePlanCredits: 400, periodInForce: paidFirst(state, 5000) });
    expect(lines.map((l) => l.amount_cents)).toEqual([-7962, 2900]);
    expect(Math.round((10469 * 15880) / 20880)).toBe(7962);
  });
});

const SEED = Number(process.env.REFUND_SWITCH_SEED ?? Math.floor(Math.random() * 2 ** 31));
const RUNS = Number(process.env.REFUND_SWITCH_RUNS ?? 2000);

describe('property: refund + unused-time credit never exceed what the period was paid', () => {
  it(`${RUNS} random plans, intervals, instants and refunds (seed ${SEED})`, () => {
    console.log(`[refund-aware-credit] seed ${SEED} (REFUND_SWITCH_SEED=${SEED} to replay), ${RUNS} runs`);
    fc.assert(fc.property(
      fc.constantFrom(...PLANS.map((p) => p.id)), fc.constantFrom<Interval>('month', 'year'), fc.double({ min: 0, max: 1, noNaN: true }),
      fc.double({ min: 0, max: 1, noNaN: true }), fc.boolean(), fc.nat({ max: 400 }),
      (plan, interval, when, share, switching, available) => {
        const state = active(plan, interval);
        const period = periodBounds(state.anchor, interval, 0);
        const at = period.start + Math.floor((period.end - period.start - 1) * when);
        const paid = priceCents(planById(plan), interval);
        const refunded = Math.round(paid * share);
        const higher = PLANS.find((p) => p.tier === planById(plan).tier + 1);
        if (!switching && !higher) return;
        const request = switching ? { interval: (interval === 'month' ? 'year' : 'month') as Interval } : { plan: higher!.id };
        const { lines, creditsBought } = priced(state, request, at, { availablePlanCredits: available, periodInForce: paidFirst(state, refunded) });
        const unused = prorateCents(paid, remainingFraction(period.start, period.end, at));
        const credit = 0 - lines[0]!.amount_cents;
        expect(credit).toBeGreaterThanOrEqual(0);
        // Total money returned for the period never exceeds what was paid for it ...
        expect(refunded + credit).toBeLessThanOrEqual(paid);
        // ... and the unused time is credited at the share of the price the refunds left (half-up): a partial
        // refund is a discount on the whole period, as its clawback takes the same share of every lot.
        expect(credit).toBe(Math.min(paid - refunded, Math.floor((2 * unused * (paid - refunded) + paid) / (2 * paid))));
        // Credits the refund took back are never charged again as already used: at most those of the time still credited.
        if (credit === 0) expect(creditsBought).toBe(0);
        const noRefund = priced(state, request, at, { availablePlanCredits: available, periodInForce: paidFirst(state, 0) });
        expect(noRefund.lines).toEqual(priced(state, request, at, { availablePlanCredits: available }).lines);
      },
    ), { seed: SEED, numRuns: RUNS });
  });
});
