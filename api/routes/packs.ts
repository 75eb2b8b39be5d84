import { createRoute, z } from '@hono/zod-openapi';
import { PACKS } from '../../domain/catalog.js';
import { requireWorkspace } from '../auth.js';
import { buyPack } from '../../billing/packs.js';
import { newRouter, type ApiDeps } from '../router.js';
import { bearer, Problem, problemResponses } from '../schemas.js';
import { Invoice, presentInvoice } from './invoices.js';

const sizes = PACKS.map((p) => p.credits);
const PackBody = z.object({
  size: z.number().int().refine((size) => sizes.includes(size), { message: `one of ${sizes.join(', ')}` })
    .openapi({ enum: sizes, description: 'Credits of the pack (GET /v1/plans lists the packs and their prices)' }),
}).strict().openapi('PackPurchaseCreateParams');
const Purchase = z.object({
  invoice_id: z.string().openapi({ description: 'The pack\'s invoice (the same id as `invoice.id`, as a plan change answers it)' }),
  invoice: Invoice,
  lot: z.string().nullable(),
}).openapi('PackPurchase');

export function packRoutes(deps: ApiDeps) {
  const router = newRouter();
  router.openapi(
    createRoute({ method: 'post', path: '/v1/credit-packs', security: bearer,
      description: 'Buys a pack (needs a live subscription): charged now, delivered as a never-expiring lot once paid. `Idempotency-Key` makes retries safe.',
      request: { body: { content: { 'application/json': { schema: PackBody } }, required: true } },
      responses: {
        201: { description: 'Paid (lot delivered) or waiting for 3-D Secure (lot null, invoice open)', content: { 'application/json': { schema: Purchase } } },
        402: { description: 'Payment declined (`payment_declined`): the invoice is voided, nothing is delivered', content: { 'application/problem+json': { schema: Problem } } },
        409: { description: 'No live subscription (`subscription_required`): packs need an active, past-due or paused one', content: { 'application/problem+json': { schema: Problem } } },
        ...problemResponses,
      } }),
    async (c) => {
      const workspace = requireWorkspace(c.get('principal'));
      const { charge, lot } = await buyPack(deps, workspace, { size: c.req.valid('json').size, idempotencyKey: c.req.header('idempotency-key') });
      return c.json({ invoice_id: charge.invoice.id, invoice: presentInvoice(charge.invoice), lot }, 201);
    },
  );
  return router;
}
