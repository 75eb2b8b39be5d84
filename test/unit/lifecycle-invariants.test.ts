import fc from 'fast-check';
import { describe, it } from 'vitest';
import { history } from '../helpers/lifecycle-arbitraries.js';
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
/** Plays a history; returns the world (throws an InvariantViolation with the steps so far). */
function play(h: { plan: string; interval: 'month' | 'year'; card: Card; start: number; actions: Action[] }): World {
  const world = new World({ plan: h.plan, interval: h.interval, start: h.start, card: h.card });
  try {
    for (const a of h.actions) world.apply(a);
    world.checkHistory();
  } catch (error) {
    throw new Error(`${(error as Error).message}\n  history:\n    ${world.log.join('\n    ')}`, { cause: error });
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
