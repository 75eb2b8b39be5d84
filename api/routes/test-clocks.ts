import { createRoute, z } from '@hono/zod-openapi';
import { clockAdvancedSignal } from '../../workflows/messages.js';
import { expireStaleHolds } from '../../ledger/spend.js';
import { advanceTestClock, createTestClock, getTestClock } from '../../ledger/test-clocks.js';
import { requireOperator } from '../auth.js';
import { invalid, notFound } from '../errors.js';
import { newRouter, type ApiDeps } from '../router.js';
import { bearer, Instant, json, Problem, problemResponses } from '../schemas.js';
import { signalIfRunning, workflowIdOf } from '../../billing/subscriptions.js';

const TestClock = z
  .object({ id: z.string(), frozen_time: Instant, status: z.enum(['advancing', 'ready']) })
  .openapi('TestClock');
const FrozenTimeBody = z.object({ frozen_time: Instant }).strict();
const ClockParams = z.object({ id: z.string().min(1).max(64) });
const body = { content: { 'application/json': { schema: FrozenTimeBody } }, required: true };
const clockProblems = {
  ...problemResponses,
  404: { description: 'Unknown test clock', content: { 'application/problem+json': { schema: Problem } } },
} as const;

export function testClockRoutes(deps: ApiDeps) {
  const router = newRouter();

  router.openapi(
    createRoute({ method: 'post', path: '/v1/test-clocks', tags: ['test clocks'], security: bearer, request: { body },
      responses: { 201: { description: 'Created', ...json(TestClock) }, ...problemResponses } }),
    async (c) => {
      requireOperator(c.get('principal'));
      return c.json(await createTestClock(deps.sql, new Date(c.req.valid('json').frozen_time)), 201);
    },
  );

  router.openapi(
    createRoute({ method: 'get', path: '/v1/test-clocks/{id}', tags: ['test clocks'], security: bearer,
      request: { params: ClockParams }, responses: { 200: { description: 'The clock', ...json(TestClock) }, ...clockProblems } }),
    async (c) => {
      requireOperator(c.get('principal'));
      const clock = await getTestClock(deps.sql, c.req.valid('param').id);
      if (!clock) throw notFound('test clock');
      return c.json(clock, 200);
    },
  );

  router.openapi(
    createRoute({ method: 'post', path: '/v1/test-clocks/{id}/advance', tags: ['test clocks'], security: bearer,
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
      await Promise.all(result.subscriptionIds.map((subId) =>
        signalIfRunning(deps.temporal, workflowIdOf(subId), clockAdvancedSignal, { frozenTimeMs: to.getTime() })));
      return c.json((await getTestClock(deps.sql, id))!, 200);
    },
  );
  return router;
}
