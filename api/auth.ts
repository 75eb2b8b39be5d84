import { timingSafeEqual } from 'node:crypto';
import { createMiddleware } from 'hono/factory';
import type { Sql } from '../ledger/db.js';
import type { WorkspaceIdentity } from '../ledger/workspaces.js';
import type { ApiKeyCache } from './api-key-cache.js';
import { ApiError } from './errors.js';

export type Principal = { kind: 'operator' } | { kind: 'workspace'; workspace: WorkspaceIdentity };
export type AuthEnv = { Variables: { principal: Principal } };

function sameSecret(a: string, b: string): boolean {
  const [x, y] = [Buffer.from(a), Buffer.from(b)];
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Resolves the bearer key to the operator or one workspace; an unknown key is a 401. */
export function authenticate(sql: Sql, adminKey: string, keys: ApiKeyCache) {
  return createMiddleware<AuthEnv>(async (c, next) => {
    const header = c.req.header('authorization') ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) throw new ApiError(401, 'unauthorized', 'missing bearer API key');
    const key = match[1]!;
    if (sameSecret(key, adminKey)) {
      c.set('principal', { kind: 'operator' });
    } else {
      const workspace = await keys.lookup(sql, key);
      if (!workspace) throw new ApiError(401, 'unauthorized', 'unknown API key');
      c.set('principal', { kind: 'workspace', workspace });
    }
    await next();
  });
}

export function requireOperator(principal: Principal): void {
  if (principal.kind !== 'operator') throw new ApiError(403, 'forbidden', 'this route needs the operator key');
}

export function requireWorkspace(principal: Principal): WorkspaceIdentity {
  if (principal.kind !== 'workspace') throw new ApiError(403, 'forbidden', 'this route needs a workspace key');
  return principal.workspace;
}
