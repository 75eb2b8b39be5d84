/**
 * Outgoing events (SPEC §11 "Events"): their types, body shape and the order their first attempts go out.
 * Pure: no I/O. The events themselves are recorded by the database, in the transaction of the change they
 * report (migration 1732400000021); this module says what a receiver gets and when it may be sent.
 */

/** Every outgoing event type (alerts of §6 keep their own kinds: low_balance, lot_expiring, …). */
export const EVENT_TYPES = [
  'subscription.updated', 'invoice.paid', 'invoice.payment_failed', 'credits.granted', 'credits.expired',
  'credit_note.created', 'dispute.updated', 'top_up.succeeded', 'top_up.failed',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

export function isEventType(kind: string): kind is EventType {
  return (EVENT_TYPES as readonly string[]).includes(kind);
}

/**
 * The body of an outgoing event, serialized once when its change commits and sent byte for byte on every
 * attempt. `created_at`: ISO instant of the workspace's time (its test clock's when it has one);
 * `sequence`: 1, 2, 3, … per workspace with no gaps, in commit order. Amounts are exact integers
 * (credits, cents). `data.previous_attributes` (subscription.updated) holds the changed fields' former values.
 */
export interface EventBody {
  id: string;
  type: EventType;
  created_at: string;
  sequence: number;
  data: { object: Record<string, unknown>; previous_attributes?: Record<string, unknown> };
}

/** Where an event stands: delivered (a 2xx came), failed (every automatic attempt failed) or pending. */
export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

export function deliveryStatus(n: { delivered: boolean; attempts: number }, maxAttempts: number): DeliveryStatus {
  if (n.delivered) return 'delivered';
  return n.attempts >= maxAttempts ? 'failed' : 'pending';
}

/** A notification due for an automatic attempt, as the delivery pass sees it. */
export interface DueNotification {
  id: number;
  workspaceId: string;
  /** Events only; null for alerts (which carry no ordering promise). */
  sequence: number | null;
  /** Automatic attempts made so far. */
  attempts: number;
}

/**
 * The ordering rule of first attempts: per workspace, an event's first attempt never starts before the
 * first attempt of every event with a lower sequence has ended (answered, failed or timed out). Retries
 * may interleave with later events (a failing receiver does not hold back the rest once each got its
 * first try). Alerts have no order.
 *
 * Given the due rows (in any order) and, per workspace, the lowest sequence still waiting for its first
 * attempt (`awaitingFrom`, counting rows in flight in another pass and rows left out of `due`), returns the
 * rows to send now, grouped per workspace in the order to send them one after another: the first attempts
 * that continue the run from `awaitingFrom` with no gap, in sequence order, then retries and alerts by id;
 * at most `perWorkspace` rows for each workspace (the rest wait for the next pass). A first attempt whose
 * predecessor is not among them waits.
 */
export function sendOrder<T extends DueNotification>(due: readonly T[], awaitingFrom: ReadonlyMap<string, number>, perWorkspace: number): T[][] {
  const byWorkspace = new Map<string, T[]>();
  for (const n of due) byWorkspace.set(n.workspaceId, [...(byWorkspace.get(n.workspaceId) ?? []), n]);
  const groups: T[][] = [];
  for (const [workspaceId, rows] of byWorkspace) {
    const firsts = rows.filter((n) => n.sequence !== null && n.attempts === 0).sort((a, b) => a.sequence! - b.sequence!);
    const others = rows.filter((n) => !(n.sequence !== null && n.attempts === 0)).sort((a, b) => a.id - b.id);
    const run: T[] = [];
    let expected = awaitingFrom.get(workspaceId);
    for (const n of firsts) {
      if (expected === undefined || n.sequence !== expected) break;
      run.push(n);
      expected += 1;
    }
    const group = [...run, ...others].slice(0, perWorkspace);
    if (group.length > 0) groups.push(group);
  }
  return groups;
}
