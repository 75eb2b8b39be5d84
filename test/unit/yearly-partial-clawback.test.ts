import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { clawbackDue, clawbackTarget, creditsGrantedSoFar, type InvoiceGrantSource, invoiceGrants } from '../../domain/billing/invoice-grants.js';
import { periodBounds } from '../../domain/calendar.js';
import { type Plan, planById, PLANS, priceCents } from '../../domain/catalog.js';
import { periodLine } from '../../domain/lifecycle/effects.js';

/**
 * SPEC §10 Clawback for a yearly invoice, whose 12 monthly refreshes come after its refunds: N counts the credits
 * granted so far (creditsGrantedSoFar), and a refund and each later refresh take what is due (clawbackDue), so the
 * credits clawed back in all (with the refunds' shortfall) stay ceil(N × R / T) as N and R grow, and over the year
 * reach ceil(N_year × R / T). Table tests, and a property over random interleavings of refreshes, partial refunds
 * and spends (YEARLY_PARTIAL_SEED replays a run, YEARLY_PARTIAL_RUNS histories, default 2000).
 */

const ANCHOR = Date.UTC(2026, 0, 1);

/** The yearly period invoice of `plan` as ledger/invoices.ts stores it (its key and period line). */
function yearlyInvoice(plan: Plan): InvoiceGrantSource {
  const { start, end } = periodBounds(ANCHOR, 'year', 0);
  return {
    id: 'in_yearly', kind: 'subscription', business_key: `sub_1:c0:${ANCHOR}:period:0:subscription`,
    lines: [periodLine(plan.id, 'year', start, end)], metadata: {},
  };
}

/** The first `k` grants of the invoice, as made (their lots granted the plan's monthly credits). */
function grantedSoFar(invoice: InvoiceGrantSource, k: number, credits: number): Map<string, { granted: number }> {
  return new Map(invoiceGrants(invoice).slice(0, k).map((g) => [g.key, { granted: credits }]));
}

const plus = planById('plus');
const max = planById('max');

describe('a yearly invoice refunded in part: each refresh takes its share', () => {
  it('N counts the grants made so far (a grant the invoice does not price counts what its lot was granted)', () => {
    const invoice = yearlyInvoice(max);
    const grants = invoiceGrants(invoice);
    expect(grants).toHaveLength(12);
    expect([0, 1, 5, 12].map((k) => creditsGrantedSoFar(grants, grantedSoFar(invoice, k, 400)))).toEqual([0, 400, 2000, 4800]);
    // The lot granted differs from the invoice's price of it (a refresh at the higher plan after an upgrade): the invoice's figure counts.
    expect(creditsGrantedSoFar(grants, new Map([[grants[0]!.key, { granted: 900 }]]))).toBe(400);
    expect(creditsGrantedSoFar([{ key: 'up', credits: null }], new Map([['up', { granted: 166 }]]))).toBe(166);
  });

  it.each<[string, Plan, number, number[]]>([
    ['Plus yearly 8640, 2000 refunded in month 1', plus, 2000, [35, 35, 35, 34, 35, 35, 35, 34, 35, 35, 34, 35]],
    ['Max yearly 20880, 5000 refunded in month 1', max, 5000, [96, 96, 96, 96, 95, 96, 96, 96, 96, 95, 96, 96]],
    ['Max yearly, refunded in full: every refresh whole', max, 20880, Array.from({ length: 12 }, () => 400)],
  ])('%s: each refresh takes its share', (_name, plan, refunded, dues) => {
    const invoice = yearlyInvoice(plan);
    const total = priceCents(plan, 'year');
    const grants = invoiceGrants(invoice);
    let recorded = 0;
    const taken: number[] = [];
    for (let k = 1; k <= 12; k++) {
      const { target, due } = clawbackDue({
        credits: creditsGrantedSoFar(grants, grantedSoFar(invoice, k, plan.monthlyCredits)), refundedCents: refunded, totalCents: total, recordedTarget: recorded,
      });
      taken.push(due);
      recorded = target;
    }
    expect(taken).toEqual(dues);
    expect(recorded).toBe(clawbackTarget(12 * plan.monthlyCredits, refunded, total));
  });

  it('a second refund takes only the difference; a smaller R than recorded (out of order) takes nothing', () => {
    // Max yearly: 5000 refunded with 3 refreshes granted (288), then 8000 in all with the same 3: ceil(1200 × 8000 / 20880) = 460.
    expect(clawbackDue({ credits: 1200, refundedCents: 5000, totalCents: 20880, recordedTarget: 0 })).toEqual({ target: 288, due: 288 });
    expect(clawbackDue({ credits: 1200, refundedCents: 8000, totalCents: 20880, recordedTarget: 288 })).toEqual({ target: 460, due: 172 });
    expect(clawbackDue({ credits: 1600, refundedCents: 8000, totalCents: 20880, recordedTarget: 460 })).toEqual({ target: 614, due: 154 });
    expect(clawbackDue({ credits: 1600, refundedCents: 5000, totalCents: 20880, recordedTarget: 614 })).toEqual({ target: 614, due: 0 });
    // A target recorded under the old rule (N = the whole year's credits) is never lowered: later refreshes owe nothing more.
    expect(clawbackDue({ credits: 800, refundedCents: 10440, totalCents: 20880, recordedTarget: 2400 })).toEqual({ target: 2400, due: 0 });
  });
});

