/**
 * The payment seam. Activities and the API's payment routes talk to this interface only; the Stripe
 * implementation and the offline sandbox stand behind it.
 */
export interface ChargeRequest {
  invoiceId: string;
  /** Derived from the business operation, so a retried charge is recognised, never repeated. */
  idempotencyKey: string;
  workspaceId: string;
  paymentMethod: string | null;
  amountDueCents: number;
  description: string;
}

export type ChargeOutcome =
  | { status: 'paid' }
  | { status: 'requires_action'; hostedUrl: string }
  | { status: 'declined'; code: string };

export interface PaymentProvider {
  readonly name: 'sandbox' | 'stripe';
  charge(request: ChargeRequest): Promise<ChargeOutcome>;
}
