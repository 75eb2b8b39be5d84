import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DAY_MS } from '../../domain/calendar.js';
import { PLAN_IDS } from '../../domain/catalog.js';
import { type Action, type Card, World } from '../helpers/lifecycle-world.js';

/**
 * The SPEC §4 invariants over random histories of the pure lifecycle core (simulated clock, card, invoices,
 * customer balance, lots, packs and custom models), checked after every step and over the whole history:
 * money matches the plan enjoyed (every stretch of time paid once, at the price of the plan in force, each
 * line to the cent), the customer balance is never negative or lost, refresh lots are sized by the plan in
 * force, change grants follow the credit-aware rules, no sequence of changes creates credits, entitlements
 * never exceed the live plan, packs are frozen exactly while nothing is live, nothing hangs past its
 * deadline, next_due_at is the next charge the schedule makes, and the view never shows the past as upcoming.
 * LIFECYCLE_SEED replays a run; LIFECYCLE_RUNS sets the number of histories (default 10,000).
 */
const SEED = Number(process.env.LIFECYCLE_SEED ?? Math.floor(Math.random() * 2 ** 31));
const RUNS = Number(process.env.LIFECYCLE_RUNS ?? 10_000);
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** Start instants across month ends, leap days and ordinary days. */
const STARTS = [
  '2026-01-01T00:00:00Z', '2026-01-31T10:00:00Z', '2028-02-29T09:00:00Z', '2027-12-31T23:30:00Z', '2026-03-30T00:00:00Z',
  '2043-07-01T00:00:00Z', '2031-05-31T12:00:00Z',
].map(Date.parse);

const plan = fc.constantFrom(...PLAN_IDS);
const interval = fc.constantFrom<'month' | 'year'>('month', 'year');
const card = fc.constantFrom<Card>('visa', 'visa', 'declined', '3ds');
const duration = fc.oneof(
  fc.constantFrom(MINUTE, HOUR, 12 * HOUR, 23 * HOUR, DAY_MS, 3 * DAY_MS, 7 * DAY_MS, 29 * DAY_MS, 30 * DAY_MS, 31 * DAY_MS, 45 * DAY_MS, 365 * DAY_MS),
  fc.integer({ min: MINUTE, max: 400 * DAY_MS }),
);

const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 6, arbitrary: duration.map((ms): Action => ({ kind: 'advance', ms })) },
  { weight: 4, arbitrary: fc.constantFrom(-22 * HOUR, -HOUR, -MINUTE, 0, MINUTE, HOUR).map((offsetMs): Action => ({ kind: 'advance_to_period_end', offsetMs })) },
  { weight: 4, arbitrary: fc.record({ plan: fc.option(plan, { nil: undefined }), interval: fc.option(interval, { nil: undefined }) }).map((r): Action => ({ kind: 'change', ...r })) },
  { weight: 1, arbitrary: fc.constant<Action>({ kind: 'withdraw' }) },
  { weight: 3, arbitrary: fc.constant<Action>({ kind: 'cancel' }) },
  { weight: 2, arbitrary: fc.constant<Action>({ kind: 'resume' }) },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 3 }).map((cycles): Action => ({ kind: 'pause', cycles })) },
  { weight: 3, arbitrary: card.map((c): Action => ({ kind: 'card', card: c })) },
  { weight: 3, arbitrary: fc.nat(9).map((pick): Action => ({ kind: 'complete_3ds', pick })) },
  { weight: 1, arbitrary: fc.nat(9).map((pick): Action => ({ kind: 'duplicate_webhook', pick })) },
  { weight: 1, arbitrary: fc.constant<Action>({ kind: 'pack' }) },
  { weight: 4, arbitrary: fc.constant<Action>({ kind: 'activate_model' }) },
  { weight: 1, arbitrary: fc.nat(20).map((pick): Action => ({ kind: 'use_model', pick })) },
  { weight: 3, arbitrary: fc.record({ plan, interval }).map((r): Action => ({ kind: 'resubscribe', ...r })) },
);

const history = fc.record({
  plan, interval, card, start: fc.constantFrom(...STARTS), actions: fc.array(action, { minLength: 1, maxLength: 24 }),
});

/** Plays a history; returns the world (throws an InvariantViolation with the steps so far). */
function play(h: { plan: string; interval: 'month' | 'year'; card: Card; start: number; actions: Action[] }): World {
  const world = new World({ plan: h.plan, interval: h.interval, start: h.start, card: h.card });
  try {
    for (const a of h.actions) world.apply(a);
    world.checkHistory();
  } catch (error) {
    throw new Error(`${(error as Error).message}\n  history:\n    ${world.log.join('\n    ')}`);
  }
  return world;
}

describe('lifecycle invariants over random histories (pure core)', () => {
  it(`hold for ${RUNS} histories (seed ${SEED})`, { timeout: 300_000 }, () => {
    console.log(`[lifecycle-invariants] seed ${SEED} (LIFECYCLE_SEED=${SEED} to replay), ${RUNS} histories`);
    fc.assert(fc.property(history, (h) => {
      play(h);
    }), { seed: SEED, numRuns: RUNS, verbose: 1 });
  });
});
