import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { INTERVALS, PLAN_IDS } from '../../domain/catalog.js';
import { onRequest, viewOf } from '../../domain/lifecycle/index.js';
import { planChange } from '../../domain/lifecycle/changes.js';
import { changeKindOf, offersFor, resumeCharges } from '../../domain/lifecycle/offers.js';
import { Refusal } from '../../domain/refusals.js';
import { history } from '../helpers/lifecycle-arbitraries.js';
import { World } from '../helpers/lifecycle-world.js';

/**
 * The billing page's buttons (domain/lifecycle/offers.ts) against the requests' own rules (onRequest,
 * planChange), in every state of random histories of the pure core: a button shown is a request accepted,
 * a request accepted has its button (cancel of an unpaid first payment aside: the page does not offer it),
 * resuming charges exactly when the page says so, and a change's kind is the one planChange decides.
 * OFFERS_SEED replays a run; OFFERS_RUNS sets the number of histories (default 1,000).
 */
const SEED = Number(process.env.OFFERS_SEED ?? Math.floor(Math.random() * 2 ** 31));
const RUNS = Number(process.env.OFFERS_RUNS ?? 1_000);

/** Whether the core accepts `request` now (a Refusal means no; anything else is a bug and is rethrown). */
function accepted(run: () => unknown): boolean {
  try {
    run();
    return true;
  } catch (error) {
    if (error instanceof Refusal) return false;
    throw error;
  }
}

function checkOffers(world: World): void {
  const { state, now } = world;
  const view = viewOf(state);
  const offers = offersFor(view);
  const where = `${state.status} ${JSON.stringify({ cancelAtPeriodEnd: state.cancelAtPeriodEnd, pause: state.pause, pending: !!state.pendingChange, incomplete: !!state.incomplete })}`;

  for (const plan of PLAN_IDS) {
    for (const interval of INTERVALS) {
      if (plan === state.plan && interval === state.interval) continue;
      const ok = accepted(() => planChange(state, { plan, interval }, now));
      expect(ok, `change to ${plan} ${interval} when ${where}`).toBe(offers.change);
      if (ok) expect(changeKindOf(state, { plan, interval })).toBe(planChange(state, { plan, interval }, now).kind);
    }
  }
  expect(accepted(() => onRequest(state, { kind: 'pause', cycles: 1 }, now)), `pause when ${where}`).toBe(offers.pause);
  const cancelOk = accepted(() => onRequest(state, { kind: 'cancel' }, now));
  if (offers.cancel) expect(cancelOk, `cancel when ${where}`).toBe(true);
  else if (cancelOk) expect(state.incomplete, `cancel accepted but not offered when ${where}`).not.toBeNull();
  const resumeOk = accepted(() => onRequest(state, { kind: 'resume' }, now));
  expect(resumeOk, `resume when ${where}`).toBe(offers.resume !== null);
  if (offers.resume) {
    const step = onRequest(state, { kind: 'resume' }, now);
    expect(step.charge !== undefined, `resume (${offers.resume}) charges when ${where}`).toBe(resumeCharges(offers.resume));
  }
}

describe('the billing page offers exactly the requests the lifecycle core accepts', () => {
  it(`in every state of ${RUNS} random histories (seed ${SEED})`, { timeout: 300_000 }, () => {
    console.log(`[billing-page-offers] seed ${SEED} (OFFERS_SEED=${SEED} to replay), ${RUNS} histories`);
    fc.assert(fc.property(history, (h) => {
      const world = new World({ plan: h.plan, interval: h.interval, start: h.start, card: h.card });
      checkOffers(world);
      for (const action of h.actions) {
        world.apply(action);
        checkOffers(world);
      }
    }), { seed: SEED, numRuns: RUNS, verbose: 1 });
  });
});
