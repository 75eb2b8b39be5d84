/**
 * Refund arithmetic (SPEC §10), pure and in integer cents: what is left to refund on a paid invoice, how a
 * refund splits between the card and the customer balance, and what a provider's `amount_refunded` adds.
 */

/** What the credit notes of one invoice gave back so far. */
export interface RefundedSoFar {
  /** Every credit note's amount (operator, provider, lost dispute). */
  amountCents: number;
  /** The card part of every credit note (a lost dispute's money went back to the card through the bank). */
  cardCents: number;
  /** The card part of the notes refunded through the provider (not a lost dispute's): Stripe's `amount_refunded` counts these. */
  providerCardCents: number;
}

/**
 * Cents left to refund on an invoice of `totalCents` (what the card and the customer balance paid): less its
 * credit notes, and for an operator's refund less `proratedCents`, the unused-time credits later upgrades or
 * interval switches already gave for the time it paid for (domain/billing/proration-credits.ts), so that
 * time is never paid back twice. The clawback ratio stays on `totalCents`.
 */
export function refundableCents(totalCents: number, so: RefundedSoFar, proratedCents = 0): number {
  return Math.max(0, totalCents - so.amountCents - proratedCents);
}

/**
 * The card part first, up to what the card paid (`cardPaidCents`, the invoice's amount due) less earlier card
 * refunds; the rest returns to the customer balance.
 */
export function splitRefund(amountCents: number, cardPaidCents: number, so: RefundedSoFar): { cardCents: number; balanceCents: number } {
  const cardCents = Math.max(0, Math.min(amountCents, cardPaidCents - so.cardCents));
  return { cardCents, balanceCents: amountCents - cardCents };
}

/**
 * A `charge.refunded` reports the charge's total refunded; what we have not recorded yet is a refund made at
 * the provider (its dashboard): the difference, within what is left to refund. 0: nothing new (our own
 * refund's echo, a duplicate, or an older event arriving late).
 */
export function unrecordedProviderRefund(amountRefundedCents: number, totalCents: number, so: RefundedSoFar): number {
  return Math.max(0, Math.min(amountRefundedCents - so.providerCardCents, refundableCents(totalCents, so)));
}

/** A lost dispute's credit note: the disputed cents, within what the card paid less card refunds and what is left. */
export function lostDisputeCents(disputedCents: number, totalCents: number, cardPaidCents: number, so: RefundedSoFar): number {
  return Math.max(0, Math.min(disputedCents, cardPaidCents - so.cardCents, refundableCents(totalCents, so)));
}
