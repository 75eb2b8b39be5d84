import { createRoute, z } from '@hono/zod-openapi';
import { insertApiKey, listApiKeys, revokeApiKey } from '../../ledger/workspaces.js';
import { requireWorkspace } from '../auth.js';
import { notFound } from '../errors.js';
import { newRouter, type ApiDeps } from '../router.js';
import { bearer, json, Problem, problemResponses } from '../schemas.js';

const ApiKey = z.object({ id: z.string(), hint: z.string(), created_at: z.string(), revoked_at: z.string().nullable() }).openapi('ApiKey');
const NewApiKey = z.object({ id: z.string(), api_key: z.string() }).openapi('NewApiKey');

/** A workspace's API keys: only hashes are stored, a new key is shown once, any key can be revoked. */
export function apiKeyRoutes(deps: ApiDeps) {
  const router = newRouter();
  router.openapi(
    createRoute({ method: 'get', path: '/v1/api-keys', tags: ['workspaces'], security: bearer,
      responses: { 200: { description: 'Keys, newest first (never the secret)', ...json(z.object({ data: z.array(ApiKey) })) }, ...problemResponses } }),
    async (c) => c.json({ data: await listApiKeys(deps.sql, requireWorkspace(c.get('principal')).id) }, 200),
  );
  router.openapi(
    createRoute({ method: 'post', path: '/v1/api-keys', tags: ['workspaces'], security: bearer,
      responses: { 201: { description: 'A new key, shown only this once', ...json(NewApiKey) }, ...problemResponses } }),
    async (c) => {
      const created = await insertApiKey(deps.sql, requireWorkspace(c.get('principal')).id);
      return c.json({ id: created.id, api_key: created.apiKey }, 201);
    },
  );
  router.openapi(
    createRoute({ method: 'delete', path: '/v1/api-keys/{id}', tags: ['workspaces'], security: bearer,
      request: { params: z.object({ id: z.string().min(1).max(64) }) },
      responses: {
        200: { description: 'Revoked', ...json(ApiKey) },
        404: { description: 'No such key in this workspace', content: { 'application/problem+json': { schema: Problem } } },
        ...problemResponses,
      } }),
    async (c) => {
      const key = await revokeApiKey(deps.sql, requireWorkspace(c.get('principal')).id, c.req.valid('param').id);
      deps.apiKeys.forgetAll();
      if (!key) throw notFound('API key');
      return c.json(key, 200);
    },
  );
  return router;
}
