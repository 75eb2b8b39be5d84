/**
 * A workspace's card changed: remember it and retry what is unpaid at once (a past-due renewal, or the
 * first invoice of an incomplete subscription or restart). Shared by the sandbox's
 * `PUT /v1/payment-method` and Stripe's completed Checkout (where the card is also made the customer's
 * default, which off-session invoices are charged to).
 */
import type { Client } from '@temporalio/client';
import type { Sql } from '../ledger/db.js';
import { currentSubscription } from '../ledger/subscriptions.js';
import { getWorkspace, setPaymentMethod } from '../ledger/workspaces.js';
import type { PaymentWebhookEvent } from '../payments/provider.js';
import type { StripeProvider } from '../payments/stripe.js';
import { paymentMethodUpdatedSignal } from '../workflows/messages.js';
import { signalIfRunning, workflowIdOf } from './subscriptions.js';

export async function savePaymentMethod(deps: { sql: Sql; temporal: Client }, workspaceId: string, paymentMethod: string): Promise<void> {
  await setPaymentMethod(deps.sql, workspaceId, paymentMethod);
  const subscription = await currentSubscription(deps.sql, workspaceId);
  if (subscription && (['past_due', 'incomplete'].includes(subscription.status) || subscription.incomplete_payment !== null)) {
    await signalIfRunning(deps.temporal, workflowIdOf(subscription.id), paymentMethodUpdatedSignal);
  }
}

/**
 * `checkout.session.completed` of a setup session: the SetupIntent's card becomes the customer's default
 * payment method and the workspace's card. Idempotent (the Stripe write is keyed by customer and card), so
 * a duplicate event changes nothing. A session whose customer is not the workspace's is ignored.
 */
export async function saveCheckoutCard(
  deps: { sql: Sql; temporal: Client; stripe?: StripeProvider },
  event: PaymentWebhookEvent,
): Promise<void> {
  if (!deps.stripe || !event.setupIntentId || !event.workspaceId) return;
  const card = await deps.stripe.savedCard(event.setupIntentId);
  if (!card) return;
  const workspace = await getWorkspace(deps.sql, event.workspaceId);
  if (!workspace || workspace.provider_customer_id !== card.customerId) return;
  await deps.stripe.setDefaultPaymentMethod(card);
  await savePaymentMethod(deps, workspace.id, card.paymentMethodId);
}
