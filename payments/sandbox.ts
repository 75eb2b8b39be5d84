import type { ChargeOutcome, ChargeRequest, PaymentProvider } from './provider.js';

/** Stripe's test payment method ids, with the behaviour Stripe gives them. */
export const SANDBOX_PAYMENT_METHODS = ['pm_card_visa', 'pm_card_chargeDeclined', 'pm_card_authenticationRequired'] as const;
export type SandboxPaymentMethod = (typeof SANDBOX_PAYMENT_METHODS)[number];

/**
 * Offline stand-in for Stripe when no key is configured: deterministic by payment method id.
 * (Its hosted 3-D Secure page, PDFs and signed webhooks belong to the payments issue.)
 */
export function createSandboxProvider(options: { publicUrl: string }): PaymentProvider {
  return {
    name: 'sandbox',
    async charge(request: ChargeRequest): Promise<ChargeOutcome> {
      if (request.amountDueCents <= 0) return { status: 'paid' };
      switch (request.paymentMethod) {
        case 'pm_card_visa':
          return { status: 'paid' };
        case 'pm_card_authenticationRequired':
          return { status: 'requires_action', hostedUrl: `${options.publicUrl}/sandbox/invoices/${request.invoiceId}` };
        case 'pm_card_chargeDeclined':
          return { status: 'declined', code: 'card_declined' };
        default:
          return { status: 'declined', code: 'no_payment_method' };
      }
    },
  };
}
