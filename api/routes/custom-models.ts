import { createRoute, z } from '@hono/zod-openapi';
import { activateCustomModel, createCustomModel, deactivateCustomModel, listCustomModels } from '../../ledger/custom-models-crud.js';
import { requireWorkspace } from '../auth.js';
import { newRouter, type ApiDeps } from '../router.js';
import { bearer, json, Problem, problemResponses } from '../schemas.js';

const CustomModel = z.object({
  id: z.string(), name: z.string(), active: z.boolean(), last_used_at: z.string(), created_at: z.string(),
}).openapi('CustomModel');
const CustomModelList = z.object({
  data: z.array(CustomModel),
  limit: z.number().int().openapi({ description: 'Active custom models the current plan allows (0 without a subscription).' }),
}).openapi('CustomModelList');
const CreateBody = z.object({ name: z.string().trim().min(1).max(100) }).strict();
const ModelParams = z.object({ id: z.string().min(1).max(64) });
const modelProblems = {
  ...problemResponses,
  404: { description: 'Unknown custom model', content: { 'application/problem+json': { schema: Problem } } },
  409: { description: 'The plan\'s limit of active custom models is reached (`custom_model_limit`)', content: { 'application/problem+json': { schema: Problem } } },
} as const;

export function customModelRoutes(deps: ApiDeps) {
  const router = newRouter();

  router.openapi(
    createRoute({ method: 'get', path: '/v1/custom-models', tags: ['custom models'], security: bearer,
      responses: { 200: { description: 'Custom models, newest first, and the plan\'s limit', ...json(CustomModelList) }, ...problemResponses } }),
    async (c) => {
      const workspace = requireWorkspace(c.get('principal'));
      return c.json(await listCustomModels(deps.sql, workspace.id), 200);
    },
  );

  router.openapi(
    createRoute({ method: 'post', path: '/v1/custom-models', tags: ['custom models'], security: bearer,
      description: 'Creates an active custom model, within the plan\'s limit of active models.',
      request: { body: { ...json(CreateBody), required: true } },
      responses: { 201: { description: 'Created (active)', ...json(CustomModel) }, ...modelProblems } }),
    async (c) => {
      const workspace = requireWorkspace(c.get('principal'));
      return c.json(await createCustomModel(deps.sql, workspace.id, c.req.valid('json').name), 201);
    },
  );

  router.openapi(
    createRoute({ method: 'post', path: '/v1/custom-models/{id}/activate', tags: ['custom models'], security: bearer,
      request: { params: ModelParams },
      responses: { 200: { description: 'Active', ...json(CustomModel) }, ...modelProblems } }),
    async (c) => {
      const workspace = requireWorkspace(c.get('principal'));
      return c.json(await activateCustomModel(deps.sql, workspace.id, c.req.valid('param').id), 200);
    },
  );

  router.openapi(
    createRoute({ method: 'delete', path: '/v1/custom-models/{id}', tags: ['custom models'], security: bearer,
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
