import { createRoute, z } from '@hono/zod-openapi';
import { estimateCredits, MAX_COUNT, MAX_DURATION_S, MODEL_IDS } from '../../domain/costs.js';
import { Refusal } from '../../domain/refusals.js';
import { METADATA_LIMITS, metadataProblem } from '../../domain/workspace-metadata.js';
import { createQuote, endCreation, expireStaleHolds, extendHold, HOLD_MAX_MS, holdForQuote } from '../../ledger/spend.js';
import { type Principal, requireWorkspace } from '../auth.js';
import { invalid } from '../errors.js';
import { newRouter, type ApiDeps } from '../router.js';
import { FreeText, Instant, bearer, json, Problem, problemResponses, refuseUnstorableKeys, TextLine } from '../schemas.js';

const EstimateBody = z.object({
  model: z.enum(MODEL_IDS),
  count: z.number().int().min(1).max(MAX_COUNT).optional(),
  resolution: z.enum(['standard', 'high']).optional(),
  duration_s: z.number().positive().max(MAX_DURATION_S).optional(),
}).strict().openapi('QuoteCreateParams');
const Quote = z.object({ quote_id: z.string(), credits: z.number().int(), expires_at: Instant }).openapi('Quote');
const CreationMetadata = z.record(z.string(), FreeText).superRefine((metadata, ctx) => {
  refuseUnstorableKeys(metadata, ctx);
  const reason = metadataProblem(metadata);
  if (reason) ctx.addIssue({ code: 'custom', message: reason });
}).openapi({ description: `The studio's own string → string pairs, like Stripe's: at most ${METADATA_LIMITS.keys} keys, keys of 1 to ${METADATA_LIMITS.keyLength} characters, values of at most ${METADATA_LIMITS.valueLength}` });
const ExternalId = TextLine.min(1).max(200).openapi({ description: 'The studio\'s own reference for the creation (1–200 characters; not unique)' });
export const Creation = z.object({
  id: z.string(),
  status: z.enum(['running', 'succeeded', 'failed', 'expired']),
  quoted: z.number().int(),
  held: z.number().int(),
  charged: z.number().int().nullable(),
  released: z.number().int(),
  variance: z.number().int().nullable(),
  lots: z.array(z.object({ lot: z.string(), credits: z.number().int() })),
  created_at: Instant,
  expires_at: Instant.nullable().openapi({ description: 'While running: when the hold lapses and its credits are released (POST /v1/creations/{id}/extend pushes it); null once ended' }),
  model: z.string().nullable(),
  request: z.object({
    model: z.string(), count: z.number().int().optional(), resolution: z.enum(['standard', 'high']).optional(), duration_s: z.number().optional(),
  }).nullable().openapi({ description: 'What was estimated: the quote\'s request' }),
  api_key: z.object({ id: z.string(), name: z.string().nullable() }).nullable().openapi({ description: 'The API key that started it; null when none did' }),
  external_id: z.string().nullable(),
  metadata: z.record(z.string(), z.string()),
}).openapi('Creation');
const CreationParams = z.object({ id: TextLine.min(1).max(64) });
const spendProblems = {
  ...problemResponses,
  429: { description: 'Too many spend requests for this workspace (see Retry-After)', content: { 'application/problem+json': { schema: Problem } } },
  402: { description: 'Not enough credits', content: { 'application/problem+json': { schema: Problem } } },
  404: { description: 'Unknown quote or creation', content: { 'application/problem+json': { schema: Problem } } },
  409: { description: 'Quote expired or creation already ended', content: { 'application/problem+json': { schema: Problem } } },
} as const;

/** The API key a request was made with (`key_…`), or undefined (a browser session). */
function apiKeyOf(principal: Principal): string | undefined {
  return principal.kind === 'workspace' ? principal.apiKeyId : undefined;
}

export function spendRoutes(deps: ApiDeps) {
  const router = newRouter();

  router.openapi(
    createRoute({ method: 'post', path: '/v1/credits/estimate', security: bearer,
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
    createRoute({ method: 'post', path: '/v1/creations', security: bearer,
      description: 'Starts a creation: holds the quoted credits from specific lots in burn order, or 402 (`insufficient_credits`, or '
        + '`spending_limit_reached` when the API key\'s daily_credit_limit would be exceeded: with `daily_credit_limit`, `used`, `resets_at`). '
        + 'Records the quote\'s request, the API key, and the studio\'s `external_id` and `metadata`. The same quote again returns the first creation (200).',
      request: { body: { ...json(z.object({ quote_id: TextLine.min(1).max(64), external_id: ExternalId.optional(), metadata: CreationMetadata.optional() }).strict().openapi('CreationCreateParams')), required: true } },
      responses: { 201: { description: 'Running', ...json(Creation) }, 200: { description: 'Already started with this quote', ...json(Creation) }, ...spendProblems } }),
    async (c) => {
      const workspace = requireWorkspace(c.get('principal'));
      const body = c.req.valid('json');
      const options = { apiKeyId: apiKeyOf(c.get('principal')), externalId: body.external_id, metadata: body.metadata };
      const hold = () => holdForQuote(deps.sql, workspace.id, body.quote_id, options);
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
    createRoute({ method: 'post', path: '/v1/creations/{id}/complete', security: bearer,
      description: 'Deducts the exact amount (capped at the quote, the excess recorded as variance) and releases the rest. '
        + 'The same request again returns the same result; another amount is 409 `creation_already_ended` naming the first.',
      request: { params: CreationParams, body: { ...json(z.object({ credits: z.number().int().min(0).max(1_000_000) }).strict().openapi('CreationCompleteParams')), required: true } },
      responses: { 200: { description: 'Succeeded', ...json(Creation) }, ...spendProblems } }),
    async (c) => {
      const workspace = requireWorkspace(c.get('principal'));
      const reported = c.req.valid('json').credits;
      return c.json(await endCreation(deps.sql, workspace.id, c.req.valid('param').id, { status: 'succeeded', reported }), 200);
    },
  );

  router.openapi(
    createRoute({ method: 'post', path: '/v1/creations/{id}/fail', security: bearer,
      request: { params: CreationParams }, responses: { 200: { description: 'Failed; the hold is released', ...json(Creation) }, ...spendProblems } }),
    async (c) => {
      const workspace = requireWorkspace(c.get('principal'));
      return c.json(await endCreation(deps.sql, workspace.id, c.req.valid('param').id, { status: 'failed' }), 200);
    },
  );

  router.openapi(
    createRoute({ method: 'post', path: '/v1/creations/{id}/extend', security: bearer,
      description: `Keeps a long job's hold: its expiry becomes now (the workspace's time) + \`extend_by_s\`, never earlier than it was. A hold lives at most ${HOLD_MAX_MS / 3_600_000} hours from its creation: beyond, 409 \`hold_extension_limit\` with \`latest_expires_at\` (nothing changes). `
        + 'An ended creation or a lapsed hold is 409 `creation_not_running` (a lapsed hold is never revived). It sets an absolute time, so a retry is harmless.',
      request: { params: CreationParams, body: { ...json(z.object({ extend_by_s: z.number().int().min(1).max(HOLD_MAX_MS / 1000) }).strict().openapi('CreationExtendParams')), required: true } },
      responses: { 200: { description: 'Running, with its new expires_at', ...json(Creation) }, ...spendProblems } }),
    async (c) => {
      const workspace = requireWorkspace(c.get('principal'));
      const extendByMs = c.req.valid('json').extend_by_s * 1000;
      return c.json(await extendHold(deps.sql, workspace.id, c.req.valid('param').id, extendByMs), 200);
    },
  );
  return router;
}
