import type { Sql } from '../ledger/db.js';
import { ProviderInvalidRequestError, withPermanentFailures } from './provider-errors.js';
import { attemptKey, type ChargeOutcome, type ChargeRequest, type PaymentProvider } from './provider.js';

/** Stripe's test payment method ids, with the behaviour Stripe gives them. */
export const SANDBOX_PAYMENT_METHODS = ['pm_card_visa', 'pm_card_chargeDeclined', 'pm_card_authenticationRequired'] as const;
export type SandboxPaymentMethod = (typeof SANDBOX_PAYMENT_METHODS)[number];

export interface SandboxProvider extends PaymentProvider {
  /** The customer completed 3-D Secure on the hosted invoice page: the invoice is paid. */
  completeAuthentication(invoice: { id: string; workspace_id: string; subscription_id: string | null }): Promise<void>;
}

type InvoiceEventType = 'invoice.paid' | 'invoice.payment_failed' | 'invoice.payment_action_required';

/**
 * Offline stand-in for Stripe when no key is configured: deterministic by payment method id, persisted
 * in Postgres. Besides answering each charge, it queues the Stripe-shaped event Stripe would send; the
 * API delivers them, signed, to its own webhook endpoint (see api/webhooks/sandbox-outbox.ts). Like Stripe, it
 * refuses a charge it could never make (amounts that are not whole cents, a negative amount due) as an
 * invalid request: a non-retryable ApplicationFailure (payments/provider-errors.ts).
 */
export function createSandboxProvider(options: { publicUrl: string; sql: Sql }): SandboxProvider {
  const { sql } = options;

  async function emit(type: InvoiceEventType, eventId: string, invoice: { id: string; workspace_id: string; subscription_id: string | null }, status: string) {
    const payload = {
      id: eventId,
      object: 'event',
      type,
      created: Math.floor(Date.now() / 1000),
      data: { object: { id: `in_sandbox_${invoice.id}`, object: 'invoice', status,
        metadata: { invoice_id: invoice.id, workspace_id: invoice.workspace_id, subscription_id: invoice.subscription_id ?? '' } } },
    };
    await sql`INSERT INTO sandbox_outbox (event_id, payload) VALUES (${eventId}, ${sql.json(payload)}) ON CONFLICT (event_id) DO NOTHING`;
  }

  /** What Stripe would refuse with an invalid_request_error, whatever the payment method. */
  function validate(request: ChargeRequest): void {
    if (!Number.isSafeInteger(request.amountDueCents) || request.amountDueCents < 0) {
      throw new ProviderInvalidRequestError(`invalid amount due: ${request.amountDueCents} (whole cents, not negative)`, 'amount');
    }
    const line = request.lines.find((l) => !Number.isSafeInteger(l.amount_cents));
    if (line) throw new ProviderInvalidRequestError(`invalid line amount: ${line.amount_cents} (whole cents)`, 'amount');
  }

  function decide(request: ChargeRequest): ChargeOutcome {
    const hostedUrl = `${options.publicUrl}/sandbox/invoices/${request.invoiceId}`;
    const pdfUrl = `${options.publicUrl}/sandbox/invoices/${request.invoiceId}/pdf`;
    if (request.amountDueCents <= 0) return { status: 'paid', hostedUrl, pdfUrl };
    switch (request.paymentMethod) {
      case 'pm_card_visa':
        return { status: 'paid', hostedUrl, pdfUrl };
      case 'pm_card_authenticationRequired':
        return { status: 'requires_action', hostedUrl, pdfUrl };
      case 'pm_card_chargeDeclined':
        return { status: 'declined', code: 'card_declined', hostedUrl, pdfUrl };
      default:
        return { status: 'declined', code: 'no_payment_method', hostedUrl, pdfUrl };
    }
  }

  const eventType = { paid: 'invoice.paid', declined: 'invoice.payment_failed', requires_action: 'invoice.payment_action_required' } as const;

  return withPermanentFailures<SandboxProvider>({
    name: 'sandbox',
    async charge(request) {
      validate(request);
      const outcome = decide(request);
      const invoice = { id: request.invoiceId, workspace_id: request.workspaceId, subscription_id: request.subscriptionId };
      // The event id comes from the payment attempt: a retried call queues the same event once.
      await emit(eventType[outcome.status], `evt_sbx_${attemptKey(request)}:${outcome.status}`, invoice,
        outcome.status === 'paid' ? 'paid' : 'open');
      return outcome;
    },
    // The sandbox's own record of a payment is the invoice.paid event it queued.
    async isInvoicePaid(invoice) {
      const [row] = await sql`
        SELECT 1 FROM sandbox_outbox WHERE payload->>'type' = 'invoice.paid'
          AND payload->'data'->'object'->'metadata'->>'invoice_id' = ${invoice.id} LIMIT 1`;
      return row !== undefined;
    },
    // The sandbox's invoices are ours (no provider invoice id), so there is nothing to void on its side.
    async voidInvoice() {
      return { status: 'void' };
    },
    async completeAuthentication(invoice) {
      await emit('invoice.paid', `evt_sbx_${invoice.id}:authenticated`, invoice, 'paid');
    },
  });
}
