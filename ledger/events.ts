import { type DeliveryStatus, type DueNotification, deliveryStatus, sendOrder } from '../domain/events.js';
import type { Sql } from './db.js';

/**
 * The outbox of outgoing webhooks (SPEC §6 alerts and §11 events share it): what is due, the record of each
 * attempt (the delivery log), and the reads of GET /v1/webhook-deliveries. Events are written by the
 * database itself (migration 1732400000021's triggers), in the transaction of the change they report.
 */

/** Automatic attempts per notification before it is given up (`failed`); a manual retry may still send it. */
export const MAX_DELIVERY_ATTEMPTS = 10;
/** Rows of one workspace sent in one pass, one after another (each may take the request timeout). */
const PER_WORKSPACE_PER_PASS = 5;

/** A notification to send: its body is final (events) or built from the row (alerts, as before events). */
export interface Outgoing extends DueNotification {
  kind: string;
  /** ntf_<id> for an alert, evt_… for an event. */
  eventId: string;
  body: string;
  url: string;
  secret: string;
}

interface OutgoingRow {
  id: number;
  workspace_id: string;
  kind: string;
  payload: unknown;
  at: Date;
  event_id: string | null;
  sequence: string | null;
  body: string | null;
  url: string;
  secret: string;
  delivery_attempts: number;
}

const alertId = (id: number) => `ntf_${id}`;

function outgoing(row: OutgoingRow): Outgoing {
  return {
    id: row.id, workspaceId: row.workspace_id, kind: row.kind, attempts: row.delivery_attempts,
    sequence: row.sequence === null ? null : Number(row.sequence),
    eventId: row.event_id ?? alertId(row.id),
    // An alert's body is made from its row, identically on every attempt (its shape predates events).
    body: row.body ?? JSON.stringify({ id: alertId(row.id), type: row.kind, created_at: row.at.toISOString(), data: row.payload }),
    url: row.url, secret: row.secret,
  };
}

/**
 * Claims the notifications due for an automatic attempt (workspaces with a webhook URL; next_attempt_at
 * passed) and returns them grouped per workspace in the order to send them (domain/events.ts `sendOrder`:
 * first attempts of events in sequence order). Claiming sets a lease of `leaseMs` so other passes leave
 * them alone; claims are serialized by an advisory lock, so two passes never both see an earlier first
 * attempt as not in flight. `now`: wall-clock time.
 */
