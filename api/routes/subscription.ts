import { createRoute, z } from '@hono/zod-openapi';
import { INTERVALS, PLAN_IDS } from '../../domain/catalog.js';
import { currentSubscription, type SubscriptionRow } from '../../ledger/subscriptions.js';
import { requireWorkspace } from '../auth.js';
import { ApiError } from '../errors.js';
import { newRouter, type ApiDeps } from '../router.js';
import { bearer, problemResponses } from '../schemas.js';
import { startSubscription } from '../subscriptions.js';

const NewSubscription = z.object({ plan: z.enum(PLAN_IDS), interval: z.enum(INTERVALS as ['month', 'year']) }).strict();
const Subscription = z.object({
  id: z.string(),
  status: z.enum(['incomplete', 'active', 'past_due', 'paused', 'canceled']),
  plan: z.string(),
  interval: z.enum(['month', 'year']),
  current_period_start: z.string(),
  current_period_end: z.string(),
  cancel_at_period_end: z.boolean(),
  next_due_at: z.string().nullable(),
  scheduled_change: z.null(),
  pause: z.null(),
  pending_upgrade: z.null(),
}).openapi('Subscription');
const subscriptionJson = { content: { 'application/json': { schema: Subscription } } };

function present(row: SubscriptionRow): z.infer<typeof Subscription> {
  return {
    id: row.id, status: row.status, plan: row.plan, interval: row.interval,
    current_period_start: row.current_period_start.toISOString(),
    current_period_end: row.current_period_end.toISOString(),
    cancel_at_period_end: row.cancel_at_period_end,
    next_due_at: row.next_due_at?.toISOString() ?? null,
    scheduled_change: null, pause: null, pending_upgrade: null,
  };
}

export function subscriptionRoutes(deps: ApiDeps) {
  const router = newRouter();

  router.openapi(
    createRoute({ method: 'post', path: '/v1/subscription', tags: ['subscription'], security: bearer,
      description: 'Charges the first period now; credits are granted once it is paid.',
      request: { body: { content: { 'application/json': { schema: NewSubscription } }, required: true } },
      responses: { 201: { description: 'Subscription after the first charge attempt', ...subscriptionJson }, ...problemResponses } }),
    async (c) => {
      const workspace = requireWorkspace(c.get('principal'));
      const started = await startSubscription(deps, workspace, c.req.valid('json'));
      return c.json({ ...started, scheduled_change: null, pause: null, pending_upgrade: null }, 201);
    },
  );

  router.openapi(
    createRoute({ method: 'get', path: '/v1/subscription', tags: ['subscription'], security: bearer,
      responses: { 200: { description: 'The workspace\'s subscription', ...subscriptionJson }, ...problemResponses } }),
    async (c) => {
      const workspace = requireWorkspace(c.get('principal'));
      const row = await currentSubscription(deps.sql, workspace.id);
      if (!row) throw new ApiError(404, 'no_subscription', 'this workspace has no subscription');
      return c.json(present(row), 200);
    },
  );
  return router;
}
