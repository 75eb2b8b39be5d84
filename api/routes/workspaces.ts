import { createRoute, z } from '@hono/zod-openapi';
import { METADATA_LIMITS, metadataProblem } from '../../domain/workspace-metadata.js';
import { getTestClock } from '../../ledger/test-clocks.js';
import {
  createWorkspace, updateWorkspace, workspaceByExternalId, workspaceDetails, type WorkspaceDetails,
} from '../../ledger/workspaces.js';
import { SANDBOX_PAYMENT_METHODS } from '../../payments/sandbox.js';
import { requireOperator, requireWorkspace } from '../auth.js';
import { invalid, notFound } from '../errors.js';
import { newRouter, type ApiDeps } from '../router.js';
import { savePaymentMethod } from '../../billing/payment-methods.js';
import { pageAfter } from '../../ledger/history.js';
import { FreeText, Instant, bearer, json, listOf, pageQuery, Problem, problemResponses, refuseUnstorableKeys, TextLine } from '../schemas.js';

// Printable text: no control characters (an external id is shown and searched, never parsed).
// Control characters are exactly what this pattern refuses (a plain class: the u-flag form is not valid in OpenAPI).
// eslint-disable-next-line no-control-regex
const ExternalId = TextLine.min(1).max(255).regex(/^[^\u0000-\u001f\u007f]+$/, 'no control characters')
  .openapi({ description: 'The studio\'s own id for this customer; unique among workspaces', example: 'user_8412' });
const withinLimits = (metadata: Record<string, string | null>, ctx: z.RefinementCtx) => {
  refuseUnstorableKeys(metadata, ctx);
  const reason = metadataProblem(metadata);
  if (reason) ctx.addIssue({ code: 'custom', message: reason });
};
const metadataDescription = `String → string, like Stripe's: at most ${METADATA_LIMITS.keys} keys, keys of 1 to ${METADATA_LIMITS.keyLength} characters, values of at most ${METADATA_LIMITS.valueLength}`;
const Metadata = z.record(z.string(), FreeText).superRefine(withinLimits).openapi({ description: metadataDescription, example: { plan_source: 'web' } });
const MetadataPatch = z.record(z.string(), FreeText.nullable()).superRefine(withinLimits)
  .openapi({ description: `${metadataDescription}. Merged into the workspace's: a string sets a key, null or "" removes it` });

const NewWorkspace = z.object({
  name: TextLine.trim().min(1).max(200),
  test_clock_id: TextLine.min(1).max(64).optional(),
  external_id: ExternalId.optional(),
  metadata: Metadata.optional(),
}).strict().openapi('WorkspaceCreateParams');
const WorkspacePatch = z.object({
  external_id: ExternalId.nullable().optional().openapi({ description: 'null clears it' }),
  metadata: MetadataPatch.optional(),
}).strict().openapi('WorkspaceUpdateParams');
const Workspace = z.object({
  id: z.string(), name: z.string(), test_clock_id: z.string().nullable(), external_id: z.string().nullable(),
  metadata: z.record(z.string(), z.string()), created_at: Instant,
}).openapi('Workspace');
const CreatedWorkspace = Workspace.extend({ api_key: z.string() }).openapi('CreatedWorkspace');
const PaymentMethodBody = z.object({ payment_method: z.enum(SANDBOX_PAYMENT_METHODS) }).strict().openapi('PaymentMethodAttachParams');
const PaymentMethod = z.object({ payment_method: z.enum(SANDBOX_PAYMENT_METHODS) }).openapi('PaymentMethod');
const IdParam = z.object({ id: TextLine.min(1).max(64) });
const noWorkspace = { description: 'No such workspace (or not this key\'s)', content: { 'application/problem+json': { schema: Problem } } };
const externalIdTaken = { description: '`external_id_taken`: another workspace has this external_id; nothing changed', content: { 'application/problem+json': { schema: Problem } } };

function presentWorkspace(row: WorkspaceDetails): z.infer<typeof Workspace> {
  return {
    id: row.id, name: row.name, test_clock_id: row.test_clock_id, external_id: row.external_id,
    metadata: row.metadata, created_at: row.created_at.toISOString(),
  };
}

