import { createRoute, z } from '@hono/zod-openapi';
import { PACKS } from '../../domain/catalog.js';
import { requireWorkspace } from '../auth.js';
import { buyPack } from '../../billing/packs.js';
import { newRouter, type ApiDeps } from '../router.js';
import { bearer, Problem, problemResponses } from '../schemas.js';
import { Invoice, presentInvoice } from './invoices.js';

const sizes = PACKS.map((p) => p.credits);
const PackCredits = z.number().int().refine((size) => sizes.includes(size), { message: `one of ${sizes.join(', ')}` });
/**
 * `pack` names the pack as PUT /v1/auto-top-up does; `size`, its first name here, stays accepted (deprecated).
 * Exactly one is needed; both are accepted when they agree.
 */
const PackBody = z.object({
  pack: PackCredits.optional()
    .openapi({ enum: sizes, description: 'Credits of the pack (GET /v1/plans lists the packs and their prices)' }),
  size: PackCredits.optional()
    .openapi({ enum: sizes, deprecated: true, description: 'Deprecated: the same as `pack` (an older name, still accepted; both given must agree)' }),
}).strict().superRefine((body, ctx) => {
  if (body.pack === undefined && body.size === undefined) {
    ctx.addIssue({ code: 'custom', path: ['pack'], message: `required: the pack's credits, one of ${sizes.join(', ')}` });
  } else if (body.pack !== undefined && body.size !== undefined && body.pack !== body.size) {
    for (const field of ['pack', 'size']) ctx.addIssue({ code: 'custom', path: [field], message: 'pack and size (its deprecated name) differ: send pack only' });
  }
}).openapi('PackPurchaseCreateParams');
const Purchase = z.object({
  invoice_id: z.string().openapi({ description: 'The pack\'s invoice (the same id as `invoice.id`, as a plan change answers it)' }),
  invoice: Invoice,
  lot: z.string().nullable(),
}).openapi('PackPurchase');

export function packRoutes(deps: ApiDeps) {
  const router = newRouter();
  router.openapi(
    createRoute({ method: 'post', path: '/v1/credit-packs', security: bearer,
      description: 'Buys a pack, `{"pack": 100}` (needs a live subscription): charged now, delivered as a never-expiring lot once paid. '
        + '`size`, the older name of `pack`, is still accepted. `Idempotency-Key` makes retries safe.',
      request: { body: { content: { 'application/json': { schema: PackBody } }, required: true } },
      responses: {
        201: { description: 'Paid (lot delivered) or waiting for 3-D Secure (lot null, invoice open)', content: { 'application/json': { schema: Purchase } } },
        402: { description: 'Payment declined (`payment_declined`): the invoice is voided, nothing is delivered', content: { 'application/problem+json': { schema: Problem } } },
        409: { description: 'No live subscription (`subscription_required`): packs need an active, past-due or paused one', content: { 'application/problem+json': { schema: Problem } } },
        ...problemResponses,
      } }),
    async (c) => {
      const workspace = requireWorkspace(c.get('principal'));
      const body = c.req.valid('json');
      const size = (body.pack ?? body.size)!; // one of them: PackBody refuses a body with neither
      const { charge, lot } = await buyPack(deps, workspace, { size, idempotencyKey: c.req.header('idempotency-key') });
      return c.json({ invoice_id: charge.invoice.id, invoice: presentInvoice(charge.invoice), lot }, 201);
    },
  );
  return router;
}
