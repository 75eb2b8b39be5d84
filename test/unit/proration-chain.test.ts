import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { creditedBeforeLostDispute, lostDisputeTakeback } from '../../domain/billing/lost-dispute-takeback.js';
import {
  type PaidSubscriptionInvoice, periodCapacityCents, prorationAttributions, prorationCredits, unusedTimeCreditCents,
} from '../../domain/billing/proration-credits.js';
import { periodInForceMoney, unusedTimeCredit } from '../../domain/billing/refund-aware-credit.js';
import { refundableCents, type RefundedSoFar, splitRefund, unrecordedProviderRefund } from '../../domain/billing/refunds.js';
import { type Interval, PLANS, planById, priceCents } from '../../domain/catalog.js';
import { intervalSwitchLines, remainingFraction, upgradeLines } from '../../domain/proration.js';

/**
 * SPEC §4/§10, breaker balance finding 3: a later unused-time credit is absorbed by the period in force up to its
 * capacity (total + moved in − notes − what it already absorbed), moved-in money first; only the excess passes to
 * the invoice before. A property over random chains of first charges, renewals, upgrades and interval switches
 * (priced as planChange prices them: the credit lowered by the refunds of the period in force), operator refunds
 * within the cap and refunds made at the provider (recorded in full, then the take-back), checked after every step:
 * - every invoice's period absorbed ≤ its capacity, and of that its own payment ≤ total − notes;
 * - without provider refunds, the periods absorbed exactly the credits the changes gave (no credit lost or counted twice);
 * - an operator refund within the cap never moves a credit onto another invoice;
 * - a take-back never exceeds the note that triggered it;
 * - card refunds + customer balance + everything still left to refund ≤ what the card paid + take-backs still owed.
 * PRORATION_CHAIN_SEED replays a run (PRORATION_CHAIN_RUNS histories, default 1000).
 */
const SEED = Number(process.env.PRORATION_CHAIN_SEED ?? Math.floor(Math.random() * 2 ** 31));
const RUNS = Number(process.env.PRORATION_CHAIN_RUNS ?? 1000);
const DAY = 86_400_000;
const LENGTH: Record<Interval, number> = { month: 30 * DAY, year: 365 * DAY };
const line = (description: string, amount_cents: number) => ({ description, amount_cents });

type Step =
  | { kind: 'advance'; ms: number } | { kind: 'upgrade'; tier: number } | { kind: 'switch' }
  | { kind: 'refund'; pick: number; share: number } | { kind: 'provider'; pick: number; share: number };
/** A share in [0, 1] in hundredths (fc.double favours the ends of its range). */
const share = fc.integer({ min: 0, max: 100 }).map((n) => n / 100);
const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('advance' as const), ms: fc.oneof(fc.integer({ min: 1, max: 20 * DAY }), fc.integer({ min: 1, max: 400 * DAY })) }),
  fc.record({ kind: fc.constant('upgrade' as const), tier: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ kind: fc.constant('switch' as const) }),
  fc.record({ kind: fc.constant('refund' as const), pick: fc.nat(), share }),
  fc.record({ kind: fc.constant('provider' as const), pick: fc.nat(), share }),
);

interface Paid extends PaidSubscriptionInvoice {
  cardPaid: number;
  so: RefundedSoFar;
}

