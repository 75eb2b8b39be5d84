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
  /** Unpaid first invoice: the subscription expires at this instant. */
  incompleteDeadline: number | null;
  /** Test clock time seen so far (null when the workspace follows real time). */
  clockNow: number | null;
  /** Clock time up to which every due event was processed and reported. */
  clockSynced: number | null;
  firstPaymentSettled: boolean;
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
  next_due_at: string | null;
}

/** Forwarded by the API when the workspace's test clock moves forward. */
export const clockAdvancedSignal = defineSignal<[{ frozenTimeMs: number }]>('clockAdvanced');
export const stateQuery = defineQuery<SubscriptionView>('state');
/** Completes once the first charge has an outcome (paid, declined or waiting for 3-D Secure). */
export const firstPaymentSettledUpdate = defineUpdate<SubscriptionView>('firstPaymentSettled');
