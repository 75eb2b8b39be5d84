import { createRoute, z } from '@hono/zod-openapi';
import { Refusal } from '../../domain/refusals.js';
import { createOperatorKey, listOperatorKeys, revokeOperatorKey, ROOT_OPERATOR_KEY_ID } from '../../ledger/operator-keys.js';
import { pageAfter } from '../../ledger/history.js';
import { invalid, notFound } from '../errors.js';
import { newRouter, type ApiDeps } from '../router.js';
import { Instant, json, listOf, operatorBearer, pageQuery, Problem, problemResponses, TextLine } from '../schemas.js';

const OperatorKey = z.object({
  id: z.string(), name: z.string(), hint: z.string(),
  created_at: Instant.nullable().openapi({ description: 'Null for `opk_root`, ADMIN_API_KEY from the environment' }),
  revoked_at: Instant.nullable(),
}).openapi('OperatorKey');
const NewOperatorKey = OperatorKey.extend({ api_key: z.string().openapi({ description: 'Shown only this once' }) }).openapi('NewOperatorKey');
const OperatorKeyList = listOf('OperatorKeyList', OperatorKey);
const KeyParams = z.object({ id: TextLine.min(1).max(64) });

/**
 * SPEC §10 operator keys: named, listable, revocable like workspace keys (only hashes are kept, a key is
 * shown once). ADMIN_API_KEY is the first one, `opk_root`: listed, never revocable here (409
 * root_key_not_revocable: change the environment instead). A revoked key is refused (401) at once by this
 * API process, within ApiKeyCache.TTL_MS by others.
 */
export function adminOperatorKeyRoutes(deps: ApiDeps) {
  const router = newRouter();
  const root = () => ({ id: ROOT_OPERATOR_KEY_ID, name: 'ADMIN_API_KEY', hint: deps.adminApiKey.slice(-4), created_at: null, revoked_at: null });

  router.openapi(
    createRoute({ method: 'get', path: '/v1/admin/operator-keys', security: operatorBearer,
      request: { query: pageQuery() },
      responses: { 200: { description: 'opk_root first, then stored keys, newest first (never the secret)', ...json(OperatorKeyList) }, ...problemResponses } }),
    async (c) => {
      const { limit, starting_after } = c.req.valid('query');
      // Operator keys are few (made by hand): paged in memory, over the same order as ever.
      const page = pageAfter([root(), ...await listOperatorKeys(deps.sql)], { limit, after: starting_after });
      if (!page) throw invalid('starting_after', 'not an operator key id');
      return c.json(page, 200);
    },
  );
  router.openapi(
    createRoute({ method: 'post', path: '/v1/admin/operator-keys', security: operatorBearer,
      request: { body: { ...json(z.object({ name: TextLine.trim().min(1).max(200) }).strict().openapi('OperatorKeyCreateParams')), required: true } },
      responses: { 201: { description: 'A new operator key, shown only this once', ...json(NewOperatorKey) }, ...problemResponses } }),
    async (c) => c.json(await createOperatorKey(deps.sql, c.req.valid('json').name), 201),
  );
  router.openapi(
    createRoute({ method: 'delete', path: '/v1/admin/operator-keys/{id}', security: operatorBearer,
      request: { params: KeyParams },
      responses: {
        200: { description: 'Revoked', ...json(OperatorKey) },
        404: { description: 'No such operator key', content: { 'application/problem+json': { schema: Problem } } },
        409: { description: 'root_key_not_revocable: opk_root is ADMIN_API_KEY from the environment', content: { 'application/problem+json': { schema: Problem } } },
        ...problemResponses,
      } }),
    async (c) => {
      const { id } = c.req.valid('param');
      if (id === ROOT_OPERATOR_KEY_ID) {
        throw new Refusal('root_key_not_revocable', 'opk_root is ADMIN_API_KEY from the environment: replace it there, it cannot be revoked here');
      }
      const key = await revokeOperatorKey(deps.sql, id);
      deps.apiKeys.forgetAll();
      if (!key) throw notFound('operator key');
      return c.json(key, 200);
    },
  );
  return router;
}
