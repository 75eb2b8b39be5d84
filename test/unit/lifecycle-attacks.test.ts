import { describe, expect, it } from 'vitest';
import { refreshAt } from '../../domain/calendar.js';
import type { Interval } from '../../domain/catalog.js';
import {
  afterCharge, afterLapse, needsLedgerView, type Charge, type ChargeOutcome, type Effect, initialState, type LifecycleRequest, type LifecycleState,
  nextDueEvent, onDue, onRequest, startCycle, type Step, viewOf,
} from '../../domain/lifecycle/index.js';
import { type Action, World } from '../helpers/lifecycle-world.js';

/**
 * Attacks on the pure core found by a review (each once took or lost money), replayed with what SPEC §4
 * and the README's rules ask for now. SpendingWorld is a minimal ledger that can hold and spend credits,
 * driven like the shell drives the core (an interval switch is priced with the plan credits still available).
 */
const at = (iso: string) => Date.parse(iso);
const MIN = 60_000;
const advanceTo = (world: World, iso: string) => world.apply({ kind: 'advance', ms: at(iso) - world.now });
function play(world: World, steps: [string | null, Action][]): World {
  for (const [when, action] of steps) {
    if (when !== null) advanceTo(world, when);
    world.apply(action);
  }
  return world;
}
const planLots = (world: World) => world.lots.filter((l) => l.source !== 'pack').map((l) => [l.source, l.credits - l.clawed]);
/** Cash the card paid (invoice totals after customer balance, paid invoices only). */
const cashPaid = (world: World) => world.invoices.filter((i) => i.status === 'paid').reduce((s, i) => s + Math.max(i.total - i.applied, 0), 0);

// ---- A minimal ledger around the core that can hold and spend credits (the World never spends) ------------

interface Lot { key: string; credits: number; remaining: number; held: number; expiresAt: number; expired: boolean }

class SpendingWorld {
  state: LifecycleState;
  now: number;
  balance = 0;
  cash = 0;
  readonly lots: Lot[] = [];
  readonly invoices = new Map<string, { id: string; total: number; applied: number }>();
  readonly shortfalls: number[] = [];

  constructor(plan: string, interval: Interval, start: number) {
    this.now = start;
    this.state = initialState({ subscriptionId: 'sub_s', plan, interval, startedAt: start });
    this.run(startCycle(this.state, start, 'subscribe'));
  }

  private run(first: Step): Step {
    let step = first;
    for (;;) {
      for (const e of step.effects) this.perform(e);
      this.state = step.state;
      if (step.charge) step = afterCharge(this.state, step.charge, this.charge(step.charge));
      else if (step.lapse) step = afterLapse(this.state, step.lapse, 'void');
      else return step;
    }
  }

  private charge(c: Charge): ChargeOutcome {
    let invoice = this.invoices.get(c.businessKey);
    if (!invoice) {
      const total = c.lines.reduce((s, l) => s + l.amount_cents, 0);
      const applied = Math.min(this.balance, Math.max(total, 0));
      this.balance = this.balance - applied + Math.max(-total, 0);
      this.cash += Math.max(total - applied, 0); // a visa card pays what is due at once
      invoice = { id: `in_${this.invoices.size + 1}`, total, applied };
      this.invoices.set(c.businessKey, invoice);
    }
    return { status: 'paid', invoiceId: invoice.id, paidAt: c.at };
  }

  private perform(e: Effect): void {
    if (e.kind === 'grant') this.lots.push({ key: e.key, credits: e.credits, remaining: e.credits, held: 0, expiresAt: e.expiresAt, expired: false });
    if (e.kind === 'expire') { const lot = this.lots.find((l) => l.key === e.key); if (lot) lot.expired = true; }
    if (e.kind === 'claw_back') {
      // ledger/clawback.ts: unspent, unheld credits of those grants, in that order; the rest is a shortfall.
      let left = e.credits;
      for (const key of e.grantKeys) {
        const lot = this.lots.find((l) => l.key === key && !l.expired);
        if (!lot) continue;
        const take = Math.min(left, lot.remaining - lot.held);
        lot.remaining -= take;
        left -= take;
      }
      this.shortfalls.push(left);
    }
  }

  /** As the shell does: an interval switch is priced with the plan credits still available. */
  request(r: LifecycleRequest): void {
    const priced = r.kind === 'change' && needsLedgerView(this.state, r.request) ? { ...r, ledger: { availablePlanCredits: this.available() } } : r;
    this.run(onRequest(this.state, priced, this.now));
  }

  advance(ms: number): void {
    const target = this.now + ms;
    for (let due = nextDueEvent(this.state); due && due.at <= target; due = nextDueEvent(this.state)) {
      this.now = due.at;
      this.run(onDue(this.state, due));
    }
    this.now = target;
  }

  available(): number {
    return this.lots.filter((l) => !l.expired).reduce((s, l) => s + l.remaining - l.held, 0);
  }

