/**
 * The Stripe payment provider, on the official `stripe` SDK with a pinned API version.
 *
 * Every write carries an idempotency key derived from the business operation it belongs to (never a
 * random one), so a retried activity replays Stripe's stored response instead of repeating the write:
 * a charge is created, finalized and paid at most once per business key. A request Stripe refuses as sent
 * (invalid request: a missing customer, invalid parameters) leaves every method as a non-retryable
 * ApplicationFailure (payments/provider-errors.ts); a transient error stays a plain error, retried.
 */
import { createHash } from 'node:crypto';
import Stripe from 'stripe';
import { ProviderInvalidRequestError, withPermanentFailures } from './provider-errors.js';
import type { ChargeOutcome, ChargeRequest, PaymentProvider, PaymentWebhookEvent } from './provider.js';
import { toPaymentEvent, verifyStripeEvent } from './webhooks.js';

/**
 * The API version the installed SDK release (stripe@23.1.0) was generated for. Pinned explicitly: an SDK
 * upgrade that moves to another version fails to type-check here, so the bump is always deliberate.
 */
export const STRIPE_API_VERSION = '2026-10-28.endive' as const;

/** Every amount this system charges or credits is in US cents. */
const CURRENCY = 'usd';

/** Stripe accepts idempotency keys of at most 255 characters. */
const MAX_IDEMPOTENCY_KEY = 255;

export interface StripeProviderOptions {
  secretKey: string;
  webhookSecret: string;
  /** Another API base, e.g. `http://127.0.0.1:12111` for stripe-mock; Stripe's own API when absent. */
  apiBase?: string;
  /** This system's public URL; the Billing Portal returns to its `/pricing` page unless told otherwise. */
  publicUrl: string;
}

export interface StripeProvider extends PaymentProvider {
  readonly name: 'stripe';
  /** Creates the workspace's Stripe customer, once per workspace (key `customer:<workspaceId>`). */
  ensureCustomer(input: { workspaceId: string; name: string; email?: string }): Promise<{ customerId: string }>;
  /**
   * A Checkout session in setup mode: the customer enters a card (and billing address, for automatic
   * tax) on Stripe's page. `requestId` identifies the user's request, so a retried request gets the same session.
   */
  createSetupSession(input: {
    customerId: string;
    workspaceId: string;
    requestId: string;
    successUrl: string;
    cancelUrl: string;
  }): Promise<{ url: string; sessionId: string }>;
  /** Makes a payment method (e.g. the one a setup session saved) the default for off-session invoices. */
  setDefaultPaymentMethod(input: { customerId: string; paymentMethodId: string }): Promise<void>;
  /** The card a setup-mode Checkout saved: its SetupIntent's customer and payment method, once it succeeded. */
  savedCard(setupIntentId: string): Promise<{ customerId: string; paymentMethodId: string } | null>;
  /** Credits the customer's Stripe balance, which Stripe applies to their next invoices. */
  creditCustomerBalance(input: { customerId: string; amountCents: number; idempotencyKey: string; description?: string }): Promise<{ transactionId: string }>;
  /** A Billing Portal session; it returns to `returnUrl`, by default this system's `/pricing` page. */
  createPortalSession(input: { customerId: string; requestId: string; returnUrl?: string }): Promise<{ url: string }>;
  /** Verifies the `Stripe-Signature` header against the raw body (throws if it does not match) and reduces the event. */
  parseWebhook(rawBody: string, signatureHeader: string): PaymentWebhookEvent;
  /**
   * Our invoice id (`in_…` of this system) behind a PaymentIntent: Stripe's charges and disputes carry no
   * metadata of ours, their invoice does. Null when no invoice of ours was paid by it.
   */
  ourInvoiceOfPayment(paymentIntentId: string): Promise<string | null>;
}

/** Our idempotency keys, all derived from the caller's business key or ids (exported for the contract tests). */
export const stripeKeys = {
  customer: (workspaceId: string) => boundedKey(`customer:${workspaceId}`),
  setupSession: (workspaceId: string, requestId: string) => boundedKey(`setup-session:${workspaceId}:${requestId}`),
  defaultPaymentMethod: (customerId: string, paymentMethodId: string) =>
    boundedKey(`default-payment-method:${customerId}:${paymentMethodId}`),
  portalSession: (customerId: string, requestId: string) => boundedKey(`portal-session:${customerId}:${requestId}`),
  invoice: (key: string) => boundedKey(`${key}:invoice`),
  invoiceItem: (key: string, index: number) => boundedKey(`${key}:item:${index}`),
  finalize: (key: string) => boundedKey(`${key}:finalize`),
  /** Each payment attempt at one invoice has its own key (a dunning retry is a new attempt). */
  pay: (key: string, attempt = 0) => boundedKey(attempt === 0 ? `${key}:pay` : `${key}:pay:retry:${attempt}`),
  /** A refund's key derives from its credit note's business key (`<invoice>:refund:<n>`). */
  refund: (key: string) => boundedKey(`${key}:provider-refund`),
};

