/**
 * A dispute lost after an upgrade or interval switch (SPEC §4, §10; README "Billing rules"), pure and in integer
 * cents. The change credited the unused rest of the disputed invoice's period (on a switch, usually as customer
 * balance); then the bank returned what the card paid for the whole period. The bank's reversal cannot be
 * lowered (the money is gone), so what the change credited for that time, as far as the reversal and earlier
 * credit notes now return it a second time, is taken back from the customer balance, as far as the balance
 * goes; the rest is a shortfall, recorded on the dispute's credit note and never collected otherwise (like a
 * clawback's shortfall of credits already spent).
 *
 * The other orders are guarded elsewhere: a refund or lost dispute before a change lowers the change's credit
 * (refund-aware-credit.ts), and an operator's refund after a change is capped by what changes credited
 * (refunds.ts refundableCents with proration-credits.ts).
 */
import { type PaidSubscriptionInvoice, prorationCredits } from './proration-credits.js';

/** What a lost dispute takes back from the customer balance, in cents. */
export interface LostDisputeTakeback {
  /** Unused-time credits of later changes that the notes now return a second time (≥ 0). */
  owedCents: number;
  /** Taken from the customer balance now: min(owed, balance). */
  takenCents: number;
  /** owed − taken: recorded, not collected (the balance held less). */
  shortfallCents: number;
}

/**
 * Cents later changes' unused-time credits gave for invoice `invoiceId`'s time, as it stood before its lost
 * dispute's note of `lostCents` (prorationCredits never gives a credit what was refunded, so counting the note
 * that comes after the change would hide the credit it duplicates). `invoices`: the subscription's paid
 * invoices in creation order, `refundedCents` including that note (it is recorded first, so a retry computes
 * the same figure).
 */
export function creditedBeforeLostDispute(invoices: readonly PaidSubscriptionInvoice[], invoiceId: string, lostCents: number): number {
  const before = invoices.map((i) => (i.id === invoiceId ? { ...i, refundedCents: Math.max(0, (i.refundedCents ?? 0) - lostCents) } : i));
  return prorationCredits(before).get(invoiceId)?.cents ?? 0;
}

/**
 * The take-back of a lost dispute on an invoice paid `totalCents` (card + customer balance): `returnedCents` is
 * every credit note of the invoice including the lost dispute's (card refunds, balance refunds, bank
 * reversals), `creditedCents` what later changes credited for its time (creditedBeforeLostDispute),
 * `balanceCents` the customer balance now. Owed: what notes + credits return beyond what was paid, at most
 * the credits (notes alone never exceed the total). So afterwards notes + credits not taken back − shortfall ≤
 * total.
 */
export function lostDisputeTakeback(input: { totalCents: number; returnedCents: number; creditedCents: number; balanceCents: number }): LostDisputeTakeback {
  const credited = Math.max(0, input.creditedCents);
  const owedCents = Math.max(0, Math.min(credited, input.returnedCents + credited - Math.max(0, input.totalCents)));
  const takenCents = Math.min(owedCents, Math.max(0, input.balanceCents));
  return { owedCents, takenCents, shortfallCents: owedCents - takenCents };
}
