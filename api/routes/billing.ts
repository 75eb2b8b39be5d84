import { randomBytes } from 'node:crypto';
import { createRoute, z } from '@hono/zod-openapi';
import { openBillingPortal, providerCustomerId } from '../../billing/portal.js';
import { requireWorkspace } from '../auth.js';
import { ApiError } from '../errors.js';
import { newRouter, type ApiDeps } from '../router.js';
import { bearer, Problem, problemResponses } from '../schemas.js';

const UrlResponse = z.object({ url: z.string() }).openapi('RedirectUrl');

export function billingRoutes(deps: ApiDeps) {
  const router = newRouter();

  router.openapi(
    createRoute({ method: 'post', path: '/v1/billing-portal', security: bearer,
      description: 'A Billing Portal session (open it in a new tab); it returns to the pricing page.',
      responses: { 200: { description: 'Portal URL', content: { 'application/json': { schema: UrlResponse } } }, ...problemResponses } }),
    async (c) => {
      return c.json(await openBillingPortal(deps, requireWorkspace(c.get('principal'))), 200);
    },
  );

  router.openapi(
    createRoute({ method: 'post', path: '/v1/payment-method/checkout', security: bearer,
      description: 'Stripe mode: a Checkout session (setup mode) where the customer enters a card. Card data never reaches this system.',
      responses: {
        200: { description: 'Checkout URL', content: { 'application/json': { schema: UrlResponse } } },
        409: { description: 'Sandbox mode: set a test payment method with PUT /v1/payment-method', content: { 'application/problem+json': { schema: Problem } } },
        ...problemResponses,
      } }),
    async (c) => {
      const workspace = requireWorkspace(c.get('principal'));
      if (!deps.stripe) throw new ApiError(409, 'sandbox_mode', 'the sandbox takes test payment method ids: PUT /v1/payment-method');
      const customerId = await providerCustomerId(deps, deps.stripe, workspace);
      const { url } = await deps.stripe.createSetupSession({
        customerId, workspaceId: workspace.id, requestId: randomBytes(8).toString('hex'),
        successUrl: `${deps.publicUrl}/billing?card=saved`, cancelUrl: `${deps.publicUrl}/billing`,
      });
      return c.json({ url }, 200);
    },
  );
  return router;
}
