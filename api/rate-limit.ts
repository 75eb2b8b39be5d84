import { createMiddleware } from 'hono/factory';
import type { AuthEnv, Principal } from './auth.js';
import { ApiError } from './errors.js';

export interface RateLimitOptions {
  /** Tokens added per second (the sustained rate). */
  perSecond: number;
  /** Bucket size: requests allowed at once. */
  burst: number;
  /** Whose bucket a request takes from (default: the workspace, or `operator`). */
  keyOf?: (principal: Principal) => string;
  /** What is limited, for the 429's message (default `spend requests … per workspace`). */
  what?: string;
}

const byWorkspace = (principal: Principal) => (principal.kind === 'operator' ? 'operator' : principal.workspace.id);

/**
 * The bucket of an API key (issue 16, limits): a workspace key's id (`key_…`), else its workspace (keys
 * resolved without an id), an operator key's id.
 */
export const byApiKey = (principal: Principal): string =>
  principal.kind === 'operator' ? `op:${principal.keyId}` : (principal.apiKeyId ?? `ws:${principal.workspace.id}`);

/**
 * Per-principal token bucket, mounted after authentication: `perSecond` sustained, `burst` at once; beyond
 * it a 429 problem (`rate_limited`) with Retry-After in whole seconds. In memory, per API process, one Map
 * lookup and a little arithmetic per request: it protects the ledger and the API from one runaway
 * client, it is not a billing control. Used twice: every /v1 route per API key, and the spend path per
 * workspace (default).
 */
export function rateLimit(options: RateLimitOptions) {
  const buckets = new Map<string, { tokens: number; at: number }>();
  const keyOf = options.keyOf ?? byWorkspace;
  const what = options.what ?? `spend requests a second per workspace`;
  return createMiddleware<AuthEnv>(async (c, next) => {
    const who = keyOf(c.get('principal'));
    const now = Date.now();
    let bucket = buckets.get(who);
    if (!bucket) {
      bucket = { tokens: options.burst, at: now };
      buckets.set(who, bucket);
    }
    bucket.tokens = Math.min(options.burst, bucket.tokens + ((now - bucket.at) / 1000) * options.perSecond);
    bucket.at = now;
    if (bucket.tokens < 1) {
      c.header('retry-after', String(Math.max(1, Math.ceil((1 - bucket.tokens) / options.perSecond))));
      throw new ApiError(429, 'rate_limited', `at most ${options.perSecond} ${what}`);
    }
    bucket.tokens -= 1;
    await next();
  });
}
