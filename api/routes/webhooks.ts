import { Hono } from 'hono';
import { toPaymentEvent, verifyStripeEvent } from '../../payments/webhooks.js';
import { ApiError, problem } from '../errors.js';
import type { ApiDeps } from '../router.js';
import { storeWebhookEvent } from '../webhooks/inbox.js';

/**
 * POST /webhooks/stripe: verifies the signature on the raw body, stores the event, and only then
 * answers 2xx. A bad signature is a 400 and stores nothing.
 */
export function webhookRoutes(deps: ApiDeps) {
  const router = new Hono();
  router.post('/webhooks/stripe', async (c) => {
    const raw = await c.req.text();
    let event;
    try {
      event = toPaymentEvent(verifyStripeEvent(raw, c.req.header('stripe-signature') ?? '', deps.webhookSecret));
    } catch {
      return problem(c, new ApiError(400, 'invalid_signature', 'the Stripe-Signature header does not match the body'));
    }
    const { duplicate } = await storeWebhookEvent(deps.sql, event);
    return c.json({ received: true, duplicate }, 200);
  });
  return router;
}
