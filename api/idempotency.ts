import { createHash } from 'node:crypto';
import { createMiddleware } from 'hono/factory';
import type { Sql } from '../ledger/db.js';
import type { AuthEnv } from './auth.js';
import { ApiError } from './errors.js';
import { isSealed, openResponse, sealResponse } from './idempotent-response-cipher.js';
import { unstorableTextReason } from './schemas.js';

/**
 * `Idempotency-Key` on POSTs: the first response to a key is stored and replayed for every retry of
 * the same request (same principal, route and body); the same key with another body is a 422. A 5xx is
 * not stored, so the client's retry runs again. A key is kept for 24 hours.
 *
 * Stored answers may carry secrets (a new API key, a workspace's first key, an operator key, a billing session
 * URL), so each is stored sealed under `serverSecret` and the Idempotency-Key (api/idempotent-response-cipher.ts):
 * a client retrying after a timeout, which never saw the first answer, still gets the same answer, secret
 * included, while the database holds none in plaintext. An answer that can no longer be opened (the server
 * secret changed, or migration 0023 scrubbed a plaintext one) is a 409 idempotent_secret_not_replayable: the
 * first request did run, so the client lists what it made rather than repeating it.
 *
 * A key still marked in flight after IN_FLIGHT_LEASE_SECONDS is taken over by a retry of the same request:
 * its first request can no longer record an outcome (the database was unreachable when it finished, or
 * the API process died), and without the lease the key would answer 409 for 24 hours.
 */
export const IN_FLIGHT_LEASE_SECONDS = 60;

export function idempotency(sql: Sql, serverSecret: string) {
  return createMiddleware<AuthEnv>(async (c, next) => {
    if (c.req.method !== 'POST') return next(); // reads (GET /v1/credits) pass without a header lookup
    const clientKey = c.req.header('idempotency-key');
    if (!clientKey) return next();
    if (clientKey.length > 255) throw new ApiError(400, 'invalid_request', 'Idempotency-Key: at most 255 characters', [{ field: 'Idempotency-Key', reason: 'at most 255 characters' }]);
    // The key is stored (idempotency_keys, and some services' own keys): text Postgres cannot store is refused like a body field's.
    const unstorable = unstorableTextReason(clientKey, { singleLine: true });
    if (unstorable) throw new ApiError(400, 'invalid_request', `Idempotency-Key: ${unstorable}`, [{ field: 'Idempotency-Key', reason: unstorable }]);
    const principal = c.get('principal');
    const who = principal.kind === 'operator' ? 'operator' : principal.workspace.id;
    const key = `${who}:POST ${c.req.path}:${clientKey}`;
    const requestHash = createHash('sha256').update(await c.req.text()).digest('hex');

    await sql`DELETE FROM idempotency_keys WHERE key = ${key} AND created_at < now() - interval '24 hours'`;
    const [claimed] = await sql`
      INSERT INTO idempotency_keys (key, request_hash) VALUES (${key}, ${requestHash})
      ON CONFLICT (key) DO UPDATE SET created_at = now()
        WHERE idempotency_keys.response_status IS NULL AND idempotency_keys.request_hash = EXCLUDED.request_hash
          AND idempotency_keys.created_at < now() - ${IN_FLIGHT_LEASE_SECONDS} * interval '1 second'
      RETURNING key`;
    if (!claimed) {
      const [prior] = await sql<{ request_hash: string; response_status: number | null; response_body: string | null }[]>`
        SELECT request_hash, response_status, response_body FROM idempotency_keys WHERE key = ${key}`;
      if (prior!.request_hash !== requestHash) {
        throw new ApiError(422, 'idempotency_key_reused', 'this Idempotency-Key was used with a different request');
      }
      if (prior!.response_status === null) throw new ApiError(409, 'idempotency_key_in_use', 'the first request with this Idempotency-Key is still running');
      const stored = prior!.response_body;
      const body = stored === null ? undefined : isSealed(stored) ? openResponse(serverSecret, key, stored) : stored;
      if (body === undefined) {
        throw new ApiError(409, 'idempotent_secret_not_replayable',
          'the first request with this Idempotency-Key succeeded, but its answer can no longer be replayed: list what it created instead of repeating it');
      }
      const contentType = prior!.response_status >= 400 ? 'application/problem+json' : 'application/json';
      return c.body(body, prior!.response_status as 200, { 'content-type': contentType, 'idempotent-replayed': 'true' });
    }
    try {
      await next();
    } finally {
      if (c.res.status < 500) {
        const body = await c.res.clone().text();
        await sql`UPDATE idempotency_keys SET response_status = ${c.res.status}, response_body = ${sealResponse(serverSecret, key, body)} WHERE key = ${key}`;
      } else {
        await sql`DELETE FROM idempotency_keys WHERE key = ${key}`;
      }
    }
  });
}
