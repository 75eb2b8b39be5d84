import { recordExpiringLots } from '../ledger/alerts.js';
import type { Sql } from '../ledger/db.js';
import { claimDueNotifications, MAX_DELIVERY_ATTEMPTS, type Outgoing, recordAttempt } from '../ledger/events.js';
import { postSigned } from '../billing/webhook-delivery.js';
import { every } from '../runtime/every.js';
import { guardedFetch } from '../runtime/outgoing-http.js';

export { MAX_DELIVERY_ATTEMPTS } from '../ledger/events.js';
export { SIGNATURE_HEADER, signAlertPayload, verifyAlertSignature } from '../billing/webhook-delivery.js';

const FIRST_RETRY_MS = 60_000;
const MAX_RETRY_MS = 60 * 60_000;
/**
 * A claimed notification is left alone by other delivery passes for this long (then retried: at least once).
 * A pass sends at most 5 of a workspace's rows one after another, each within the 10 s request timeout.
 */
const CLAIM_MS = 60_000;

/** Wait before the retry that follows failed attempt number `attempts` (1 min, 2, 4, … capped at 1 h). */
export function retryDelayMs(attempts: number): number {
  return Math.min(FIRST_RETRY_MS * 2 ** Math.max(0, attempts - 1), MAX_RETRY_MS);
}

/**
 * Delivers due notifications (alerts, SPEC §6, and events, SPEC §11) of workspaces that have a webhook URL:
 * POSTs the stored body (events: `{id, type, created_at, sequence, data}`; alerts: `{id, type, created_at,
 * data}`) signed with the workspace's secret; a 2xx marks it delivered, anything else schedules a retry
 * with exponential backoff, up to 10 attempts; every attempt is logged (GET /v1/webhook-deliveries).
 * Ordering: a workspace's rows are sent one after another, and an event's first attempt only after the
 * first attempts of all its workspace's earlier events ended (domain/events.ts `sendOrder`); workspaces
 * go in parallel. Claims take a lease, so concurrent passes in several processes never send a row at once.
 * `now` is wall-clock time (retries are about the receiver's availability, not a workspace's test clock).
 * The default client is the SSRF-guarded one (runtime/outgoing-http.ts).
 */
export async function deliverNotifications(opts: {
  sql: Sql;
  fetchImpl?: typeof fetch;
  now?: () => Date;
  limit?: number;
}): Promise<{ delivered: number; failed: number }> {
  const { sql } = opts;
  const fetchImpl = opts.fetchImpl ?? guardedFetch; // SSRF guard (runtime/outgoing-http.ts)
  const now = opts.now ?? (() => new Date());
  const groups = await claimDueNotifications(sql, { now: now(), leaseMs: CLAIM_MS, limit: opts.limit ?? 100 });
  const sendInOrder = async (group: Outgoing[]) => {
    let delivered = 0;
    for (const n of group) {
      const outcome = await postSigned(fetchImpl, n, now);
      const attempts = n.attempts + 1;
      const retryAt = attempts >= MAX_DELIVERY_ATTEMPTS ? null : new Date(now().getTime() + retryDelayMs(attempts));
      await recordAttempt(sql, n, outcome, { trigger: 'automatic', retryAt });
      if (outcome.error === null) delivered += 1;
    }
    return delivered;
  };
  const delivered = (await Promise.all(groups.map(sendInOrder))).reduce((sum, d) => sum + d, 0);
  return { delivered, failed: groups.flat().length - delivered };
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