const SEED = Number(process.env.YEARLY_PARTIAL_SEED ?? Math.floor(Math.random() * 2 ** 31));
const RUNS = Number(process.env.YEARLY_PARTIAL_RUNS ?? 2000);

type Step = { kind: 'grant' } | { kind: 'refund'; share: number } | { kind: 'spend'; share: number };
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ kind: 'grant' as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('refund' as const), share: fc.double({ min: 0, max: 1, noNaN: true }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('spend' as const), share: fc.double({ min: 0, max: 1, noNaN: true }) }) },
);

/**
 * The ledger's bookkeeping of one yearly invoice, as ledger/invoice-clawback.ts (a refund: what is due from the
 * lots granted so far, latest first, the rest up to what was spent as shortfall) and ledger/late-refresh.ts (a
 * refresh: what is due from the new lot) keep it, with the pure rule deciding what is due. Lots do not expire here
 * (an expired lot's share is neither taken nor shortfall, README), so every credit of the target is accounted for.
 */
interface Books {
  lots: { granted: number; remaining: number }[];
  refunded: number;
  target: number;
  clawedBack: number;
  shortfall: number;
  spent: number;
}

function play(plan: Plan, steps: Step[], check: (books: Books, credits: number) => void): Books {
  const invoice = yearlyInvoice(plan);
  const grants = invoiceGrants(invoice);
  const total = priceCents(plan, 'year');
  const books: Books = { lots: [], refunded: 0, target: 0, clawedBack: 0, shortfall: 0, spent: 0 };
  const credits = () => creditsGrantedSoFar(grants, grantedSoFar(invoice, books.lots.length, plan.monthlyCredits));
  const due = () => {
    const d = clawbackDue({ credits: credits(), refundedCents: books.refunded, totalCents: total, recordedTarget: books.target });
    books.target = d.target;
    return d.due;
  };
  for (const s of steps) {
    if (s.kind === 'grant') {
      if (books.lots.length === 12) continue;
      const lot = { granted: plan.monthlyCredits, remaining: plan.monthlyCredits };
      books.lots.push(lot);
      const owed = due();
      const take = Math.min(owed, lot.remaining);
      // A lot just granted always has its share: a refresh's due is at most ceil(monthly × R / T).
      expect(take).toBe(owed);
      expect(owed).toBeLessThanOrEqual(clawbackTarget(plan.monthlyCredits, books.refunded, total));
      lot.remaining -= take;
      books.clawedBack += take;
    } else if (s.kind === 'refund') {
      const left = total - books.refunded;
      if (left <= 0) continue;
      books.refunded += Math.max(1, Math.round(left * s.share));
      let owed = due();
      for (const lot of [...books.lots].reverse()) {
        const take = Math.min(owed, lot.remaining);
        lot.remaining -= take;
        books.clawedBack += take;
        owed -= take;
      }
      const short = Math.min(owed, books.spent - books.shortfall);
      books.shortfall += short;
    } else {
      let want = Math.floor(books.lots.reduce((sum, l) => sum + l.remaining, 0) * s.share);
      for (const lot of books.lots) {
        const take = Math.min(want, lot.remaining);
        lot.remaining -= take;
        books.spent += take;
        want -= take;
      }
    }
    check(books, credits());
  }
  return books;
}

describe('yearly partial clawback property', () => {
  it('over refreshes, partial refunds and spends in any order: clawed back + shortfall = ceil(N × R / T) at every step, never decreasing nor beyond what was granted', () => {
    console.log(`[yearly-partial-clawback] seed ${SEED} (YEARLY_PARTIAL_SEED=${SEED} to replay, ${RUNS} runs)`);
    fc.assert(
      fc.property(fc.constantFrom(...PLANS), fc.array(step, { maxLength: 40 }), (plan, steps) => {
        const total = priceCents(plan, 'year');
        let clawedBefore = 0;
        const books = play(plan, steps, (b, credits) => {
          expect(b.target).toBe(clawbackTarget(credits, b.refunded, total));
          expect(b.clawedBack + b.shortfall).toBe(b.target);
          expect(b.clawedBack).toBeGreaterThanOrEqual(clawedBefore);
          expect(b.clawedBack).toBeLessThanOrEqual(credits);
          expect(b.shortfall).toBeLessThanOrEqual(b.spent);
          expect(b.lots.every((l) => l.remaining >= 0)).toBe(true);
          // Every credit granted is either still there, spent or clawed back.
          expect(b.lots.reduce((sum, l) => sum + l.remaining, 0) + b.spent + b.clawedBack).toBe(credits);
          clawedBefore = b.clawedBack;
        });
        // The whole year granted: ceil(N_year × R / T) in all, however the refunds and refreshes interleaved.
        const rest = play(plan, [...steps, ...Array.from({ length: 12 }, () => ({ kind: 'grant' as const }))], () => undefined);
        expect(rest.clawedBack + rest.shortfall).toBe(clawbackTarget(12 * plan.monthlyCredits, books.refunded, total));
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });
});