/** One subscription's history under the SPEC's rules, checked after every step by `check`. */
function run(start: { plan: string; interval: Interval }, steps: Step[]) {
  let { plan, interval } = start;
  let at = 0;
  let period = { start: 0, end: LENGTH[interval] };
  let balance = 0;
  let cardPaid = 0;
  let cardBack = 0;
  let owed = 0;
  let creditsGiven = 0;
  let providerRefunds = 0;
  const invoices: Paid[] = [];
  const pay = (kind: Paid['kind'], lines: { description: string; amount_cents: number }[]) => {
    const total = lines.reduce((s, l) => s + l.amount_cents, 0);
    const applied = Math.min(balance, Math.max(total, 0));
    balance += total < 0 ? -total : -applied;
    const card = Math.max(total, 0) - applied;
    cardPaid += card;
    if (kind !== 'subscription') creditsGiven += unusedTimeCreditCents(lines);
    invoices.push({ id: `in_${invoices.length}`, number: null, kind, totalCents: total, lines, cardPaid: card, so: { amountCents: 0, cardCents: 0, providerCardCents: 0 }, refundedCents: 0 });
  };
  const note = (target: Paid, amount: number, card: number, provider: boolean) => {
    target.so = { amountCents: target.so.amountCents + amount, cardCents: target.so.cardCents + card, providerCardCents: target.so.providerCardCents + (provider ? card : 0) };
    target.refundedCents = target.so.amountCents;
    cardBack += card;
    balance += amount - card;
  };
  /** A change's lines with its unused-time credit lowered by the refunds of the period in force (as planChange does). */
  const afterRefunds = (lines: { description: string; amount_cents: number }[]) => {
    const unused = -lines[0]!.amount_cents;
    const credit = unusedTimeCredit(unused, periodInForceMoney(invoices));
    return credit === unused ? lines : [line(`${lines[0]!.description}, less ${unused - credit} refunded`, 0 - credit), ...lines.slice(1)];
  };
  const left = (i: Paid, credits = prorationCredits(invoices)) => (i.totalCents > 0 ? refundableCents(i.totalCents, i.so, credits.get(i.id)?.cents ?? 0) : 0);
  const check = () => {
    const periods = prorationAttributions(invoices);
    let absorbed = 0;
    for (const i of invoices) {
      const p = periods.get(i.id);
      if (!p) continue;
      absorbed += p.absorbed.cents;
      expect(p.absorbed.cents).toBeLessThanOrEqual(periodCapacityCents(i));
      expect(p.own.cents).toBeLessThanOrEqual(Math.max(0, i.totalCents - i.so.amountCents));
      expect(p.own.cents).toBeLessThanOrEqual(p.absorbed.cents);
      expect(p.absorbed.by.reduce((s, b) => s + b.cents, 0)).toBe(p.absorbed.cents);
    }
    if (providerRefunds === 0) expect(absorbed).toBe(creditsGiven);
    else expect(absorbed).toBeLessThanOrEqual(creditsGiven);
    const credits = prorationCredits(invoices);
    const leftInAll = invoices.reduce((s, i) => s + left(i, credits), 0);
    expect(cardBack + balance + leftInAll).toBeLessThanOrEqual(cardPaid + owed);
  };
  const label = () => `${planById(plan).name} (${interval}ly)`;
  pay('subscription', [line(label(), priceCents(planById(plan), interval))]);
  check();
  for (const s of steps) {
    const refundable = invoices.filter((i) => i.totalCents > 0);
    if (s.kind === 'advance') {
      at += s.ms;
      while (at >= period.end) {
        period = { start: period.end, end: period.end + LENGTH[interval] };
        pay('subscription', [line(label(), priceCents(planById(plan), interval))]);
      }
    } else if (s.kind === 'refund') {
      const target = refundable[s.pick % refundable.length]!;
      const amount = Math.round(left(target) * s.share);
      if (amount <= 0) continue;
      const before = prorationAttributions(invoices);
      note(target, amount, splitRefund(amount, target.cardPaid, target.so).cardCents, false);
      // Within the cap, a refund moves no credit: what each period absorbed is as it was.
      expect(prorationAttributions(invoices)).toEqual(before);
    } else if (s.kind === 'provider') {
      // The dashboard refunds a share of what the card has left; recorded in full (no proration cap), then the take-back.
      const target = refundable[s.pick % refundable.length]!;
      const amount = unrecordedProviderRefund(target.so.providerCardCents + Math.round((target.cardPaid - target.so.cardCents) * s.share), target.totalCents, target.so);
      if (amount <= 0) continue;
      providerRefunds += 1;
      note(target, amount, amount, true);
      const takeback = lostDisputeTakeback({
        totalCents: target.totalCents, returnedCents: target.so.amountCents, creditedCents: creditedBeforeLostDispute(invoices, target.id, amount), balanceCents: balance,
      });
      expect(takeback.owedCents).toBeLessThanOrEqual(amount);
      balance -= takeback.takenCents;
      owed += takeback.shortfallCents;
    } else if (s.kind === 'upgrade') {
      const current = planById(plan);
      const target = PLANS.find((p) => p.tier === current.tier + s.tier);
      if (!target) continue;
      const r = remainingFraction(period.start, period.end, at);
      pay('upgrade', afterRefunds(upgradeLines(label(), priceCents(current, interval), `${target.name} (${interval}ly)`, priceCents(target, interval), r)));
      plan = target.id;
    } else {
      const to: Interval = interval === 'month' ? 'year' : 'month';
      const r = remainingFraction(period.start, period.end, at);
      const oldLabel = label();
      const oldPrice = priceCents(planById(plan), interval);
      interval = to;
      pay('interval_switch', afterRefunds(intervalSwitchLines(oldLabel, oldPrice, label(), priceCents(planById(plan), to), r)));
      period = { start: at, end: at + LENGTH[to] };
    }
    check();
  }
  return { invoices, creditsGiven };
}

describe('property: chains of upgrades and switches with refunds (prorationAttributions)', () => {
  it('each period absorbs ≤ its capacity, the credits given are absorbed once, refunds and take-backs return each cent once', () => {
    console.log(`[proration-chain] seed ${SEED} (PRORATION_CHAIN_SEED=${SEED} to replay), ${RUNS} histories`);
    let changeOnChange = 0;
    fc.assert(fc.property(
      fc.constantFrom(...PLANS.filter((p) => p.tier < 4).map((p) => p.id)), fc.constantFrom<Interval>('month', 'year'), fc.array(step, { maxLength: 25 }),
      (plan, interval, steps) => {
        const { invoices } = run({ plan, interval }, steps);
        // Count the histories that exercise the rule: a change crediting a period a change paid for.
        if (invoices.some((i, n) => i.kind !== 'subscription' && n > 0 && invoices[n - 1]!.kind !== 'subscription' && unusedTimeCreditCents(i.lines) > 0)) changeOnChange += 1;
      },
    ), { seed: SEED, numRuns: RUNS });
    console.log(`[proration-chain] histories with a change crediting a change's period: ${changeOnChange}`);
    expect(changeOnChange).toBeGreaterThan(RUNS / 10);
  });
});
