import { createRoute, z } from '@hono/zod-openapi';
import { activateCustomModel, createCustomModel, deactivateCustomModel, pageCustomModels } from '../../ledger/custom-models-crud.js';
import { requireWorkspace } from '../auth.js';
import { newRouter, type ApiDeps } from '../router.js';
import { invalid } from '../errors.js';
import { bearer, Instant, json, pageFields, pageQuery, Problem, problemResponses, TextLine } from '../schemas.js';

const CustomModel = z.object({
  id: z.string(), name: z.string(), active: z.boolean(), last_used_at: Instant, created_at: Instant,
}).openapi('CustomModel');
const CustomModelList = z.object({
  ...pageFields(CustomModel),
  limit: z.number().int().openapi({ description: 'Active custom models the current plan allows (0 without a subscription); not the page size.' }),
}).openapi('CustomModelList');
/** No limit sent: the first 100, more than a workspace may hold (50), so every model as before pages. */
const CustomModelQuery = pageQuery(100);
const CreateBody = z.object({ name: TextLine.trim().min(1).max(100) }).strict().openapi('CustomModelCreateParams');
const ModelParams = z.object({ id: TextLine.min(1).max(64) });
const modelProblems = {
  ...problemResponses,
  404: { description: 'Unknown custom model', content: { 'application/problem+json': { schema: Problem } } },
  409: { description: 'The plan\'s limit of active custom models is reached (`custom_model_limit`)', content: { 'application/problem+json': { schema: Problem } } },
} as const;

export function customModelRoutes(deps: ApiDeps) {
  const router = newRouter();

  router.openapi(
    createRoute({ method: 'get', path: '/v1/custom-models', security: bearer,
      request: { query: CustomModelQuery },
      responses: { 200: { description: 'A page of custom models, newest first, and the plan\'s limit of active ones', ...json(CustomModelList) }, ...problemResponses } }),
    async (c) => {
      const workspace = requireWorkspace(c.get('principal'));
      const { limit, starting_after } = c.req.valid('query');
      const page = await pageCustomModels(deps.sql, workspace.id, { limit, after: starting_after });
      if (!page) throw invalid('starting_after', 'not a custom model id of this workspace');
      return c.json(page, 200);
    },
  );

  router.openapi(
    createRoute({ method: 'post', path: '/v1/custom-models', security: bearer,
      description: 'Creates an active custom model, within the plan\'s limit of active models.',
      request: { body: { ...json(CreateBody), required: true } },
      responses: { 201: { description: 'Created (active)', ...json(CustomModel) }, ...modelProblems } }),
    async (c) => {
      const workspace = requireWorkspace(c.get('principal'));
      return c.json(await createCustomModel(deps.sql, workspace.id, c.req.valid('json').name), 201);
    },
  );

  router.openapi(
    createRoute({ method: 'post', path: '/v1/custom-models/{id}/activate', security: bearer,
      request: { params: ModelParams },
      responses: { 200: { description: 'Active', ...json(CustomModel) }, ...modelProblems } }),
    async (c) => {
      const workspace = requireWorkspace(c.get('principal'));
      return c.json(await activateCustomModel(deps.sql, workspace.id, c.req.valid('param').id), 200);
    },
  );

  router.openapi(
    createRoute({ method: 'delete', path: '/v1/custom-models/{id}', security: bearer,
      description: 'Deactivates the model: it no longer counts against the limit and can be activated again.',
      request: { params: ModelParams },
      responses: { 200: { description: 'Inactive', ...json(CustomModel) }, ...modelProblems } }),
    async (c) => {
      const workspace = requireWorkspace(c.get('principal'));
      return c.json(await deactivateCustomModel(deps.sql, workspace.id, c.req.valid('param').id), 200);
    },
  );
  return router;
}
