/**
 * Stripe-format webhook signatures (`Stripe-Signature: t=…,v1=HMAC-SHA256`), verified and produced with
 * the official SDK, and the mapping of a Stripe event to what the engine acts on. The sandbox signs its
 * events the same way, so one endpoint and one verifier serve both providers.
 */
import Stripe from 'stripe';
import type { PaymentWebhookEvent } from './provider.js';

/** Throws when the signature does not match the raw body (or is older than the SDK's tolerance). */
export function verifyStripeEvent(rawBody: string, signatureHeader: string, secret: string): Stripe.Event {
  return Stripe.webhooks.constructEvent(rawBody, signatureHeader, secret);
}

export function signStripePayload(payload: string, secret: string): string {
  return Stripe.webhooks.generateTestHeaderString({ payload, secret });
}

/** Throws when the (verified) payload is not an event: no string id and type, no data object. */
export function toPaymentEvent(event: Stripe.Event): PaymentWebhookEvent {
  if (typeof event.id !== 'string' || event.id === '' || typeof event.type !== 'string') throw new Error('not an event: id and type must be strings');
  const object = event.data.object as {
    object?: string; id?: unknown; status?: unknown; metadata?: Record<string, unknown> | null; setup_intent?: unknown;
    payment_intent?: unknown; amount?: unknown; amount_refunded?: unknown;
  };
  const metadata = object.metadata ?? {};
  // Only string ids are ours: anything else in the metadata cannot name an invoice, workspace or subscription.
  const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : null);
  return {
    id: event.id,
    type: event.type,
    created: event.created,
    invoiceId: text(metadata.invoice_id),
    workspaceId: text(metadata.workspace_id),
    subscriptionId: text(metadata.subscription_id),
    objectStatus: text(object.status),
    // A Checkout session names its SetupIntent by id, or as an object when expanded.
    setupIntentId: object.object === 'checkout.session'
      ? text(typeof object.setup_intent === 'object' && object.setup_intent !== null ? (object.setup_intent as { id?: unknown }).id : object.setup_intent)
      : null,
    ...chargeFields(object, text),
  };
}

/** What a charge (`charge.refunded`) or a dispute (`charge.dispute.*`) event adds; nothing for other objects. */
function chargeFields(
  object: { object?: string; id?: unknown; status?: unknown; payment_intent?: unknown; amount?: unknown; amount_refunded?: unknown },
  text: (value: unknown) => string | null,
): Partial<PaymentWebhookEvent> {
  const cents = (value: unknown) => (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : null);
  const paymentIntentId = text(typeof object.payment_intent === 'object' && object.payment_intent !== null
    ? (object.payment_intent as { id?: unknown }).id : object.payment_intent);
  if (object.object === 'charge') return { paymentIntentId, amountRefunded: cents(object.amount_refunded) };
  if (object.object === 'dispute') {
    const [id, status, amountCents] = [text(object.id), text(object.status), cents(object.amount)];
    return { paymentIntentId, dispute: id && status && amountCents !== null ? { id, status, amountCents } : null };
  }
  return {};
}
