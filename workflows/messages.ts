/**
 * Messages of the subscription workflow (shared by both workflow types: the names are the contract):
 * Updates for customer requests (validated before they enter history), Signals for payment events,
 * new payment methods and test-clock advances, a Query for the live view.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { Interval } from '../domain/catalog.js';
import type { ChangeRequest, ChangeResult, LifecycleState, SubscriptionView } from '../domain/lifecycle/index.js';

export type { ChangeRequest, ChangeResult, SubscriptionView };

/** What the shell keeps beside the core's state (carried over continue-as-new with it). */
export interface ShellState {
  /** Test clock time seen so far (null when the workspace follows real time). */
  clockNow: number | null;
  /** Clock time up to which every due event was processed and reported. */
  clockSynced: number | null;
  firstPaymentSettled: boolean;
  /** Projection version, so late writes never overwrite newer state. */
  version: number;
}

export interface SubscriptionInput {
  subscriptionId: string;
  workspaceId: string;
  plan: string;
  interval: Interval;
  /** The workspace's time when the customer subscribed (its test clock's time when it has one). */
  startedAt: number;
  testClockId: string | null;
  /** State carried over continue-as-new; absent on the first run. */
  carried?: { core: LifecycleState; shell: ShellState };
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
/** The customer set a new default payment method: retry an unpaid renewal or first invoice at once. */
export const paymentMethodUpdatedSignal = defineSignal('paymentMethodUpdated');

export const stateQuery = defineQuery<SubscriptionView>('state');
/** The lifecycle core's state (for previews computed by the same functions as the change). */
export const lifecycleStateQuery = defineQuery<LifecycleState>('lifecycleState');
/** Completes once the first charge has an outcome (paid, declined or waiting for 3-D Secure). */
export const firstPaymentSettledUpdate = defineUpdate<SubscriptionView>('firstPaymentSettled');
/**
 * A change; `expectedAmountDueCents` (cents, SPEC §10): what the customer confirmed as due, held where the
 * invoice is drafted (absent in older histories and for unconfirmed changes; the first workflow type ignores it).
 */
export type ConfirmedChangeRequest = ChangeRequest & { expectedAmountDueCents?: number };
export const changePlanUpdate = defineUpdate<ChangeResult, [ConfirmedChangeRequest]>('changePlan');
export const withdrawScheduledChangeUpdate = defineUpdate<SubscriptionView>('withdrawScheduledChange');
export const cancelUpdate = defineUpdate<SubscriptionView>('cancel');
/** An operator ends the subscription at once (SPEC §10); the first workflow type does not know it. */
export const cancelNowUpdate = defineUpdate<SubscriptionView>('cancelNow');
export const resumeUpdate = defineUpdate<SubscriptionView>('resume');
export const pauseUpdate = defineUpdate<SubscriptionView, [{ cycles: number }]>('pause');
