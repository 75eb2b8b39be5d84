import { createRoute, z } from '@hono/zod-openapi';
import { retrySubscriptionPayment } from '../../billing/retry-payment.js';
import { updateSubscription } from '../../billing/subscriptions.js';
import { getWorkspace, type WorkspaceIdentity } from '../../ledger/workspaces.js';
import { cancelNowUpdate, cancelUpdate, pauseUpdate, resumeUpdate, type SubscriptionView } from '../../workflows/messages.js';
import { notFound } from '../errors.js';
import { newRouter, type ApiDeps } from '../router.js';
import { json, operatorBearer, Problem } from '../schemas.js';
import { fromRow, PauseBody, Subscription } from './subscription.js';
import { WorkspaceParams, workspaceProblems } from './admin-workspaces.js';

const CancelBody = z.object({
  at_period_end: z.boolean().default(true).openapi({ description: 'true (default): no further renewals, usable until the period ends; false: ends now (plan credits forfeited, packs and adjustments frozen, nothing refunded: refund separately)' }),
}).strict().openapi('AdminSubscriptionCancelParams');
const refusals = {
  ...workspaceProblems,
  402: { description: 'Payment declined (a resume that restarts a canceled subscription)', content: { 'application/problem+json': { schema: Problem } } },
  409: { description: 'Not allowed in the subscription\'s current state', content: { 'application/problem+json': { schema: Problem } } },
} as const;

async function identity(deps: ApiDeps, id: string): Promise<WorkspaceIdentity> {
  const workspace = await getWorkspace(deps.sql, id);
  if (!workspace) throw notFound('workspace');
  return { id: workspace.id, name: workspace.name, test_clock_id: workspace.test_clock_id };
}

/**
 * SPEC §10: an operator acts on a customer's subscription. Each action is the customer's own request (the
 * same workflow Update, validated and refused alike), except cancel now (an operator-only Update) and the
 * retry of an unpaid renewal or first invoice (the signal a new card sends, with the card on file).
 */
export function adminSubscriptionRoutes(deps: ApiDeps) {
  const router = newRouter();
  const post = (action: string, description: string, body?: z.ZodType, required = true) => createRoute({
    method: 'post', path: `/v1/admin/workspaces/{id}/subscription/${action}`, security: operatorBearer, description,
    request: { params: WorkspaceParams, ...(body ? { body: { ...json(body), required } } : {}) },
    responses: { 200: { description: 'The subscription after the request', ...json(Subscription) }, ...refusals },
  });
  const respond = (view: SubscriptionView) => view as z.infer<typeof Subscription>;

  router.openapi(post('cancel', 'Cancel at the period end (default) or now, on the customer\'s behalf (operator).', CancelBody, false), async (c) => {
    const workspace = await identity(deps, c.req.valid('param').id);
    const { at_period_end: atPeriodEnd } = CancelBody.parse((c.req.valid('json' as never) as unknown) ?? {});
    return c.json(respond(await updateSubscription(deps, workspace, atPeriodEnd ? cancelUpdate : cancelNowUpdate)), 200);
  });
  router.openapi(post('pause', 'Pause for 1–3 cycles from the period end, on the customer\'s behalf (operator).', PauseBody), async (c) => {
    const workspace = await identity(deps, c.req.valid('param').id);
    const { cycles } = c.req.valid('json' as never) as z.infer<typeof PauseBody>;
    return c.json(respond(await updateSubscription(deps, workspace, pauseUpdate, { cycles })), 200);
  });
  router.openapi(post('resume', 'Withdraw a cancellation or pause, end a pause now, or restart (charged), on the customer\'s behalf (operator).'), async (c) => {
    const workspace = await identity(deps, c.req.valid('param').id);
    return c.json(respond(await updateSubscription(deps, workspace, resumeUpdate)), 200);
  });
  router.openapi(
    createRoute({ method: 'post', path: '/v1/admin/workspaces/{id}/subscription/retry-payment', security: operatorBearer,
      description: 'Retries a past-due renewal (or an unpaid first invoice) now with the card on file, as a new card would (operator). '
        + 'Answers 202 with the subscription as it is when the retry is requested; its outcome follows (GET the workspace).',
      request: { params: WorkspaceParams },
      responses: { 202: { description: 'Retry requested', ...json(Subscription) }, ...refusals } }),
    async (c) => {
      const workspace = await identity(deps, c.req.valid('param').id);
      return c.json(fromRow(await retrySubscriptionPayment(deps, workspace.id)), 202);
    },
  );
  return router;
}
