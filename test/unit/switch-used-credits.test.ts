import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { periodBounds } from '../../domain/calendar.js';
import { type Interval, PLANS, planById } from '../../domain/catalog.js';
import { type ChargePurpose, initialState, type LedgerView, type LifecycleState, planChange } from '../../domain/lifecycle/index.js';
import { switchCreditsOfUnusedTime } from '../../domain/lifecycle/changes.js';
import { currentRefreshInterval } from '../../domain/lifecycle/schedule.js';
import { prorateCredits, remainingFraction } from '../../domain/proration.js';

/**
 * SPEC §4 interval switch, §10 adjustments and disputes: the "Credits of the unused time on OLD already used (n)"
 * line charges only credits spent or held. Credits an operator's negative adjustment took from the plan lots were
 * neither used nor kept (neither charged nor deducted); credits frozen by an open dispute are still the customer's
 * (kept: deducted from the new lot, clawed back beyond the new plan's credits, not charged). A view recorded before
 * the rule (no frozenPlanCredits / adjustedAwayCredits) prices as it was priced. SWITCH_USED_SEED replays the property.
 */
const DAY = 86_400_000;
const JAN_1 = Date.UTC(2026, 0, 1);
const JAN_21 = JAN_1 + 20 * DAY;
const active = (plan: string, interval: Interval): LifecycleState => {
  const end = periodBounds(JAN_1, interval, 0).end;
  return { ...initialState({ subscriptionId: 'sub_1', plan, interval, startedAt: JAN_1 }), status: 'active', nextRefresh: 1, lots: [{ key: 'lot0', expiresAt: end + 30 * DAY }], currentLotExpiresAt: end + 30 * DAY };
};
const priced = (state: LifecycleState, request: { plan?: string; interval?: Interval }, at: number, ledger: LedgerView) => {
  const planned = planChange(state, request, at, ledger);
  if (planned.kind === 'downgrade') throw new Error('not a charge');
  const { change } = planned.charge.purpose as Extract<ChargePurpose, { kind: 'change' }>;
  return { cents: planned.charge.lines.map((l) => l.amount_cents), used: planned.charge.creditsBought ?? 0, credits: change.credits, clawBack: change.clawBack };
};

// Team monthly (29900 cents, 6000 credits) on 01-21 00:00: a month is 30 days here (01-01 → 01-31), 10 unused.
// Unused time round(29900 × 10 ÷ 30) = 9967 cents; deductible floor(6000 × 10 ÷ 30) = 2000 credits;
// Team yearly floor((29900 × 72 + 5) ÷ 10) = 215280; n credits used ahead cost round(29900 × n ÷ 6000) cents.
describe('interval switch: credits already used (table, Team monthly → yearly on 01-21)', () => {
  const state = active('team', 'month');
  it.each<[string, LedgerView, { cents: number[]; used: number; credits: number; clawBack: number }]>([
    ['nothing used, nothing adjusted: 2000 kept', { availablePlanCredits: 6000, frozenPlanCredits: 0, adjustedAwayCredits: 0 },
      { cents: [-9967, 215280], used: 0, credits: 4000, clawBack: 0 }],
    ['−5000 adjusted on 01-11, nothing spent: the 1000 left kept, nothing charged for the 5000', { availablePlanCredits: 1000, frozenPlanCredits: 0, adjustedAwayCredits: 5000 },
      { cents: [-9967, 215280], used: 0, credits: 5000, clawBack: 0 }],
    ['the same view recorded before the rule: 1000 charged as already used, round(29900 × 1000 ÷ 6000) = 4983', { availablePlanCredits: 1000 },
      { cents: [-9967, 215280, 4983], used: 1000, credits: 5000, clawBack: 0 }],
    ['4500 spent, −1000 adjusted (500 left): 4500 − (6000 − 2000) = 500 used ahead, round(29900 × 500 ÷ 6000) = 2492', { availablePlanCredits: 500, frozenPlanCredits: 0, adjustedAwayCredits: 1000 },
      { cents: [-9967, 215280, 2492], used: 500, credits: 5500, clawBack: 0 }],
    ['2000 spent, then a dispute froze the 4000 left: 2000 kept, nothing charged', { availablePlanCredits: 0, frozenPlanCredits: 4000, adjustedAwayCredits: 0 },
      { cents: [-9967, 215280], used: 0, credits: 4000, clawBack: 0 }],
    ['the same view recorded before the rule: all 2000 charged, round(29900 × 2000 ÷ 6000) = 9967', { availablePlanCredits: 0 },
      { cents: [-9967, 215280, 9967], used: 2000, credits: 6000, clawBack: 0 }],
    ['4500 spent and 500 held, then a dispute froze the lot (1000 unheld frozen): 1000 kept, 1000 used ahead (4983)', { availablePlanCredits: 0, frozenPlanCredits: 1000, adjustedAwayCredits: 0 },
      { cents: [-9967, 215280, 4983], used: 1000, credits: 5000, clawBack: 0 }],
    ['300 available, 200 frozen, −500 adjusted, 5000 spent: 500 kept, 2000 − 500 − 500 = 1000 used ahead (4983)', { availablePlanCredits: 300, frozenPlanCredits: 200, adjustedAwayCredits: 500 },
      { cents: [-9967, 215280, 4983], used: 1000, credits: 5500, clawBack: 0 }],
  ])('%s', (_name, view, expected) => {
    expect(priced(state, { interval: 'year' }, JAN_21, view)).toEqual(expected);
  });

  it('Team monthly → Plus yearly with the lot frozen by a dispute: the 2000 kept are clawed back beyond Plus\'s 150 (1850), not charged', () => {
    // Plus yearly floor((1200 × 72 + 5) ÷ 10) = 8640.
    expect(priced(state, { plan: 'plus', interval: 'year' }, JAN_21, { availablePlanCredits: 0, frozenPlanCredits: 4000, adjustedAwayCredits: 0 }))
      .toEqual({ cents: [-9967, 8640], used: 0, credits: 0, clawBack: 1850 });
    // Recorded before the rule: nothing kept, so nothing clawed back, and all 2000 charged.
    expect(priced(state, { plan: 'plus', interval: 'year' }, JAN_21, { availablePlanCredits: 0 }))
      .toEqual({ cents: [-9967, 8640, 9967], used: 2000, credits: 150, clawBack: 0 });
  });

  it('switchCreditsOfUnusedTime: no view (validators) keeps everything; fields absent price as before', () => {
    expect(switchCreditsOfUnusedTime(2000, undefined)).toEqual({ kept: 2000, usedAhead: 0 });
    expect(switchCreditsOfUnusedTime(2000, { availablePlanCredits: 700 })).toEqual({ kept: 700, usedAhead: 1300 });
    expect(switchCreditsOfUnusedTime(2000, { availablePlanCredits: 700, frozenPlanCredits: 0, adjustedAwayCredits: 0 })).toEqual({ kept: 700, usedAhead: 1300 });
    expect(switchCreditsOfUnusedTime(0, { availablePlanCredits: 0, frozenPlanCredits: 10, adjustedAwayCredits: 10 })).toEqual({ kept: 0, usedAhead: 0 });
  });
});

