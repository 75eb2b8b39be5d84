import type { MiddlewareHandler } from 'hono';
import type { AuthEnv } from './auth.js';
import { step } from './middleware-chain.js';

/** The layers in front of every /v1 route, each an ordinary Hono middleware. */
export interface V1Layers {
  /** Bearer API key → principal (401/403). */
  authenticate: MiddlewareHandler<AuthEnv>;
  /** The API key's request budget (429). */
  keyLimit: MiddlewareHandler<AuthEnv>;
  /** The spend routes' per-workspace budget (429), on `spends` paths only. */
  spendLimit: MiddlewareHandler<AuthEnv>;
  /** Idempotency-Key on POST. */
  idempotent: MiddlewareHandler<AuthEnv>;
  /** The operator audit log of writes. */
  audit: MiddlewareHandler<AuthEnv>;
}

/** Paths that are public under /v1 (no key). */
const PUBLIC_PATHS = new Set(['/v1/plans']);

/** The spend path's routes: a credit estimate and everything under /v1/creations (one token per request). */
export function isSpendPath(path: string): boolean {
  return path === '/v1/credits/estimate' || path === '/v1/creations' || path.startsWith('/v1/creations/');
}

/**
 * Everything in front of a /v1 route as one middleware (issue 15, lean requests), in this order: authentication,
 * the API key's budget, the spend budget (spend paths), Idempotency-Key, the audit log, the route. Each layer
 * mounted with its own app.use cost a router entry, a compose step and its promises on every request; chained
 * here they cost a call each. The budgets come before Idempotency-Key: a 429 is not an answer to remember (the
 * retry after Retry-After must run), and a refused request costs no database round trip. The audit log is inside
 * Idempotency-Key: a replayed answer is no new action. A read (GET, HEAD, OPTIONS) goes from the budgets straight
 * to its route: Idempotency-Key applies to POST and reads are not audited (both layers would pass it through).
 */
export function v1Gate(layers: V1Layers): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    const path = c.req.path;
    if (PUBLIC_PATHS.has(path)) return next();
    const method = c.req.method;
    const read = method === 'GET' || method === 'HEAD' || method === 'OPTIONS';
    const route = read ? next : step(c, layers.idempotent, step(c, layers.audit, next));
    const budgets = step(c, layers.keyLimit, isSpendPath(path) ? step(c, layers.spendLimit, route) : route);
    await step(c, layers.authenticate, budgets)();
  };
}

