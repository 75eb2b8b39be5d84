/**
 * Random subscription histories for the lifecycle tests: a start (plan, interval, card, instant across
 * month ends and 29 February) and actions (clock advances of minutes to months, to just before and after
 * period ends, changes, cancel, resume, pause, card changes, 3-D Secure completions, duplicate webhooks,
 * packs, custom models, re-subscribing).
 */
import fc from 'fast-check';
import { DAY_MS } from '../../domain/calendar.js';
import { PLAN_IDS } from '../../domain/catalog.js';
import type { Action, Card } from './lifecycle-world.js';

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;

/** Start instants across month ends, leap days and ordinary days. */
export const STARTS = [
  '2026-01-01T00:00:00Z', '2026-01-31T10:00:00Z', '2028-02-29T09:00:00Z', '2027-12-31T23:30:00Z', '2026-03-30T00:00:00Z',
  '2043-07-01T00:00:00Z', '2031-05-31T12:00:00Z',
].map(Date.parse);

export const plan = fc.constantFrom(...PLAN_IDS);
export const interval = fc.constantFrom<'month' | 'year'>('month', 'year');
export const card = fc.constantFrom<Card>('visa', 'visa', 'declined', '3ds');
export const duration = fc.oneof(
  fc.constantFrom(MINUTE, HOUR, 12 * HOUR, 23 * HOUR, DAY_MS, 3 * DAY_MS, 7 * DAY_MS, 29 * DAY_MS, 30 * DAY_MS, 31 * DAY_MS, 45 * DAY_MS, 365 * DAY_MS),
  fc.integer({ min: MINUTE, max: 400 * DAY_MS }),
);

export const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 6, arbitrary: duration.map((ms): Action => ({ kind: 'advance', ms })) },
  { weight: 4, arbitrary: fc.constantFrom(-22 * HOUR, -HOUR, -MINUTE, 0, MINUTE, HOUR).map((offsetMs): Action => ({ kind: 'advance_to_period_end', offsetMs })) },
  { weight: 4, arbitrary: fc.record({ plan: fc.option(plan, { nil: undefined }), interval: fc.option(interval, { nil: undefined }) }).map((r): Action => ({ kind: 'change', ...r })) },
  { weight: 1, arbitrary: fc.constant<Action>({ kind: 'withdraw' }) },
  { weight: 3, arbitrary: fc.constant<Action>({ kind: 'cancel' }) },
  { weight: 1, arbitrary: fc.constant<Action>({ kind: 'cancel_now' }) },
  { weight: 2, arbitrary: fc.constant<Action>({ kind: 'resume' }) },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 3 }).map((cycles): Action => ({ kind: 'pause', cycles })) },
  { weight: 3, arbitrary: card.map((c): Action => ({ kind: 'card', card: c })) },
  { weight: 3, arbitrary: fc.tuple(fc.nat(9), fc.boolean()).map(([pick, delayed]): Action => ({ kind: 'complete_3ds', pick, delayed })) },
  { weight: 2, arbitrary: fc.constant<Action>({ kind: 'deliver_webhooks' }) },
  { weight: 1, arbitrary: fc.nat(9).map((pick): Action => ({ kind: 'duplicate_webhook', pick })) },
  { weight: 1, arbitrary: fc.constant<Action>({ kind: 'pack' }) },
  { weight: 4, arbitrary: fc.constant<Action>({ kind: 'activate_model' }) },
  { weight: 1, arbitrary: fc.nat(20).map((pick): Action => ({ kind: 'use_model', pick })) },
  { weight: 3, arbitrary: fc.record({ plan, interval }).map((r): Action => ({ kind: 'resubscribe', ...r })) },
  { weight: 3, arbitrary: fc.oneof(fc.integer({ min: 1, max: 500 }), fc.constantFrom(150, 400, 900, 6000, 7000)).map((credits): Action => ({ kind: 'spend', credits })) },
);

export const history = fc.record({
  plan, interval, card, start: fc.constantFrom(...STARTS), actions: fc.array(action, { minLength: 1, maxLength: 24 }),
});

