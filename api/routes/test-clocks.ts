import { createRoute, z } from '@hono/zod-openapi';
import { expireStaleHolds } from '../../ledger/spend.js';
import { lapseOpenPacks } from '../../billing/pack-lapse.js';
import { advanceTestClock, createTestClock, getTestClock } from '../../ledger/test-clocks.js';
import { requireOperator } from '../auth.js';
import { invalid, notFound } from '../errors.js';
import { newRouter, type ApiDeps } from '../router.js';
import { bearer, Instant, json, Problem, problemResponses, TextLine } from '../schemas.js';
import { signalClockAdvanced } from '../../billing/clock-fan-out.js';

const TestClock = z
  .object({ id: z.string(), frozen_time: Instant, status: z.enum(['advancing', 'ready']) })
  .openapi('TestClock');
/**
 * A clock's time: an ISO 8601 instant from 1970-01-01T00:00:00Z up to 9999-12-31T23:59:59.999Z (issue 16,
 * finding 9). Postgres has no year 0, and a year before 100 reads back a century off (0099 → 1999); the range
 * keeps every time a clock can hold one that round-trips exactly.
 */
export const CLOCK_TIME_RANGE = { min: Date.UTC(1970, 0, 1), max: Date.UTC(10_000, 0, 1) - 1 } as const;
const ClockTime = Instant.refine((text) => {
  const ms = Date.parse(text);
  return Number.isFinite(ms) && ms >= CLOCK_TIME_RANGE.min && ms <= CLOCK_TIME_RANGE.max;
}, { message: 'must be between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59Z' });
const FrozenTimeBody = z.object({ frozen_time: ClockTime }).strict().openapi('TestClockTimeParams');
const ClockParams = z.object({ id: TextLine.min(1).max(64) });
const body = { content: { 'application/json': { schema: FrozenTimeBody } }, required: true };
const clockProblems = {
  ...problemResponses,
  404: { description: 'Unknown test clock', content: { 'application/problem+json': { schema: Problem } } },
} as const;

export function testClockRoutes(deps: ApiDeps) {
  const router = newRouter();

  router.openapi(
    createRoute({ method: 'post', path: '/v1/test-clocks', security: bearer, request: { body },
      responses: { 201: { description: 'Created', ...json(TestClock) }, ...problemResponses } }),
    async (c) => {
      requireOperator(c.get('principal'));
      return c.json(await createTestClock(deps.sql, new Date(c.req.valid('json').frozen_time)), 201);
    },
  );

  router.openapi(
    createRoute({ method: 'get', path: '/v1/test-clocks/{id}', security: bearer,
      request: { params: ClockParams }, responses: { 200: { description: 'The clock', ...json(TestClock) }, ...clockProblems } }),
    async (c) => {
      requireOperator(c.get('principal'));
      const clock = await getTestClock(deps.sql, c.req.valid('param').id);
      if (!clock) throw notFound('test clock');
      return c.json(clock, 200);
    },
  );

  router.openapi(
    createRoute({ method: 'post', path: '/v1/test-clocks/{id}/advance', security: bearer,
      request: { params: ClockParams, body },
      responses: { 200: { description: 'Advancing; poll until ready', ...json(TestClock) }, ...clockProblems } }),
    async (c) => {
      requireOperator(c.get('principal'));
      const { id } = c.req.valid('param');
      const to = new Date(c.req.valid('json').frozen_time);
      const result = await advanceTestClock(deps.sql, id, to);
      if (!result.ok && result.reason === 'not_found') throw notFound('test clock');
      if (!result.ok) throw invalid('frozen_time', `must not be before the clock's time ${result.current!.toISOString()}`);
      // Holds that lapsed by the new time are released before the clock answers; every subscription on
      // the clock catches up in its own workflow, and the clock is ready when all have reported back.
      await expireStaleHolds(deps.sql, { testClockId: id, limit: 10_000 });
      // Pack invoices waiting for 3-D Secure in workspaces with nothing live lapse now; those past their 23 hours
      // lapse as each subscription catches up (its charges and its clock report), in time order with its renewals.
      await lapseOpenPacks(deps, { testClockId: id, onlyWithoutLive: true, limit: 10_000 });
      await signalClockAdvanced(deps.temporal, result.subscriptionIds, to.getTime());
      return c.json((await getTestClock(deps.sql, id))!, 200);
    },
  );
  return router;
}
