import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Sql } from '../ledger/db.js';
import { type AttemptOutcome, type Outgoing, recordAttempt, type WebhookDeliveryView } from '../ledger/events.js';
import { guardedFetch } from '../runtime/outgoing-http.js';

/**
 * One signed attempt to deliver an alert (SPEC §6) or an event (SPEC §11) to the workspace's webhook URL,
 * used by the worker's delivery loop (automatic attempts) and by POST /v1/webhook-deliveries/{id}/retry
 * (manual ones). The body is the stored one, byte for byte; only the signature's timestamp is fresh.
 */

export const SIGNATURE_HEADER = 'x-credit-engine-signature';
const REQUEST_TIMEOUT_MS = 10_000;

function hmac(secret: string, timestamp: number, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

/** The signature header of an outgoing webhook: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. */
export function signAlertPayload(body: string, secret: string, at: Date = new Date()): string {
  const t = Math.floor(at.getTime() / 1000);
  return `t=${t},v1=${hmac(secret, t, body)}`;
}

/**
 * For receivers: true when `header` carries a v1 signature of `body` made with `secret`, and its
 * timestamp is within `toleranceSeconds` of `now` (replay protection).
 */
export function verifyAlertSignature(body: string, header: string, secret: string, toleranceSeconds = 300, now: Date = new Date()): boolean {
  const parts = header.split(',').map((part) => part.trim().split('='));
  const t = Number(parts.find(([k]) => k === 't')?.[1]);
  if (!Number.isSafeInteger(t) || Math.abs(now.getTime() / 1000 - t) > toleranceSeconds) return false;
  const expected = Buffer.from(hmac(secret, t, body), 'hex');
  return parts.some(([k, v]) => {
    if (k !== 'v1' || !v || !/^[0-9a-f]+$/i.test(v)) return false;
    const given = Buffer.from(v, 'hex');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

/** POSTs the notification's body, signed, to its URL; never throws (a network error is an outcome). */
export async function postSigned(fetchImpl: typeof fetch, n: Pick<Outgoing, 'url' | 'secret' | 'body'>, now: () => Date): Promise<AttemptOutcome> {
  const at = now();
  const started = performance.now();
  const done = (statusCode: number | null, error: string | null): AttemptOutcome =>
    ({ statusCode, error, durationMs: performance.now() - started, at, url: n.url });
  try {
    const response = await fetchImpl(n.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signAlertPayload(n.body, n.secret, at) },
      body: n.body,
      redirect: 'manual',
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    await response.body?.cancel();
    return done(response.status, response.ok ? null : `HTTP ${response.status}`);
  } catch (error) {
    return done(null, (error instanceof Error ? `${error.name}: ${error.message}` : String(error)).slice(0, 500));
  }
}

/**
 * A manual retry: sends the notification's stored body now (fresh signature timestamp) and logs the attempt
 * as `manual`; a 2xx marks it delivered. Returns the logged delivery (the receiver's answer included: a
 * failed retry is still a retry done).
 */
export async function retryDelivery(
  deps: { sql: Sql; fetchImpl?: typeof fetch; now?: () => Date },
  n: Outgoing,
): Promise<WebhookDeliveryView> {
  const outcome = await postSigned(deps.fetchImpl ?? guardedFetch, n, deps.now ?? (() => new Date())); // SSRF guard (issue 16)
  return recordAttempt(deps.sql, n, outcome, { trigger: 'manual' });
}
