import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { Interval } from '../domain/catalog.js';

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

export interface SubscriptionView {
  id: string;
  status: SubscriptionStatus;
  plan: string;
  interval: Interval;
  current_period_start: string;
  current_period_end: string;
  cancel_at_period_end: boolean;
  scheduled_change: { plan: string; effective_at: string } | null;
  pause: { cycles: number; starts_at: string | null; resumes_at: string | null } | null;
  pending_upgrade: { plan: string; interval: Interval; invoice_id: string; expires_at: string } | null;
  next_due_at: string | null;
}

export interface ChangeRequest {
  plan?: string;
  interval?: Interval;
}

export interface ChangeResult {
  kind: 'upgrade' | 'downgrade' | 'interval_switch';
  effective_at: string | null;
  invoice_id?: string;
  credits_granted?: number;
  /** True while the change waits for the customer to authenticate the payment. */
  pending?: boolean;
}

export interface PaymentEvent {
  eventId: string;
  type: 'invoice.paid' | 'invoice.payment_failed';
  invoiceId: string;
}

/** Forwarded by the API when the workspace's test clock moves forward. */
export const clockAdvancedSignal = defineSignal<[{ frozenTimeMs: number }]>('clockAdvanced');
/** Forwarded from the webhook inbox: an invoice of this subscription was paid or failed. */
export const paymentEventSignal = defineSignal<[PaymentEvent]>('paymentEvent');
/** The customer set a new default payment method: retry an unpaid renewal at once. */
export const paymentMethodUpdatedSignal = defineSignal('paymentMethodUpdated');

export const stateQuery = defineQuery<SubscriptionView>('state');
/** Completes once the first charge has an outcome (paid, declined or waiting for 3-D Secure). */
export const firstPaymentSettledUpdate = defineUpdate<SubscriptionView>('firstPaymentSettled');
export const changePlanUpdate = defineUpdate<ChangeResult, [ChangeRequest]>('changePlan');
export const withdrawScheduledChangeUpdate = defineUpdate<SubscriptionView>('withdrawScheduledChange');
export const cancelUpdate = defineUpdate<SubscriptionView>('cancel');
export const resumeUpdate = defineUpdate<SubscriptionView>('resume');
export const pauseUpdate = defineUpdate<SubscriptionView, [{ cycles: number }]>('pause');
