/**
 * An operator retries a past-due renewal, or an unpaid first invoice, now with the card on file (SPEC §10
 * "act on its subscription": retry a past-due payment), as a new card would: the payment-method-updated signal.
 */
import type { Client } from '@temporalio/client';
import { refuse } from '../domain/refusals.js';
import type { Sql } from '../ledger/db.js';
import { currentSubscription, type SubscriptionRow } from '../ledger/subscriptions.js';
import { paymentMethodUpdatedSignal } from '../workflows/messages.js';
import { signalIfRunning, workflowIdOf } from './subscriptions.js';

/**
 * Asks the workspace's subscription workflow to retry its unpaid invoice now and returns the subscription as
 * it was when asked (the outcome follows asynchronously). Refusals: no_subscription; nothing_to_retry when
 * it is neither past due nor awaiting its first payment.
 */
export async function retrySubscriptionPayment(deps: { sql: Sql; temporal: Client }, workspaceId: string): Promise<SubscriptionRow> {
  const subscription = await currentSubscription(deps.sql, workspaceId);
  if (!subscription) return refuse('no_subscription', 'this workspace has no subscription');
  if (subscription.status !== 'past_due' && subscription.incomplete_payment === null) {
    refuse('nothing_to_retry', `a ${subscription.status} subscription has no unpaid renewal or first invoice to retry`);
  }
  await signalIfRunning(deps.temporal, workflowIdOf(subscription.id), paymentMethodUpdatedSignal);
  return subscription;
}
