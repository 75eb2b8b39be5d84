/**
 * Types of the first workflow type (`subscriptionWorkflow`), frozen: subscriptions started before the
 * lifecycle core run on it until they end; new ones run `subscriptionLifecycleWorkflow`.
 */
import type { Interval } from '../../domain/catalog.js';

export type SubscriptionStatus = 'incomplete' | 'active' | 'past_due' | 'paused' | 'canceled';

export interface SubscriptionInput {
  subscriptionId: string;
  workspaceId: string;
  plan: string;
  interval: Interval;
  /** The workspace's time when the customer subscribed (its test clock's time when it has one). */
  startedAt: number;
  testClockId: string | null;
  /** State carried over continue-as-new; absent on the first run. */
  carried?: SubscriptionState;
}

export interface LiveLot {
  lotId: number;
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

/** An upgrade or interval switch whose invoice waits for 3-D Secure; dropped after 23 hours unpaid. */
export interface PendingChange {
  kind: 'upgrade' | 'interval_switch';
  plan: string;
  interval: Interval;
  credits: number;
  invoiceId: string;
  requestedAt: number;
  deadline: number;
}

export interface SubscriptionState {
  plan: string;
  interval: Interval;
  /** Anchor of the current billing cycle; periods and refreshes are counted from it. */
  anchor: number;
  /** Index of the next refresh to process (refresh 0 is the anchor). */
  nextRefresh: number;
  status: SubscriptionStatus;
  /** Lots this subscription granted whose expiry is still to be journaled. */
  lots: LiveLot[];
  /** Expiry of the newest refresh lot: an upgrade lot expires with it. */
  currentLotExpiresAt: number | null;
  /** The unpaid first invoice (of a subscribe or a restart) and when the attempt lapses. */
  incomplete: { invoiceId: string; deadline: number } | null;
  cancelAtPeriodEnd: boolean;
  /** A downgrade applied at the next renewal. */
  scheduledChange: { plan: string } | null;
  /** resumesAt null: the pause starts at the period end; set: paused until then. */
  pause: { cycles: number; resumesAt: number | null } | null;
  dunning: Dunning | null;
  pendingChange: PendingChange | null;
  /** Test clock time seen so far (null when the workspace follows real time). */
  clockNow: number | null;
  /** Clock time up to which every due event was processed and reported. */
  clockSynced: number | null;
  firstPaymentSettled: boolean;
  /** Payment event ids already handled (webhooks arrive at least once). */
  seenPaymentEvents: string[];
  /** Projection version, so late writes never overwrite newer state. */
  version: number;
}

export type { SubscriptionView } from '../../domain/lifecycle/view.js';

export interface ChangeResult {
  kind: 'upgrade' | 'downgrade' | 'interval_switch';
  effective_at: string | null;
  invoice_id?: string;
  credits_granted?: number;
  pending?: boolean;
}