const SEED = Number(process.env.SWITCH_USED_SEED ?? Math.floor(Math.random() * 2 ** 31));
const RUNS = 1000;

describe('interval switch: "already used" never exceeds what was spent or held (property)', () => {
  it(`${RUNS} random plans, instants, spends, holds, negative adjustments and dispute freezes (seed ${SEED})`, () => {
    console.log(`[switch-used-credits] seed ${SEED} (SWITCH_USED_SEED=${SEED} to replay), ${RUNS} runs`);
    fc.assert(fc.property(
      fc.constantFrom(...PLANS.map((p) => p.id)), fc.constantFrom(...PLANS.map((p) => p.id)), fc.constantFrom<Interval>('month', 'year'),
      fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), fc.boolean(),
      (plan, target, interval, when, usedShare, adjustedShare, disputed) => {
        const state = active(plan, interval);
        const lot = planById(plan).monthlyCredits;
        // The first refresh interval (a yearly plan refreshes monthly): 01-01 → 01-31.
        const refresh = currentRefreshInterval(state);
        const at = refresh.start + Math.floor(when * (refresh.end - refresh.start));
        // The lot's credits: spent or held (used; a frozen lot's held part too), taken by an operator, then what is
        // left is available or, when an open dispute froze the lot, frozen.
        const used = Math.floor(lot * usedShare);
        const adjustedAway = Math.floor((lot - used) * adjustedShare);
        const left = lot - used - adjustedAway;
        const view: LedgerView = { availablePlanCredits: disputed ? 0 : left, frozenPlanCredits: disputed ? left : 0, adjustedAwayCredits: adjustedAway };
        const planned = planChange(state, { plan: target, interval: interval === 'month' ? 'year' : 'month' }, at, view);
        if (planned.kind === 'downgrade') throw new Error('an interval switch is never a downgrade');
        const usedAhead = planned.charge.creditsBought ?? 0;
        const deductible = prorateCredits(lot, remainingFraction(refresh.start, refresh.end, at));
        const { change } = planned.charge.purpose as Extract<ChargePurpose, { kind: 'change' }>;
        const kept = Math.min(deductible, left);
        // Never more than spent or held (held included in used); exactly what was used beyond the used time's share.
        expect(usedAhead).toBeLessThanOrEqual(used);
        expect(usedAhead).toBe(Math.max(0, used - (lot - deductible)));
        // Kept (available or frozen) is deducted from the new lot, or clawed back beyond it; adjusted credits never are.
        expect(change.credits).toBe(Math.max(0, planById(target).monthlyCredits - kept));
        expect(change.clawBack).toBe(Math.max(0, kept - planById(target).monthlyCredits));
        expect(kept + usedAhead).toBeLessThanOrEqual(deductible);
        // A line charges it exactly when there is something to charge.
        expect(planned.charge.lines.some((l) => l.description.includes('already used'))).toBe(usedAhead > 0);
      },
    ), { seed: SEED, numRuns: RUNS });
  });
});
