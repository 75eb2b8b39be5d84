/**
 * The subscription's state as the lifecycle core sees it (SPEC §4): plain data, carried over
 * continue-as-new, changed only by the pure decisions of this folder. Instants are epoch milliseconds, UTC.
 */
import type { Interval } from '../catalog.js';
import type { SubscriptionStatus } from './status.js';

/** A lot this subscription granted whose expiry is still to be journaled, named by its grant's business key. */
export interface LotRef {
  key: string;
  expiresAt: number;
}

/** A renewal that was not paid on its due date, retried 1, 3, 5 and 7 days later. */
export interface Dunning {
  refreshIndex: number;
  dueAt: number;
  invoiceId: string;
  /** Scheduled retries made so far (0–4). */
  retries: number;
  /** Payment attempts after the first, scheduled or asked for (each has its own idempotency key). */
  attempts: number;
}

/** The unpaid first invoice of a subscribe or a restart: why it is unpaid, and when the attempt lapses. */
export interface IncompletePayment {
  reason: 'subscribe' | 'restart';
  invoiceId: string;
  businessKey: string;
  /** The cycle the first invoice pays for. */
  anchor: number;
  cycle: number;
  outcome: 'declined' | 'requires_action';
  declineCode: string | null;
  hostedUrl: string | null;
  deadline: number;
  /** Payment attempts after the first (a new card retries at once). */
  attempts: number;
}

/** An upgrade or interval switch whose invoice waits for 3-D Secure. */
export interface PendingChange {
  kind: 'upgrade' | 'interval_switch';
  plan: string;
  interval: Interval;
  /** Credits granted when it is paid (credit-aware, priced at the request). */
  credits: number;
  /**
   * An interval switch onto fewer monthly credits than the unused part of the current lot: what is taken
   * back from that lot when it is paid (the money for the unused time is credited back).
   */
  clawBack: number;
  /** The business key of that clawback (its restore, when the switch does not happen, is keyed from it). */
  clawBackKey: string;
  invoiceId: string;
  requestedAt: number;
  /** 23 hours after the request, or the end of the current refresh interval, whichever comes first. */
  deadline: number;
}

export interface LifecycleState {
  subscriptionId: string;
  plan: string;
  interval: Interval;
  /** Anchor of the current billing cycle; periods and refreshes are counted from it. */
  anchor: number;
  /**
   * Number of the current cycle (0 from the subscribe; +1 at each restart, pause end, interval switch).
   * Part of every business key, so two cycles anchored at the same instant never share an invoice or grant.
   */
  cycle: number;
  /** Upgrades and switches charged so far: part of their business key, so a retry at the same instant after a decline is a new invoice. */
  changes: number;
  /** Index of the next refresh to process (refresh 0 is the anchor). */
  nextRefresh: number;
  status: SubscriptionStatus;
  lots: LotRef[];
  /** Expiry of the newest refresh lot: an upgrade lot expires with it. */
  currentLotExpiresAt: number | null;
  incomplete: IncompletePayment | null;
  cancelAtPeriodEnd: boolean;
  /** A downgrade applied at the next renewal (or where a pause starts). */
  scheduledChange: { plan: string } | null;
  /** startsAt/resumesAt null: the pause starts at the period end; set: paused over [startsAt, resumesAt). */
  pause: { cycles: number; startsAt: number | null; resumesAt: number | null } | null;
  dunning: Dunning | null;
  pendingChange: PendingChange | null;
  /** Payment event ids already handled (webhooks arrive at least once). */
  seenPaymentEvents: string[];
}

/** A new subscription before its first charge: incomplete, anchored at the subscribe instant. */
export function initialState(input: { subscriptionId: string; plan: string; interval: Interval; startedAt: number }): LifecycleState {
  return {
    subscriptionId: input.subscriptionId, plan: input.plan, interval: input.interval, anchor: input.startedAt, cycle: 0, changes: 0, nextRefresh: 0,
    status: 'incomplete', lots: [], currentLotExpiresAt: null, incomplete: null, cancelAtPeriodEnd: false,
    scheduledChange: null, pause: null, dunning: null, pendingChange: null, seenPaymentEvents: [],
  };
}
