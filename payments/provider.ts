/**
 * The payment seam. Activities and the API's payment routes talk to this interface only; the Stripe
 * implementation and the offline sandbox stand behind it. Card data never reaches this system: the
 * provider holds it (Checkout / Billing Portal) and we keep only its ids.
 */
export interface InvoiceLineInput {
  description: string;
  amount_cents: number;
}

export interface ChargeRequest {
  /** Our invoice id (`in_…`), sent as metadata so webhooks can be matched back. */
  invoiceId: string;
  /**
   * Derived from the business operation (e.g. `<subscription>:<anchor>:period:<n>:subscription`), so a
   * retried charge is recognised, never repeated. Every provider write derives its own key from it.
   */
  idempotencyKey: string;
  /** 0 for the first payment attempt; each dunning retry is a new attempt at the same invoice. */
  attempt: number;
  /**
   * The provider's invoice made by an earlier attempt, if any: a retry pays that one again rather than
   * creating another (idempotency keys expire after a day, dunning retries come days apart).
   */
  providerInvoiceId: string | null;
  workspaceId: string;
  subscriptionId: string | null;
  /** The provider's customer (`cus_…`); the sandbox uses the workspace's payment method instead. */
  customerId: string | null;
  paymentMethod: string | null;
  /** Readable invoice lines, proration credits included (negative amounts). */
  lines: InvoiceLineInput[];
  /** What is charged after the customer balance (never negative). */
  amountDueCents: number;
  description: string;
}

/** One payment attempt's own name: the business key, and `:retry:<n>` for the n-th dunning retry. */
export function attemptKey(request: Pick<ChargeRequest, 'idempotencyKey' | 'attempt'>): string {
  return request.attempt === 0 ? request.idempotencyKey : `${request.idempotencyKey}:retry:${request.attempt}`;
}

export type ChargeOutcome =
  | { status: 'paid'; providerInvoiceId?: string; hostedUrl?: string; pdfUrl?: string }
  | { status: 'requires_action'; hostedUrl: string; providerInvoiceId?: string; pdfUrl?: string }
  | { status: 'declined'; code: string; providerInvoiceId?: string; hostedUrl?: string; pdfUrl?: string };

/** A verified provider event, reduced to what the engine acts on. */
export interface PaymentWebhookEvent {
  id: string;
  type: 'invoice.paid' | 'invoice.payment_failed' | 'invoice.payment_action_required' | 'payment_method.attached' | string;
  /** Seconds since the epoch, as the provider stamped the event. */
  created: number;
  /** Our ids, from the object's metadata, when the event concerns an invoice we created. */
  invoiceId: string | null;
  workspaceId: string | null;
  subscriptionId: string | null;
  /** The provider object's own status (e.g. the invoice's `paid`/`open`), for ordering by state, not arrival. */
  objectStatus: string | null;
  /** A completed setup-mode Checkout session: the SetupIntent that saved the card (absent in older stored events). */
  setupIntentId?: string | null;
  /** `invoice.*` events: the provider's invoice (`in_…`), its customer, and the cents it says were paid. */
  providerInvoiceId?: string | null;
  customerId?: string | null;
  amountPaid?: number | null;
  /** `charge.*` events: the charge's PaymentIntent (to find our invoice when the charge carries no metadata). */
  paymentIntentId?: string | null;
  /** `charge.refunded`: cents refunded on the charge so far, in all (every refund, ours and the dashboard's). */
  amountRefunded?: number | null;
  /** `charge.dispute.*`: the provider's dispute (`dp_…`), its status and the disputed cents. */
  dispute?: { id: string; status: string; amountCents: number } | null;
}

/** A refund of (part of) what the card paid for one of our invoices (SPEC §10). */
export interface RefundRequest {
  /** Our invoice (`in_…`), sent as metadata. */
  invoiceId: string;
  workspaceId: string;
  /** The provider's invoice the card paid (Stripe `in_…`); the sandbox's invoices are ours (null). */
  providerInvoiceId: string | null;
  /** Cents back to the card: positive, at most what the card paid less earlier refunds. */
  amountCents: number;
  /** The credit note's business key: the provider write's idempotency key derives from it. */
  idempotencyKey: string;
  reason: string;
}

export interface PaymentProvider {
  readonly name: 'sandbox' | 'stripe';
  charge(request: ChargeRequest): Promise<ChargeOutcome>;
  /** Whether the provider holds this invoice as paid: the reconciliation's view when a webhook went missing. */
  isInvoicePaid(invoice: { id: string; providerInvoiceId: string | null }): Promise<boolean>;
  /**
   * Voids the provider's invoice so the customer can no longer pay it (its hosted page stays reachable).
   * Answers `paid` instead when it was paid meanwhile: then it is not ours to void. `providerInvoiceId` is null
   * when the provider has no invoice object of its own (the sandbox's invoices are ours; a Stripe invoice not
   * created yet): the provider then answers from its own record of `invoiceId`, as the sandbox does.
   */
  voidInvoice(input: { invoiceId: string; providerInvoiceId: string | null; idempotencyKey: string }): Promise<{ status: string | null }>;
  /**
   * Refunds `amountCents` of the card payment of an invoice, once per idempotency key (a retry returns the
   * first refund). The provider then sends `charge.refunded` with the charge's total refunded.
   */
  refund(request: RefundRequest): Promise<{ refundId: string }>;
}