/** Keeps a key readable when it fits; otherwise a readable prefix plus a hash of the whole key. */
function boundedKey(key: string): string {
  if (key.length <= MAX_IDEMPOTENCY_KEY) return key;
  const digest = createHash('sha256').update(key).digest('hex');
  return `${key.slice(0, MAX_IDEMPOTENCY_KEY - digest.length - 1)}#${digest}`;
}

/** Error codes with which Stripe says an off-session payment needs the customer to authenticate (3-D Secure). */
const AUTHENTICATION_CODES = new Set(['invoice_payment_intent_requires_action', 'authentication_required']);

export function createStripeProvider(options: StripeProviderOptions): StripeProvider {
  const config: ConstructorParameters<typeof Stripe>[1] = {
    apiVersion: STRIPE_API_VERSION,
    maxNetworkRetries: 2,
    timeout: 15_000,
    telemetry: false,
    appInfo: { name: 'credit-engine' },
  };
  if (options.apiBase) {
    const base = new URL(options.apiBase);
    const protocol = base.protocol.replace(/:$/, '');
    if (protocol !== 'http' && protocol !== 'https') throw new Error(`unsupported Stripe API base ${options.apiBase}`);
    config.protocol = protocol;
    config.host = base.hostname;
    config.port = base.port || (protocol === 'https' ? 443 : 80);
  }
  const stripe = new Stripe(options.secretKey, config);
  const publicUrl = options.publicUrl.replace(/\/+$/, '');

  async function charge(request: ChargeRequest): Promise<ChargeOutcome> {
    if (!request.customerId) {
      // Without a Stripe customer there is no payment method to charge (as in the sandbox).
      return request.amountDueCents <= 0 ? { status: 'paid' } : { status: 'declined', code: 'no_payment_method' };
    }
    const key = request.idempotencyKey;
    // A retry pays the invoice of the first attempt again: never a second invoice for one charge.
    if (request.providerInvoiceId) {
      const existing = await stripe.invoices.retrieve(request.providerInvoiceId);
      const links = { providerInvoiceId: request.providerInvoiceId, hostedUrl: existing.hosted_invoice_url ?? undefined, pdfUrl: existing.invoice_pdf ?? undefined };
      if (existing.status === 'paid') return { status: 'paid', ...links };
      return pay(request.providerInvoiceId, links, key, request.attempt);
    }
    const metadata: Record<string, string> = { invoice_id: request.invoiceId, workspace_id: request.workspaceId };
    if (request.subscriptionId) metadata.subscription_id = request.subscriptionId;

    // The invoice comes first and each item names it: items are attached to this invoice only, so items
    // left pending by an abandoned attempt under another key can never be swept into it (and charged twice).
    const draft = await stripe.invoices.create(
      {
        customer: request.customerId,
        currency: CURRENCY,
        collection_method: 'charge_automatically',
        auto_advance: false,
        automatic_tax: { enabled: true },
        pending_invoice_items_behavior: 'exclude',
        description: request.description || undefined,
        metadata,
      },
      { idempotencyKey: stripeKeys.invoice(key) },
    );
    const invoiceId = requireId(draft.id, 'invoice');
    for (const [index, line] of request.lines.entries()) {
      await stripe.invoiceItems.create(
        {
          customer: request.customerId,
          invoice: invoiceId,
          amount: line.amount_cents, // proration credits are negative
          currency: CURRENCY,
          description: line.description,
          metadata: { invoice_id: request.invoiceId },
        },
        { idempotencyKey: stripeKeys.invoiceItem(key, index) },
      );
    }
    // Finalizing computes tax and applies the customer's Stripe balance; an invoice left with nothing
    // to pay is marked paid by Stripe right there.
    const finalized = await stripe.invoices.finalizeInvoice(invoiceId, {}, { idempotencyKey: stripeKeys.finalize(key) });
    const links = {
      providerInvoiceId: invoiceId,
      hostedUrl: finalized.hosted_invoice_url ?? undefined,
      pdfUrl: finalized.invoice_pdf ?? undefined,
    };
    if (finalized.status === 'paid') return { status: 'paid', ...links };
    return pay(invoiceId, links, key, request.attempt);
  }

  /** Pays an open invoice off-session; a decline or a needed authentication is an outcome. */
  async function pay(
    invoiceId: string, links: { providerInvoiceId: string; hostedUrl?: string; pdfUrl?: string }, key: string, attempt: number,
  ): Promise<ChargeOutcome> {
    let paid: Stripe.Invoice;
    try {
      paid = await stripe.invoices.pay(invoiceId, { off_session: true }, { idempotencyKey: stripeKeys.pay(key, attempt) });
    } catch (error) {
      if (!(error instanceof Stripe.errors.StripeError)) throw error;
      if (needsAuthentication(error)) return { status: 'requires_action', ...links, hostedUrl: await hostedUrlOf(invoiceId, links.hostedUrl) };
      if (error instanceof Stripe.errors.StripeCardError) return { status: 'declined', code: error.code ?? 'card_declined', ...links };
      // Stripe refuses to pay an invoice that is no longer open: one paid meanwhile (on its hosted page) is paid.
      if (error instanceof Stripe.errors.StripeInvalidRequestError && (await stripe.invoices.retrieve(invoiceId)).status === 'paid') {
        return { status: 'paid', ...links };
      }
      throw error; // rate limit, network: the activity retries with the same keys; an invalid request is permanent
    }
    const paidLinks = {
      providerInvoiceId: invoiceId,
      hostedUrl: paid.hosted_invoice_url ?? links.hostedUrl,
      pdfUrl: paid.invoice_pdf ?? links.pdfUrl,
    };
    // `pay` either collects the payment or throws; an invoice it returns unpaid is still waiting on the customer.
    switch (paid.status) {
      case 'open':
        return { status: 'requires_action', ...paidLinks, hostedUrl: await hostedUrlOf(invoiceId, paidLinks.hostedUrl) };
      case 'void':
      case 'uncollectible':
        return { status: 'declined', code: `invoice_${paid.status}`, ...paidLinks };
      default:
        return { status: 'paid', ...paidLinks };
    }
  }

  function needsAuthentication(error: InstanceType<typeof Stripe.errors.StripeError>): boolean {
    return (
      (error.code !== undefined && AUTHENTICATION_CODES.has(error.code)) ||
      error.decline_code === 'authentication_required' ||
      error.payment_intent?.status === 'requires_action'
    );
  }

  /** Where the customer completes a payment that needs them: the invoice's hosted page. */
  async function hostedUrlOf(invoiceId: string, known: string | undefined): Promise<string> {
    if (known) return known;
    const invoice = await stripe.invoices.retrieve(invoiceId);
    if (!invoice.hosted_invoice_url) throw new Error(`Stripe invoice ${invoiceId} has no hosted URL`);
    return invoice.hosted_invoice_url;
  }

  return withPermanentFailures<StripeProvider>({
    name: 'stripe',
    charge,

    async ensureCustomer({ workspaceId, name, email }) {
      const customer = await stripe.customers.create(
        { name, email, metadata: { workspace_id: workspaceId } },
        { idempotencyKey: stripeKeys.customer(workspaceId) },
      );
      return { customerId: customer.id };
    },

    async createSetupSession({ customerId, workspaceId, requestId, successUrl, cancelUrl }) {
      const session = await stripe.checkout.sessions.create(
        {
          mode: 'setup',
          customer: customerId,
          currency: CURRENCY,
          success_url: successUrl,
          cancel_url: cancelUrl,
          // Automatic tax needs the customer's address: collect it and keep it on the customer.
          billing_address_collection: 'required',
          customer_update: { address: 'auto', name: 'auto' },
          client_reference_id: workspaceId,
          metadata: { workspace_id: workspaceId },
          setup_intent_data: { metadata: { workspace_id: workspaceId } },
        },
        { idempotencyKey: stripeKeys.setupSession(workspaceId, requestId) },
      );
      if (!session.url) throw new Error(`Stripe checkout session ${session.id} has no URL`);
      return { url: session.url, sessionId: session.id };
    },

    async setDefaultPaymentMethod({ customerId, paymentMethodId }) {
      await stripe.customers.update(
        customerId,
        { invoice_settings: { default_payment_method: paymentMethodId } },
        { idempotencyKey: stripeKeys.defaultPaymentMethod(customerId, paymentMethodId) },
      );
    },

    async savedCard(setupIntentId) {
      const intent = await stripe.setupIntents.retrieve(setupIntentId);
      const id = (value: string | { id: string } | null) => (typeof value === 'string' ? value : value?.id ?? null);
      const [customerId, paymentMethodId] = [id(intent.customer), id(intent.payment_method)];
      if (intent.status !== 'succeeded' || !customerId || !paymentMethodId) return null;
      return { customerId, paymentMethodId };
    },

    async creditCustomerBalance({ customerId, amountCents, idempotencyKey, description }) {
      if (!Number.isInteger(amountCents) || amountCents <= 0) throw new Error(`a balance credit must be a positive number of cents, not ${amountCents}`);
      const transaction = await stripe.customers.createBalanceTransaction(
        customerId,
        { amount: -amountCents, currency: CURRENCY, description }, // negative: a credit the customer can spend
        { idempotencyKey: boundedKey(idempotencyKey) },
      );
      return { transactionId: transaction.id };
    },

    async isInvoicePaid({ providerInvoiceId }) {
      if (!providerInvoiceId) return false;
      return (await stripe.invoices.retrieve(providerInvoiceId)).status === 'paid';
    },

    async voidInvoice({ providerInvoiceId, idempotencyKey }) {
      // No Stripe invoice was created for it: nothing at Stripe can be paid, nothing to void there.
      if (!providerInvoiceId) return { status: null };
      try {
        const invoice = await stripe.invoices.voidInvoice(providerInvoiceId, {}, { idempotencyKey: boundedKey(idempotencyKey) });
        return { status: invoice.status ?? null };
      } catch (error) {
        // Stripe refuses to void a paid invoice (reported as paid, for the caller not to void ours) and one
        // already void (voided meanwhile, e.g. on the Dashboard): neither is an error to retry.
        if (error instanceof Stripe.errors.StripeInvalidRequestError) {
          const { status } = await stripe.invoices.retrieve(providerInvoiceId);
          if (status === 'paid' || status === 'void') return { status };
        }
        throw error;
      }
    },

    // The card payment of the Stripe invoice is refunded through its PaymentIntent (since API 2025-03-31 an
    // invoice names its payments in `invoice_payments`, no longer a charge). The refund carries the credit
    // note's key in its metadata: a retry after Stripe forgot the idempotency key (24 hours) finds it.
    async refund({ invoiceId, workspaceId, providerInvoiceId, amountCents, idempotencyKey, reason }) {
      if (!Number.isSafeInteger(amountCents) || amountCents <= 0) throw new ProviderInvalidRequestError(`invalid refund amount: ${amountCents}`, 'amount');
      if (!providerInvoiceId) throw new ProviderInvalidRequestError(`invoice ${invoiceId} has no Stripe invoice to refund`, 'invoice');
      const payments = await stripe.invoicePayments.list({ invoice: providerInvoiceId, status: 'paid', limit: 10 });
      const paymentIntent = payments.data
        .map((p) => p.payment.payment_intent)
        .map((pi) => (typeof pi === 'string' ? pi : pi?.id))
        .find((pi): pi is string => typeof pi === 'string' && pi !== '');
      if (!paymentIntent) throw new ProviderInvalidRequestError(`Stripe invoice ${providerInvoiceId} has no card payment to refund`, 'invoice');
      const earlier = await stripe.refunds.list({ payment_intent: paymentIntent, limit: 100 });
      const known = earlier.data.find((refund) => refund.metadata?.credit_note_key === idempotencyKey);
      if (known) return { refundId: known.id };
      const refund = await stripe.refunds.create(
        {
          payment_intent: paymentIntent,
          amount: amountCents,
          reason: 'requested_by_customer',
          metadata: { invoice_id: invoiceId, workspace_id: workspaceId, credit_note_key: idempotencyKey.slice(0, 500), note: reason.slice(0, 500) },
        },
        { idempotencyKey: stripeKeys.refund(idempotencyKey) },
      );
      return { refundId: refund.id };
    },

    async ourInvoiceOfPayment(paymentIntentId) {
      const payments = await stripe.invoicePayments.list({ payment: { type: 'payment_intent', payment_intent: paymentIntentId }, limit: 1 });
      const invoice = payments.data[0]?.invoice;
      if (!invoice) return null;
      const full = typeof invoice === 'string' ? await stripe.invoices.retrieve(invoice) : invoice;
      const ours = 'metadata' in full ? full.metadata?.invoice_id : undefined;
      return typeof ours === 'string' && ours !== '' ? ours : null;
    },

    async createPortalSession({ customerId, requestId, returnUrl }) {
      const session = await stripe.billingPortal.sessions.create(
        { customer: customerId, return_url: returnUrl ?? `${publicUrl}/pricing` },
        { idempotencyKey: stripeKeys.portalSession(customerId, requestId) },
      );
      return { url: session.url };
    },

    parseWebhook(rawBody, signatureHeader) {
      return toPaymentEvent(verifyStripeEvent(rawBody, signatureHeader, options.webhookSecret));
    },
  });
}

function requireId(id: string | undefined, what: string): string {
  if (!id) throw new Error(`Stripe returned a ${what} without an id`);
  return id;
}
