import { createMiddleware } from 'hono/factory';
import type { AuthEnv } from './auth.js';
import { ApiError } from './errors.js';

/**
 * Per-key token bucket for the spend path (estimate, creations): `perSecond` sustained, `burst` at once.
 * In memory, per API process: it protects the ledger from one runaway client, it is not a billing control.
 */
export function rateLimit(options: { perSecond: number; burst: number }) {
  const buckets = new Map<string, { tokens: number; at: number }>();
  return createMiddleware<AuthEnv>(async (c, next) => {
    const principal = c.get('principal');
    const who = principal.kind === 'operator' ? 'operator' : principal.workspace.id;
    const now = Date.now();
    const bucket = buckets.get(who) ?? { tokens: options.burst, at: now };
    bucket.tokens = Math.min(options.burst, bucket.tokens + ((now - bucket.at) / 1000) * options.perSecond);
    bucket.at = now;
    if (bucket.tokens < 1) {
      buckets.set(who, bucket);
      c.header('retry-after', String(Math.ceil((1 - bucket.tokens) / options.perSecond)));
      throw new ApiError(429, 'rate_limited', `at most ${options.perSecond} spend requests a second per workspace`);
    }
    bucket.tokens -= 1;
    buckets.set(who, bucket);
    await next();
  });
}