/**
 * Workspaces (SPEC §8, §10): the operator creates them (with the studio's external_id and metadata),
 * updates external_id and metadata, and finds one by id or external_id; a workspace key reads its own.
 */
export function workspaceRoutes(deps: ApiDeps) {
  const router = newRouter();

  router.openapi(
    createRoute({ method: 'post', path: '/v1/workspaces', security: bearer,
      description: 'Operator. Creates a workspace and its first API key.',
      request: { body: { content: { 'application/json': { schema: NewWorkspace } }, required: true } },
      responses: { 201: { description: 'Created; the API key is shown only once', ...json(CreatedWorkspace) }, 409: externalIdTaken, ...problemResponses } }),
    async (c) => {
      requireOperator(c.get('principal'));
      const body = c.req.valid('json');
      if (body.test_clock_id && !(await getTestClock(deps.sql, body.test_clock_id))) {
        throw invalid('test_clock_id', 'no test clock has this id');
      }
      const created = await createWorkspace(deps.sql, {
        name: body.name, testClockId: body.test_clock_id ?? null, externalId: body.external_id ?? null, metadata: body.metadata ?? {},
      });
      const workspace = (await workspaceDetails(deps.sql, created.id))!;
      return c.json({ ...presentWorkspace(workspace), api_key: created.apiKey }, 201);
    },
  );

  router.openapi(
    createRoute({ method: 'get', path: '/v1/workspaces', security: bearer,
      description: 'Operator. The workspace with this external_id, as a list of zero or one.',
      request: { query: pageQuery().extend({ external_id: ExternalId }) },
      responses: { 200: { description: 'Matching workspaces', ...json(listOf('WorkspaceList', Workspace)) }, ...problemResponses } }),
    async (c) => {
      requireOperator(c.get('principal'));
      const { external_id, limit, starting_after } = c.req.valid('query');
      const found = await workspaceByExternalId(deps.sql, external_id);
      // external_id is unique: at most one item, paged like every list so clients page every list alike.
      const page = pageAfter(found ? [presentWorkspace(found)] : [], { limit, after: starting_after });
      if (!page) throw invalid('starting_after', 'not the id of a workspace in this list');
      return c.json(page, 200);
    },
  );

  router.openapi(
    createRoute({ method: 'get', path: '/v1/workspaces/{id}', security: bearer,
      description: 'The operator reads any workspace; a workspace key reads only its own (another is 404).',
      request: { params: IdParam },
      responses: { 200: { description: 'The workspace', ...json(Workspace) }, 404: noWorkspace, ...problemResponses } }),
    async (c) => {
      const principal = c.get('principal');
      const { id } = c.req.valid('param');
      if (principal.kind === 'workspace' && principal.workspace.id !== id) throw notFound('workspace');
      const workspace = await workspaceDetails(deps.sql, id);
      if (!workspace) throw notFound('workspace');
      return c.json(presentWorkspace(workspace), 200);
    },
  );

  router.openapi(
    createRoute({ method: 'patch', path: '/v1/workspaces/{id}', security: bearer,
      description: 'Operator. Sets external_id and merges metadata; all or nothing. The name does not change.',
      request: { params: IdParam, body: { content: { 'application/json': { schema: WorkspacePatch } }, required: true } },
      responses: { 200: { description: 'The workspace', ...json(Workspace) }, 404: noWorkspace, 409: externalIdTaken, ...problemResponses } }),
    async (c) => {
      requireOperator(c.get('principal'));
      const body = c.req.valid('json');
      const result = await updateWorkspace(deps.sql, c.req.valid('param').id, { externalId: body.external_id, metadata: body.metadata });
      if (result.status === 'not_found') throw notFound('workspace');
      if (result.status === 'invalid_metadata') throw invalid('metadata', result.reason);
      return c.json(presentWorkspace(result.workspace), 200);
    },
  );

  router.openapi(
    createRoute({ method: 'put', path: '/v1/payment-method', security: bearer,
      description: 'Sandbox mode: one of Stripe\'s test payment method ids. (Stripe mode collects cards through Checkout.)',
      request: { body: { content: { 'application/json': { schema: PaymentMethodBody } }, required: true } },
      responses: { 200: { description: 'Saved', content: { 'application/json': { schema: PaymentMethod } } }, ...problemResponses } }),
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
