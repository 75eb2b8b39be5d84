import { timingSafeEqual } from 'node:crypto';
import { createMiddleware } from 'hono/factory';
import type { Sql } from '../ledger/db.js';
import { OPERATOR_KEY_PREFIX, ROOT_OPERATOR_KEY_ID } from '../ledger/operator-keys.js';
import type { WorkspaceIdentity } from '../ledger/workspaces.js';
import type { ApiKeyCache } from './api-key-cache.js';
import { ApiError } from './errors.js';

/** Who made the request: an operator (with the id of its operator key: `opk_root` for ADMIN_API_KEY) or one workspace. */
/** A workspace's `apiKeyId` is the id of the key it used (`key_…`); absent when not signed in with an API key. */
export type Principal = { kind: 'operator'; keyId: string } | { kind: 'workspace'; workspace: WorkspaceIdentity; apiKeyId?: string };
export type AuthEnv = { Variables: { principal: Principal } };

/** Whether `given` is the secret `known` (its bytes, made once), compared in constant time; a length that differs is no. */
function sameSecret(given: string, known: Buffer): boolean {
  // Most requests carry a workspace key, whose length is not the operator key's: no copy of it is made then.
  return Buffer.byteLength(given) === known.length && timingSafeEqual(Buffer.from(given), known);
}

/**
 * Resolves the bearer key to an operator key (ADMIN_API_KEY, or a stored `sk_op_…` key that is not revoked)
 * or one workspace; an unknown or revoked key is a 401. Every /v1/admin/* route needs an operator key (a
 * workspace key there is a 403, before any handler runs).
 */
export function authenticate(sql: Sql, adminKey: string, keys: ApiKeyCache) {
  const adminSecret = Buffer.from(adminKey);
  return createMiddleware<AuthEnv>(async (c, next) => {
    const header = c.req.header('authorization') ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) throw new ApiError(401, 'unauthorized', 'missing bearer API key');
    const key = match[1]!;
    if (sameSecret(key, adminSecret)) {
      c.set('principal', { kind: 'operator', keyId: ROOT_OPERATOR_KEY_ID });
    } else if (key.startsWith(OPERATOR_KEY_PREFIX)) {
      const operator = await keys.lookupOperator(sql, key);
      if (!operator) throw new ApiError(401, 'unauthorized', 'unknown API key');
      c.set('principal', { kind: 'operator', keyId: operator.id });
    } else {
      const found = await keys.lookupKey(sql, key);
      if (!found) throw new ApiError(401, 'unauthorized', 'unknown API key');
      c.set('principal', { kind: 'workspace', workspace: found.workspace, apiKeyId: found.keyId });
    }
    if (c.req.path.startsWith('/v1/admin/')) requireOperator(c.get('principal'));
    await next();
  });
}

/** The operator's key id; a workspace key is a 403. */
export function requireOperator(principal: Principal): string {
  if (principal.kind !== 'operator') throw new ApiError(403, 'forbidden', 'this route needs an operator key');
  return principal.keyId;
}

export function requireWorkspace(principal: Principal): WorkspaceIdentity {
  if (principal.kind !== 'workspace') throw new ApiError(403, 'forbidden', 'this route needs a workspace key');
  return principal.workspace;
}
