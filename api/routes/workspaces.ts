import { createRoute, z } from '@hono/zod-openapi';
import { getTestClock } from '../../ledger/test-clocks.js';
import { createWorkspace } from '../../ledger/workspaces.js';
import { SANDBOX_PAYMENT_METHODS } from '../../payments/sandbox.js';
import { requireOperator, requireWorkspace } from '../auth.js';
import { invalid } from '../errors.js';
import { newRouter, type ApiDeps } from '../router.js';
import { savePaymentMethod } from '../../billing/payment-methods.js';
import { bearer, problemResponses } from '../schemas.js';

const NewWorkspace = z.object({
  name: z.string().trim().min(1).max(200),
  test_clock_id: z.string().min(1).max(64).optional(),
}).strict();
const CreatedWorkspace = z.object({ id: z.string(), api_key: z.string() }).openapi('CreatedWorkspace');
const PaymentMethodBody = z.object({ payment_method: z.enum(SANDBOX_PAYMENT_METHODS) }).strict();

export function workspaceRoutes(deps: ApiDeps) {
  const router = newRouter();

  router.openapi(
    createRoute({ method: 'post', path: '/v1/workspaces', tags: ['workspaces'], security: bearer,
      request: { body: { content: { 'application/json': { schema: NewWorkspace } }, required: true } },
      responses: { 201: { description: 'Created; the API key is shown only once', content: { 'application/json': { schema: CreatedWorkspace } } }, ...problemResponses } }),
    async (c) => {
      requireOperator(c.get('principal'));
      const body = c.req.valid('json');
      if (body.test_clock_id && !(await getTestClock(deps.sql, body.test_clock_id))) {
        throw invalid('test_clock_id', 'no test clock has this id');
      }
      const created = await createWorkspace(deps.sql, { name: body.name, testClockId: body.test_clock_id ?? null });
      return c.json({ id: created.id, api_key: created.apiKey }, 201);
    },
  );

  router.openapi(
    createRoute({ method: 'put', path: '/v1/payment-method', tags: ['billing'], security: bearer,
      description: 'Sandbox mode: one of Stripe\'s test payment method ids. (Stripe mode collects cards through Checkout.)',
      request: { body: { content: { 'application/json': { schema: PaymentMethodBody } }, required: true } },
      responses: { 200: { description: 'Saved', content: { 'application/json': { schema: PaymentMethodBody } } }, ...problemResponses } }),
    async (c) => {
      const workspace = requireWorkspace(c.get('principal'));
      const { payment_method } = c.req.valid('json');
      // A past-due renewal is retried at once with the new card.
      await savePaymentMethod(deps, workspace.id, payment_method);
      return c.json({ payment_method }, 200);
    },
  );
  return router;
}
