import { createRoute, z } from '@hono/zod-openapi';
import { Refusal } from '../../domain/refusals.js';
import type { Sql } from '../../ledger/db.js';
import { apiKeyDailyLimit, createApiKey, MAX_ACTIVE_API_KEYS, pageApiKeys, revokeApiKey, updateApiKey } from '../../ledger/workspaces.js';
import { type Principal, requireWorkspace } from '../auth.js';
import { invalid, notFound } from '../errors.js';
import { newRouter, type ApiDeps } from '../router.js';
import { bearer, Instant, json, listOf, pageQuery, Problem, problemResponses, TextLine } from '../schemas.js';

const KeyName = TextLine.min(1).max(100).openapi({ description: 'Who or what uses the key, e.g. a producer or a tool (1–100 characters)' });
const DailyCreditLimit = z.number().int().min(1).max(1_000_000_000).openapi({
  description: 'Credits the key\'s holds may reserve per UTC day of the workspace\'s time (a hold counts on the day it was made; what it releases goes back to that day). '
    + 'Beyond it a hold is refused 402 `spending_limit_reached`. A key with a limit cannot create, change or revoke keys (403 `key_restricted`).',
});
const ApiKey = z.object({
  id: z.string(), hint: z.string(), name: z.string().nullable(), daily_credit_limit: z.number().int().nullable(),
  used: z.number().int().openapi({ description: 'Credits used today (the workspace\'s UTC day): quoted by running holds, charged by ended ones' }),
  created_at: Instant, revoked_at: Instant.nullable(),
}).openapi('ApiKey');
const ApiKeyList = listOf('ApiKeyList', ApiKey);
/** No limit sent: the first 100, which was every key a workspace could list before pages (MAX_ACTIVE_API_KEYS unrevoked). */
const ApiKeyQuery = pageQuery(100);
const NewApiKey = z.object({ id: z.string(), api_key: z.string(), name: z.string().nullable(), daily_credit_limit: z.number().int().nullable() }).openapi('NewApiKey');
const KeyParams = z.object({ id: TextLine.min(1).max(64) });
const forbidden = { description: 'A key with a daily_credit_limit cannot manage keys (key_restricted)', content: { 'application/problem+json': { schema: Problem } } };
const missing = { description: 'No such key in this workspace', content: { 'application/problem+json': { schema: Problem } } };

/**
 * Only a key without a daily budget manages keys (SPEC §11), so a producer's limited key cannot lift its own
 * limit or mint an unlimited one. Read from the database, not the key cache: a limit set a moment ago counts.
 */
async function requireKeyManager(sql: Sql, principal: Principal): Promise<string> {
  const workspace = requireWorkspace(principal);
  const keyId = principal.kind === 'workspace' ? principal.apiKeyId : undefined;
  if (keyId !== undefined && (await apiKeyDailyLimit(sql, keyId)) != null) {
    throw new Refusal('key_restricted', 'a key with a daily_credit_limit cannot create, change or revoke API keys', { api_key: keyId });
  }
  return workspace.id;
}

/**
 * A workspace's API keys: only hashes are stored, a new key is shown once, keys have names and optional
 * daily credit budgets (SPEC §11), any key can be revoked; at most MAX_ACTIVE_API_KEYS unrevoked keys.
 */
export function apiKeyRoutes(deps: ApiDeps) {
  const router = newRouter();
  router.openapi(
    createRoute({ method: 'get', path: '/v1/api-keys', security: bearer,
      request: { query: ApiKeyQuery },
      responses: { 200: { description: 'A page of keys, revoked ones included, newest first (never the secret), with today\'s use', ...json(ApiKeyList) }, ...problemResponses } }),
    async (c) => {
      const { limit, starting_after } = c.req.valid('query');
      const page = await pageApiKeys(deps.sql, requireWorkspace(c.get('principal')).id, { limit, after: starting_after });
      if (!page) throw invalid('starting_after', 'not an API key id of this workspace');
      return c.json(page, 200);
    },
  );
  router.openapi(
    createRoute({ method: 'post', path: '/v1/api-keys', security: bearer,
      description: `A new key, optionally named and with a daily credit budget. At most ${MAX_ACTIVE_API_KEYS} unrevoked keys per workspace (409 \`api_key_limit_reached\`).`,
      request: { body: { ...json(z.object({ name: KeyName.optional(), daily_credit_limit: DailyCreditLimit.optional() }).strict().openapi('ApiKeyCreateParams')), required: false } },
      responses: {
        ...problemResponses,
        201: { description: 'A new key, shown only this once', ...json(NewApiKey) },
        403: forbidden,
        409: { description: 'Too many active keys (api_key_limit_reached)', content: { 'application/problem+json': { schema: Problem } } },
      } }),
    async (c) => {
      const workspaceId = await requireKeyManager(deps.sql, c.get('principal'));
      const body = c.req.valid('json') ?? {};
      const settings = { name: body.name ?? null, dailyCreditLimit: body.daily_credit_limit ?? null };
      const created = await createApiKey(deps.sql, workspaceId, settings);
      return c.json({ id: created.id, api_key: created.apiKey, name: settings.name, daily_credit_limit: settings.dailyCreditLimit }, 201);
    },
  );
  router.openapi(
    createRoute({ method: 'patch', path: '/v1/api-keys/{id}', security: bearer,
      description: 'Changes a key\'s name and daily_credit_limit: an absent field stays, null removes it. A new limit applies to the next hold.',
      request: { params: KeyParams, body: { ...json(z.object({ name: KeyName.nullable().optional(), daily_credit_limit: DailyCreditLimit.nullable().optional() }).strict().openapi('ApiKeyUpdateParams')), required: true } },
      responses: { ...problemResponses, 200: { description: 'The key', ...json(ApiKey) }, 403: forbidden, 404: missing } }),
    async (c) => {
      const workspaceId = await requireKeyManager(deps.sql, c.get('principal'));
      const body = c.req.valid('json');
      const key = await updateApiKey(deps.sql, workspaceId, c.req.valid('param').id, { name: body.name, dailyCreditLimit: body.daily_credit_limit });
      if (!key) throw notFound('API key');
      return c.json(key, 200);
    },
  );
  router.openapi(
    createRoute({ method: 'delete', path: '/v1/api-keys/{id}', security: bearer,
      request: { params: KeyParams },
      responses: { ...problemResponses, 200: { description: 'Revoked', ...json(ApiKey) }, 403: forbidden, 404: missing } }),
    async (c) => {
      const workspaceId = await requireKeyManager(deps.sql, c.get('principal'));
      const key = await revokeApiKey(deps.sql, workspaceId, c.req.valid('param').id);
      deps.apiKeys.forgetAll();
      if (!key) throw notFound('API key');
      return c.json(key, 200);
    },
  );
  return router;
}