  /** Starts creations holding every available credit (burn order does not matter: all of them). */
  holdAll(): number {
    let held = 0;
    for (const lot of this.lots.filter((l) => !l.expired)) { held += lot.remaining - lot.held; lot.held = lot.remaining; }
    return held;
  }

  /** The creations fail (or time out after at most 1 hour): their holds are released. */
  releaseAll(): void {
    for (const lot of this.lots) lot.held = 0;
  }

  /** Completes the creations: the held credits are captured (spent). */
  captureAll(): void {
    for (const lot of this.lots) { lot.remaining -= lot.held; lot.held = 0; }
  }
}

describe('lifecycle attacks (pure core)', () => {
  it('P1: holding the lot across Team monthly → Plus yearly → Team monthly pays for every credit it keeps', () => {
    const honest = new SpendingWorld('team', 'month', at('2026-01-01T00:00:00Z'));
    honest.advance(2 * MIN);
    honest.request({ kind: 'change', request: { plan: 'plus', interval: 'year' } });
    honest.advance(2 * MIN);
    honest.request({ kind: 'change', request: { plan: 'team', interval: 'month' } });
    expect([honest.cash, honest.available()]).toEqual([29901, 6002]);

    const w = new SpendingWorld('team', 'month', at('2026-01-01T00:00:00Z'));
    w.advance(MIN);
    w.holdAll();
    w.advance(MIN);
    w.request({ kind: 'change', request: { plan: 'plus', interval: 'year' } });
    w.advance(MIN);
    w.releaseAll();
    w.advance(MIN);
    w.request({ kind: 'change', request: { plan: 'team', interval: 'month' } });
    // The 5999 held credits of the unused time are charged at Team's rate on the switch: two Team months for two lots.
    expect({ cash: w.cash, available: w.available(), shortfalls: w.shortfalls }).toEqual({ cash: 59796, available: 12001, shortfalls: [] });
  });

  it('P1: five such round trips cost what their credits cost (Team rate), nothing is minted', () => {
    const w = new SpendingWorld('team', 'month', at('2026-01-01T00:00:00Z'));
    for (let k = 0; k < 5; k++) {
      w.advance(MIN);
      w.holdAll();
      w.request({ kind: 'change', request: { plan: 'plus', interval: 'year' } });
      w.releaseAll();
      w.advance(MIN);
      w.request({ kind: 'change', request: { plan: 'team', interval: 'month' } });
    }
    expect([w.cash, w.available()]).toEqual([179380, 36005]);
    expect(w.cash / w.available()).toBeGreaterThan(29900 / 6000 - 0.01);
  });

  it('P1: spending the Team lot, then switching to Plus yearly, credits back no money for the credits used', () => {
    const w = new SpendingWorld('team', 'month', at('2026-01-01T00:00:00Z'));
    w.advance(24 * 60 * MIN);
    w.holdAll();
    w.captureAll();
    w.request({ kind: 'change', request: { plan: 'plus', interval: 'year' } });
    // −28903 unused time, +8640 Plus yearly, +28903 for the 5800 credits of that time already used.
    expect([w.balance, w.cash, w.available(), w.shortfalls]).toEqual([0, 29900 + 8640, 150, []]);
  });

  it('P2: an upgrade paid at the provider a second before its lapse is applied (the lapse finds it paid)', () => {
    const world = play(new World({ plan: 'plus', interval: 'month', start: at('2026-01-01T00:00:00Z'), card: 'visa' }), [
      [null, { kind: 'card', card: '3ds' }],
      ['2026-01-11T00:00:00Z', { kind: 'change', plan: 'max' }],
      ['2026-01-11T22:59:59Z', { kind: 'complete_3ds', pick: 0, delayed: true }],
      ['2026-01-11T23:00:05Z', { kind: 'deliver_webhooks' }],
    ]);
    expect(cashPaid(world)).toBe(1200 + 1133);
    expect([world.state.plan, planLots(world)]).toEqual(['max', [['monthly', 150], ['upgrade', 166]]]);
    world.checkHistory();
  });

  it('P2: a first payment authenticated just before its 23-hour lapse starts the subscription', () => {
    const world = play(new World({ plan: 'team', interval: 'year', start: at('2026-01-01T00:00:00Z'), card: '3ds' }), [
      ['2026-01-01T22:59:58Z', { kind: 'complete_3ds', pick: 0, delayed: true }],
      ['2026-01-01T23:00:03Z', { kind: 'deliver_webhooks' }],
    ]);
    expect(cashPaid(world)).toBe(215280);
    expect([world.state.status, planLots(world)]).toEqual(['active', [['monthly', 6000]]]);
    world.checkHistory();
  });

  it('P2: canceling an incomplete subscription whose invoice was just paid keeps it, ending at the period end', () => {
    const world = play(new World({ plan: 'plus', interval: 'month', start: at('2026-01-01T00:00:00Z'), card: '3ds' }), [
      ['2026-01-01T01:00:00Z', { kind: 'complete_3ds', pick: 0, delayed: true }],
      [null, { kind: 'cancel' }],
    ]);
    expect([world.state.status, world.state.cancelAtPeriodEnd, planLots(world)]).toEqual(['active', true, [['monthly', 150]]]);
    world.checkHistory();
  });

  it('P3: interval switches a minute apart round at most one credit per switch the customer\'s way (the spec\'s floor)', () => {
    const world = new World({ plan: 'max', interval: 'month', start: at('2026-01-01T00:00:00Z'), card: 'visa' });
    for (let k = 0; k < 50; k++) {
      world.apply({ kind: 'advance', ms: MIN });
      world.apply({ kind: 'change', interval: 'year' });
      world.apply({ kind: 'advance', ms: MIN });
      world.apply({ kind: 'change', interval: 'month' });
    }
    const credits = planLots(world).reduce((sum, [, n]) => sum + (n as number), 0);
    expect(credits - 400).toBeLessThanOrEqual(100);
    world.checkHistory();
  });

  it('P4: a pause is refused while a switch waits for 3-D Secure (it would be undone by the switch)', () => {
    const world = play(new World({ plan: 'max', interval: 'year', start: at('2026-01-01T00:00:00Z'), card: 'visa' }), [
      [null, { kind: 'card', card: '3ds' }],
      ['2026-12-10T00:00:00Z', { kind: 'change', interval: 'month' }],
      [null, { kind: 'pause', cycles: 1 }],
    ]);
    expect([world.lastRefusal, viewOf(world.state).pause]).toEqual(['change_pending', null]);
  });

  it('P5: a downgrade scheduled before a cancel takes effect at the end, so a restart charges the plan chosen last', () => {
    const world = play(new World({ plan: 'generative', interval: 'month', start: at('2026-01-01T00:00:00Z'), card: 'visa' }), [
      ['2026-01-20T00:00:00Z', { kind: 'change', plan: 'max' }],
      ['2026-01-25T00:00:00Z', { kind: 'cancel' }],
      ['2026-02-10T00:00:00Z', { kind: 'resume' }],
    ]);
    expect([world.state.status, world.state.plan, world.invoices.at(-1)!.total]).toEqual(['active', 'max', 2900]);
    world.checkHistory();
  });

  it('P6: after a declined upgrade, a new card and the same upgrade at the same instant make a new invoice', () => {
    const world = play(new World({ plan: 'plus', interval: 'month', start: at('2026-01-01T00:00:00Z'), card: 'visa' }), [
      ['2026-01-11T00:00:00Z', { kind: 'card', card: 'declined' }],
      [null, { kind: 'change', plan: 'max' }],
    ]);
    expect(world.lastRefusal).toBe('payment_declined');
    play(world, [[null, { kind: 'card', card: 'visa' }], [null, { kind: 'change', plan: 'max' }]]);
    expect([world.lastRefusal, world.state.plan]).toEqual([null, 'max']);
    expect(world.invoices.filter((i) => i.kind === 'upgrade').map((i) => i.status)).toEqual(['void', 'paid']);
  });

  it('P6: after a declined restart, a new card and resume at the same instant restart it', () => {
    const world = play(new World({ plan: 'plus', interval: 'month', start: at('2026-01-01T00:00:00Z'), card: 'visa' }), [
      [null, { kind: 'cancel' }],
      ['2026-02-05T00:00:00Z', { kind: 'card', card: 'declined' }],
      [null, { kind: 'resume' }],
    ]);
    expect(world.lastRefusal).toBe('payment_declined');
    play(world, [[null, { kind: 'card', card: 'visa' }], [null, { kind: 'resume' }]]);
    expect([world.lastRefusal, world.state.status]).toEqual([null, 'active']);
  });

  it('found: two declined switches onto fewer credits at one instant each claw back and give back once (own keys)', () => {
    const world = play(new World({ plan: 'generative', interval: 'month', start: at('2026-01-01T00:00:00Z'), card: 'visa' }), [
      [null, { kind: 'card', card: 'declined' }],
      [null, { kind: 'change', plan: 'plus', interval: 'year' }],
      [null, { kind: 'change', plan: 'plus', interval: 'year' }],
    ]);
    expect(world.lastRefusal).toBe('payment_declined');
    // Each attempt took 750 and gave them back: the month's 900 are whole.
    expect(planLots(world).reduce((sum, [, n]) => sum + (n as number), 0)).toBe(900);
    world.checkHistory();
  });

  it('W1: the credit bound counts only refresh months already started (a yearly plan paid for is not 12 months of credits at once)', () => {
    const world = new World({ plan: 'max', interval: 'year', start: at('2026-01-01T00:00:00Z'), card: 'visa' });
    advanceTo(world, '2026-01-15T00:00:00Z');
    world.lots.push({ key: 'bogus', source: 'monthly', credits: 4400, clawed: 0, spent: 0, grantedAt: world.now, expiresAt: refreshAt(world.state.anchor, 'year', 2), retired: null, frozen: false });
    expect(() => world.checkHistory()).toThrow(/granted/);
  });
});
