import { createRoute, z } from '@hono/zod-openapi';
import { estimateCredits, MAX_COUNT, MAX_DURATION_S, MODEL_IDS } from '../../domain/costs.js';
import { Refusal } from '../../domain/refusals.js';
import { createQuote, endCreation, expireStaleHolds, holdForQuote } from '../../ledger/spend.js';
import { requireWorkspace } from '../auth.js';
import { invalid } from '../errors.js';
import { newRouter, type ApiDeps } from '../router.js';
import { bearer, json, Problem, problemResponses } from '../schemas.js';

const EstimateBody = z.object({
  model: z.enum(MODEL_IDS),
  count: z.number().int().min(1).max(MAX_COUNT).optional(),
  resolution: z.enum(['standard', 'high']).optional(),
  duration_s: z.number().positive().max(MAX_DURATION_S).optional(),
}).strict();
const Quote = z.object({ quote_id: z.string(), credits: z.number().int(), expires_at: z.string() }).openapi('Quote');
export const Creation = z.object({
  id: z.string(),
  status: z.enum(['running', 'succeeded', 'failed', 'expired']),
  quoted: z.number().int(),
  held: z.number().int(),
  charged: z.number().int().nullable(),
  released: z.number().int(),
  variance: z.number().int().nullable(),
  lots: z.array(z.object({ lot: z.string(), credits: z.number().int() })),
  created_at: z.string(),
}).openapi('Creation');
const CreationParams = z.object({ id: z.string().min(1).max(64) });
const spendProblems = {
  ...problemResponses,
  429: { description: 'Too many spend requests for this workspace (see Retry-After)', content: { 'application/problem+json': { schema: Problem } } },
  402: { description: 'Not enough credits', content: { 'application/problem+json': { schema: Problem } } },
  404: { description: 'Unknown quote or creation', content: { 'application/problem+json': { schema: Problem } } },
  409: { description: 'Quote expired or creation already ended', content: { 'application/problem+json': { schema: Problem } } },
} as const;

export function spendRoutes(deps: ApiDeps) {
  const router = newRouter();

  router.openapi(
    createRoute({ method: 'post', path: '/v1/credits/estimate', tags: ['credits'], security: bearer,
      description: 'Prices a creation before it runs. The quote is valid for 15 minutes.',
      request: { body: { ...json(EstimateBody), required: true } },
      responses: { 201: { description: 'Quote', ...json(Quote) }, ...problemResponses } }),
    async (c) => {
      const workspace = requireWorkspace(c.get('principal'));
      const request = c.req.valid('json');
      const estimate = estimateCredits(request);
      if (!estimate.ok) throw invalid(estimate.field, estimate.reason);
      return c.json(await createQuote(deps.sql, workspace.id, request, estimate.credits), 201);
    },
  );

  router.openapi(
    createRoute({ method: 'post', path: '/v1/creations', tags: ['creations'], security: bearer,
      description: 'Starts a creation: holds the quoted credits from specific lots in burn order, or 402.',
      request: { body: { ...json(z.object({ quote_id: z.string().min(1).max(64) }).strict()), required: true } },
      responses: { 201: { description: 'Running', ...json(Creation) }, 200: { description: 'Already started with this quote', ...json(Creation) }, ...spendProblems } }),
    async (c) => {
      const workspace = requireWorkspace(c.get('principal'));
      const quoteId = c.req.valid('json').quote_id;
      const hold = () => holdForQuote(deps.sql, workspace.id, quoteId);
      // Only when refused: release this workspace's abandoned holds (over an hour old) and try once more.
      const { creation, replayed } = await hold().catch(async (error: unknown) => {
        const refused = error instanceof Refusal && error.code === 'insufficient_credits';
        if (refused && (await expireStaleHolds(deps.sql, { workspaceId: workspace.id })) > 0) return hold();
        throw error;
      });
      return c.json(creation, replayed ? 200 : 201);
    },
  );

  router.openapi(
    createRoute({ method: 'post', path: '/v1/creations/{id}/complete', tags: ['creations'], security: bearer,
      description: 'Deducts the exact amount (capped at the quote, the excess recorded as variance) and releases the rest.',
      request: { params: CreationParams, body: { ...json(z.object({ credits: z.number().int().min(0).max(1_000_000) }).strict()), required: true } },
      responses: { 200: { description: 'Succeeded', ...json(Creation) }, ...spendProblems } }),
    async (c) => {
      const workspace = requireWorkspace(c.get('principal'));
      const reported = c.req.valid('json').credits;
      return c.json(await endCreation(deps.sql, workspace.id, c.req.valid('param').id, { status: 'succeeded', reported }), 200);
    },
  );

  router.openapi(
    createRoute({ method: 'post', path: '/v1/creations/{id}/fail', tags: ['creations'], security: bearer,
      request: { params: CreationParams }, responses: { 200: { description: 'Failed; the hold is released', ...json(Creation) }, ...spendProblems } }),
    async (c) => {
      const workspace = requireWorkspace(c.get('principal'));
      return c.json(await endCreation(deps.sql, workspace.id, c.req.valid('param').id, { status: 'failed' }), 200);
    },
  );
  return router;
}