export async function claimDueNotifications(sql: Sql, opts: { now: Date; leaseMs: number; limit: number }): Promise<Outgoing[][]> {
  return sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(hashtext('webhook delivery claims'))`;
    const rows = await tx<OutgoingRow[]>`
      SELECT n.id, n.workspace_id, n.kind, n.payload, n.at, n.event_id, n.sequence, n.body, n.delivery_attempts,
             w.alert_webhook_url AS url, w.alert_webhook_secret AS secret
      FROM notifications n JOIN workspaces w ON w.id = n.workspace_id
      WHERE n.delivered_at IS NULL AND n.delivery_attempts < ${MAX_DELIVERY_ATTEMPTS}
        AND (n.next_attempt_at IS NULL OR n.next_attempt_at <= ${opts.now})
        AND w.alert_webhook_url IS NOT NULL AND w.alert_webhook_secret IS NOT NULL
      ORDER BY n.id LIMIT ${opts.limit}
      FOR UPDATE OF n SKIP LOCKED`;
    if (rows.length === 0) return [];
    const workspaces = [...new Set(rows.filter((r) => r.sequence !== null).map((r) => r.workspace_id))];
    const awaiting = workspaces.length === 0 ? [] : await tx<{ workspace_id: string; first: string }[]>`
      SELECT workspace_id, min(sequence) AS first FROM notifications
      WHERE workspace_id IN ${tx(workspaces)} AND sequence IS NOT NULL AND delivery_attempts = 0 AND delivered_at IS NULL
      GROUP BY workspace_id`;
    const groups = sendOrder(rows.map(outgoing), new Map(awaiting.map((a) => [a.workspace_id, Number(a.first)])), PER_WORKSPACE_PER_PASS);
    const claimed = groups.flat().map((n) => n.id);
    if (claimed.length > 0) {
      await tx`UPDATE notifications SET next_attempt_at = ${new Date(opts.now.getTime() + opts.leaseMs)} WHERE id IN ${tx(claimed)}`;
    }
    return groups;
  });
}

/** What one attempt got: the receiver's status (null: no answer), why it failed (null: a 2xx), how long it took. */
export interface AttemptOutcome {
  statusCode: number | null;
  error: string | null;
  durationMs: number;
  /** Wall-clock time the attempt started. */
  at: Date;
  url: string;
}

/**
 * Logs an attempt and settles the notification, in one transaction. Automatic: a 2xx marks it delivered,
 * anything else counts the attempt and schedules the next at `retryAt` (null: given up). Manual (a retry
 * asked for through the API): a 2xx marks it delivered (no more automatic attempts); a failure changes
 * nothing but the log and last_error. Returns the logged delivery.
 */
export async function recordAttempt(
  sql: Sql,
  n: { id: number },
  outcome: AttemptOutcome,
  how: { trigger: 'automatic'; retryAt: Date | null } | { trigger: 'manual' },
): Promise<WebhookDeliveryView> {
  return sql.begin(async (tx) => {
    const ok = outcome.error === null;
    const [logged] = how.trigger === 'automatic'
      ? await tx<{ attempts_logged: number; workspace_id: string }[]>`
          UPDATE notifications SET delivery_attempts = delivery_attempts + 1, attempts_logged = attempts_logged + 1,
            delivered_at = ${ok ? tx`coalesce(delivered_at, ${outcome.at})` : tx`delivered_at`},
            next_attempt_at = ${ok ? null : how.retryAt}, last_error = ${outcome.error}
          WHERE id = ${n.id} RETURNING attempts_logged, workspace_id`
      : await tx<{ attempts_logged: number; workspace_id: string }[]>`
          UPDATE notifications SET attempts_logged = attempts_logged + 1,
            delivered_at = ${ok ? tx`coalesce(delivered_at, ${outcome.at})` : tx`delivered_at`},
            next_attempt_at = ${ok ? tx`NULL` : tx`next_attempt_at`}, last_error = ${outcome.error}
          WHERE id = ${n.id} RETURNING attempts_logged, workspace_id`;
    const [row] = await tx<{ id: string }[]>`
      INSERT INTO webhook_deliveries (notification_id, workspace_id, attempt, trigger, url, status_code, error, duration_ms, at)
      VALUES (${n.id}, ${logged!.workspace_id}, ${logged!.attempts_logged}, ${how.trigger}, ${outcome.url}, ${outcome.statusCode},
              ${outcome.error}, ${Math.max(0, Math.round(outcome.durationMs))}, ${outcome.at})
      RETURNING id`;
    return (await readDeliveries(tx as unknown as Sql, (q) => q`d.id = ${row!.id}`))[0]!;
  });
}

/** One logged attempt, as GET /v1/webhook-deliveries shows it. */
export interface WebhookDeliveryView {
  id: string;
  event_id: string;
  event_type: string;
  /** 1 for the event's first logged attempt, then 2, 3, … (automatic and manual together). */
  attempt: number;
  trigger: 'automatic' | 'manual';
  url: string;
  status_code: number | null;
  error: string | null;
  duration_ms: number;
  /** ISO instant (wall clock) the attempt started. */
  at: string;
  /** Where the event stands now. */
  event_status: DeliveryStatus;
  /** The event's sequence (events only; null for alerts). */
  sequence: number | null;
}

interface DeliveryRow {
  id: string;
  notification_id: string;
  event_id: string | null;
  kind: string;
  attempt: number;
  trigger: 'automatic' | 'manual';
  url: string;
  status_code: number | null;
  error: string | null;
  duration_ms: number;
  at: Date;
  delivered: boolean;
  delivery_attempts: number;
  sequence: string | null;
}

type Where = (q: Sql) => ReturnType<Sql>;

async function readDeliveries(sql: Sql, where: Where, limit = 1): Promise<WebhookDeliveryView[]> {
  const rows = await sql<DeliveryRow[]>`
    SELECT d.id, d.notification_id, n.event_id, n.kind, d.attempt, d.trigger, d.url, d.status_code, d.error, d.duration_ms, d.at,
           n.delivered_at IS NOT NULL AS delivered, n.delivery_attempts, n.sequence
    FROM webhook_deliveries d JOIN notifications n ON n.id = d.notification_id
    WHERE ${where(sql)} ORDER BY d.id DESC LIMIT ${limit}`;
  return rows.map((r) => ({
    id: `whd_${r.id}`, event_id: r.event_id ?? alertId(Number(r.notification_id)), event_type: r.kind, attempt: r.attempt,
    trigger: r.trigger, url: r.url, status_code: r.status_code, error: r.error, duration_ms: r.duration_ms, at: r.at.toISOString(),
    event_status: deliveryStatus({ delivered: r.delivered, attempts: r.delivery_attempts }, MAX_DELIVERY_ATTEMPTS),
    sequence: r.sequence === null ? null : Number(r.sequence),
  }));
}

/** Parses `whd_<n>`; null when it is not one. */
function deliveryNumber(id: string): number | null {
  const match = /^whd_([1-9][0-9]{0,17})$/.exec(id);
  return match ? Number(match[1]) : null;
}

/**
 * The workspace's delivery log, newest first: `after` is the `next_cursor` of the previous page (a
 * delivery id); `eventId` keeps one event's attempts. Null when `after` is not a delivery of this workspace.
 */
export async function listDeliveries(
  sql: Sql,
  workspaceId: string,
  opts: { limit: number; after?: string; eventId?: string },
): Promise<{ data: WebhookDeliveryView[]; has_more: boolean; next_cursor: string | null } | null> {
  let cursor = sql``;
  if (opts.after !== undefined) {
    const after = deliveryNumber(opts.after);
    if (after === null) return null;
    const [anchor] = await sql`SELECT 1 FROM webhook_deliveries WHERE id = ${after} AND workspace_id = ${workspaceId}`;
    if (!anchor) return null;
    cursor = sql`AND d.id < ${after}`;
  }
  const { eventId } = opts;
  const rows = await readDeliveries(sql, (q) => q`d.workspace_id = ${workspaceId} ${cursor} ${eventId === undefined ? q`` : q`AND ${eventMatch(q, eventId)}`}`, opts.limit + 1);
  const has_more = rows.length > opts.limit;
  const data = rows.slice(0, opts.limit);
  return { data, has_more, next_cursor: has_more ? data[data.length - 1]!.id : null };
}

/** A condition on `n` (notifications) matching an event id: evt_… of an event, ntf_<id> of an alert. */
function eventMatch(sql: Sql, eventId: string) {
  const alert = /^ntf_([1-9][0-9]{0,17})$/.exec(eventId);
  return alert ? sql`(n.id = ${Number(alert[1])} AND n.event_id IS NULL)` : sql`n.event_id = ${eventId}`;
}

/** What a manual retry needs: the notification, where it goes now, and whether it ever had an attempt. */
export interface RetryTarget extends Outgoing {
  url: string;
  secret: string;
  /** True when its first automatic attempt has not ended yet (waiting, or in flight). */
  awaitingFirstAttempt: boolean;
  configured: boolean;
}

/**
 * The notification a retry names, by delivery id (`whd_…`) or event id (`evt_…`, `ntf_…`), if it is the
 * workspace's; undefined otherwise (a 404: another workspace's ids are not told apart from unknown ones).
 */
export async function findRetryTarget(sql: Sql, workspaceId: string, id: string): Promise<RetryTarget | undefined> {
  const delivery = deliveryNumber(id);
  const match = delivery !== null
    ? sql`n.id = (SELECT notification_id FROM webhook_deliveries WHERE id = ${delivery})`
    : eventMatch(sql, id);
  const [row] = await sql<(Omit<OutgoingRow, 'url' | 'secret'> & { url: string | null; secret: string | null })[]>`
    SELECT n.id, n.workspace_id, n.kind, n.payload, n.at, n.event_id, n.sequence, n.body, n.delivery_attempts,
           w.alert_webhook_url AS url, w.alert_webhook_secret AS secret
    FROM notifications n JOIN workspaces w ON w.id = n.workspace_id
    WHERE n.workspace_id = ${workspaceId} AND ${match}`;
  if (!row) return undefined;
  const target = outgoing({ ...row, url: row.url ?? '', secret: row.secret ?? '' });
  return {
    ...target,
    configured: row.url !== null && row.secret !== null,
    // An event's body is final only once its transaction committed (always so for a row we can read).
    awaitingFirstAttempt: row.delivery_attempts === 0 && row.sequence !== null && !(await hasLoggedAttempt(sql, row.id)),
  };
}

async function hasLoggedAttempt(sql: Sql, notificationId: number): Promise<boolean> {
  const [row] = await sql`SELECT 1 FROM webhook_deliveries WHERE notification_id = ${notificationId} LIMIT 1`;
  return row !== undefined;
}

/** The event types the workspace subscribed to (`*`: all); none by default (alerts only). */
export async function getEnabledEvents(sql: Sql, workspaceId: string): Promise<string[]> {
  const [row] = await sql<{ enabled_events: string[] }[]>`SELECT enabled_events FROM workspaces WHERE id = ${workspaceId}`;
  if (!row) throw new Error(`workspace ${workspaceId} not found`);
  return row.enabled_events;
}

/**
 * Sets the event types recorded for the workspace from now on (deduplicated, sorted). Changes that commit
 * after this are reported; earlier ones never are (an event is recorded with its change or not at all).
 */
export async function setEnabledEvents(sql: Sql, workspaceId: string, types: readonly string[]): Promise<string[]> {
  const list = [...new Set(types)].sort();
  const [row] = await sql<{ enabled_events: string[] }[]>`
    UPDATE workspaces SET enabled_events = ${sql.array(list)}::text[] WHERE id = ${workspaceId} RETURNING enabled_events`;
  if (!row) throw new Error(`workspace ${workspaceId} not found`);
  return row.enabled_events;
}
