import { createHmac, timingSafeEqual } from 'node:crypto';
import { recordExpiringLots } from '../ledger/alerts.js';
import type { Sql } from '../ledger/db.js';
import { every } from '../runtime/every.js';

export const SIGNATURE_HEADER = 'x-credit-engine-signature';
export const MAX_DELIVERY_ATTEMPTS = 10;
const FIRST_RETRY_MS = 60_000;
const MAX_RETRY_MS = 60 * 60_000;
/** A claimed notification is left alone by other delivery passes for this long (then retried: at least once). */
const CLAIM_MS = 60_000;
const REQUEST_TIMEOUT_MS = 10_000;

function hmac(secret: string, timestamp: number, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

/** The signature header of an outgoing alert: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. */
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

/** Wait before the retry that follows failed attempt number `attempts` (1 min, 2, 4, … capped at 1 h). */
export function retryDelayMs(attempts: number): number {
  return Math.min(FIRST_RETRY_MS * 2 ** Math.max(0, attempts - 1), MAX_RETRY_MS);
}

interface Due {
  id: number;
  kind: string;
  payload: unknown;
  at: Date;
  url: string;
  secret: string;
  delivery_attempts: number;
}

/**
 * Delivers due notifications of workspaces that have a webhook URL: POSTs `{id, type, created_at, data}`
 * signed with the workspace's secret; a 2xx marks it delivered, anything else schedules a retry with
 * exponential backoff, up to 10 attempts. Rows are claimed (SKIP LOCKED, then a short lease) so
 * concurrent passes in several processes never send the same notification at once. `now` is wall-clock
 * time (retries are about the receiver's availability, not a workspace's test clock).
 */
export async function deliverNotifications(opts: {
  sql: Sql;
  fetchImpl?: typeof fetch;
  now?: () => Date;
  limit?: number;
}): Promise<{ delivered: number; failed: number }> {
  const { sql } = opts;
  const fetchImpl = opts.fetchImpl ?? fetch;
  const now = opts.now ?? (() => new Date());
  const claimedAt = now();
  const due = await sql.begin(async (tx) => {
    const rows = await tx<Due[]>`
      SELECT n.id, n.kind, n.payload, n.at, w.alert_webhook_url AS url, w.alert_webhook_secret AS secret, n.delivery_attempts
      FROM notifications n JOIN workspaces w ON w.id = n.workspace_id
      WHERE n.delivered_at IS NULL AND n.delivery_attempts < ${MAX_DELIVERY_ATTEMPTS}
        AND (n.next_attempt_at IS NULL OR n.next_attempt_at <= ${claimedAt})
        AND w.alert_webhook_url IS NOT NULL AND w.alert_webhook_secret IS NOT NULL
      ORDER BY n.id LIMIT ${opts.limit ?? 100}
      FOR UPDATE OF n SKIP LOCKED`;
    if (rows.length > 0) {
      await tx`UPDATE notifications SET next_attempt_at = ${new Date(claimedAt.getTime() + CLAIM_MS)}
               WHERE id IN ${tx(rows.map((r) => r.id))}`;
    }
    return rows;
  });

  const results = await Promise.all(due.map(async (n) => ({ n, error: await post(fetchImpl, n, now()) })));
  for (const { n, error } of results) {
    const attempts = n.delivery_attempts + 1;
    if (error === null) {
      await sql`UPDATE notifications SET delivered_at = ${now()}, delivery_attempts = ${attempts}, next_attempt_at = NULL, last_error = NULL
                WHERE id = ${n.id}`;
    } else {
      const next = attempts >= MAX_DELIVERY_ATTEMPTS ? null : new Date(now().getTime() + retryDelayMs(attempts));
      await sql`UPDATE notifications SET delivery_attempts = ${attempts}, next_attempt_at = ${next}, last_error = ${error}
                WHERE id = ${n.id}`;
    }
  }
  const delivered = results.filter((r) => r.error === null).length;
  return { delivered, failed: results.length - delivered };
}

/** One signed POST; null when the receiver answered 2xx, else why not. */
async function post(fetchImpl: typeof fetch, n: Due, at: Date): Promise<string | null> {
  const body = JSON.stringify({ id: `ntf_${n.id}`, type: n.kind, created_at: n.at.toISOString(), data: n.payload });
  try {
    const response = await fetchImpl(n.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signAlertPayload(body, n.secret, at) },
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    await response.body?.cancel();
    return response.ok ? null : `HTTP ${response.status}`;
  } catch (error) {
    return (error instanceof Error ? `${error.name}: ${error.message}` : String(error)).slice(0, 500);
  }
}

/** The worker's alert loops: expiry alerts every minute, deliveries every 2 seconds. Returns a stop function. */
export function startAlertLoops(sql: Sql, opts: { expiryEveryMs?: number; deliveryEveryMs?: number } = {}): () => Promise<void> {
  const stops = [
    every(opts.expiryEveryMs ?? 60_000, () => recordExpiringLots(sql), 'expiry alerts'),
    every(opts.deliveryEveryMs ?? 2_000, () => deliverNotifications({ sql }), 'alert delivery'),
  ];
  return async () => {
    await Promise.all(stops.map((stop) => stop()));
  };
}
