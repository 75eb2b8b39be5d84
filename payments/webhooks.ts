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

export function toPaymentEvent(event: Stripe.Event): PaymentWebhookEvent {
  const object = event.data.object as { object?: string; status?: string | null; metadata?: Record<string, string> | null };
  const metadata = object.metadata ?? {};
  return {
    id: event.id,
    type: event.type,
    created: event.created,
    invoiceId: metadata.invoice_id ?? null,
    workspaceId: metadata.workspace_id ?? null,
    subscriptionId: metadata.subscription_id || null,
    objectStatus: object.status ?? null,
  };
}
