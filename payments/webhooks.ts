/**
 * Stripe-format webhook signatures (`Stripe-Signature: t=…,v1=HMAC-SHA256`), verified and produced with
 * the official SDK, and the mapping of a Stripe event to what the engine acts on. The sandbox signs its
 * events the same way, so one endpoint and one verifier serve both providers.
 */
import Stripe from 'stripe';
import type { PaymentWebhookEvent } from './provider.js';

/** How far (seconds) a signature's timestamp may lie from our clock, either way: Stripe's default tolerance. */
export const SIGNATURE_TOLERANCE_SECONDS = 300;

/**
 * Throws when the signature does not match the raw body, or its timestamp is more than
 * SIGNATURE_TOLERANCE_SECONDS in the past (the SDK's check) or in the future (ours: the SDK accepts any future
 * timestamp, so a captured event signed with a far-future `t` could be replayed forever). `nowMs`: our clock.
 */
export function verifyStripeEvent(rawBody: string, signatureHeader: string, secret: string, nowMs: number = Date.now()): Stripe.Event {
  const event = Stripe.webhooks.constructEvent(rawBody, signatureHeader, secret, SIGNATURE_TOLERANCE_SECONDS, undefined, nowMs);
  // The SDK verified the signature over the last `t=` of the header; that is the one we bound.
  const stamps = signatureHeader.split(',').filter((item) => item.split('=')[0] === 't');
  const signedAt = Number.parseInt(stamps.at(-1)?.split('=')[1] ?? '', 10);
  if (!Number.isFinite(signedAt) || signedAt - Math.floor(nowMs / 1000) > SIGNATURE_TOLERANCE_SECONDS) {
    throw new Error('webhook signature timestamp outside the tolerance zone (in the future)');
  }
  return event;
}

/** A `Stripe-Signature` header for `payload`, stamped `timestampS` (seconds; now by default). */
export function signStripePayload(payload: string, secret: string, timestampS?: number): string {
  return Stripe.webhooks.generateTestHeaderString({ payload, secret, ...(timestampS === undefined ? {} : { timestamp: timestampS }) });
}

/** Throws when the (verified) payload is not an event: no string id and type, no data object. */
export function toPaymentEvent(event: Stripe.Event): PaymentWebhookEvent {
  if (typeof event.id !== 'string' || event.id === '' || typeof event.type !== 'string') throw new Error('not an event: id and type must be strings');
  const object = event.data.object as {
    object?: string; id?: unknown; status?: unknown; metadata?: Record<string, unknown> | null; setup_intent?: unknown;
    payment_intent?: unknown; amount?: unknown; amount_refunded?: unknown; customer?: unknown; amount_paid?: unknown;
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
    ...(object.object === 'invoice' ? invoiceFields(object, text) : {}),
  };
}

/** What an `invoice.*` event adds: the provider's invoice id, its customer (an id, or an expanded object) and cents paid. */
function invoiceFields(
  object: { id?: unknown; customer?: unknown; amount_paid?: unknown },
  text: (value: unknown) => string | null,
): Partial<PaymentWebhookEvent> {
  const customer = typeof object.customer === 'object' && object.customer !== null ? (object.customer as { id?: unknown }).id : object.customer;
  const paid = object.amount_paid;
  return {
    providerInvoiceId: text(object.id), customerId: text(customer),
    amountPaid: typeof paid === 'number' && Number.isSafeInteger(paid) && paid >= 0 ? paid : null,
  };
}

/** The sandbox names its invoice object after ours (payments/sandbox.ts sandboxInvoiceId). */
const SANDBOX_INVOICE_PREFIX = 'in_sandbox_';

/**
 * Whether an `invoice.paid` event may pay this invoice of ours (issue 16): its metadata's workspace is the
 * invoice's; the provider invoice it names is the invoice's own (the sandbox's `in_sandbox_<our id>`, or the
 * Stripe invoice we recorded); and, from the sandbox, whose amounts are ours (Stripe adds tax), the cents paid
 * are the invoice's amount due. A field the event does not carry (our own reconciliation's events, events
 * stored before these fields) is not held against it. Pure.
 */
export function paidEventMatchesInvoice(
  event: Pick<PaymentWebhookEvent, 'workspaceId' | 'providerInvoiceId' | 'customerId' | 'amountPaid'>,
  invoice: { id: string; workspace_id: string; provider_invoice_id: string | null; amount_due_cents: number },
): boolean {
  if (event.workspaceId && event.workspaceId !== invoice.workspace_id) return false;
  const providerId = event.providerInvoiceId ?? null;
  if (providerId === null) return true;
  if (providerId.startsWith(SANDBOX_INVOICE_PREFIX)) {
    if (invoice.provider_invoice_id !== null || providerId !== `${SANDBOX_INVOICE_PREFIX}${invoice.id}`) return false;
    if (event.customerId && event.customerId !== invoice.workspace_id) return false;
    return event.amountPaid === undefined || event.amountPaid === null || event.amountPaid === invoice.amount_due_cents;
  }
  return invoice.provider_invoice_id === null || invoice.provider_invoice_id === providerId;
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
