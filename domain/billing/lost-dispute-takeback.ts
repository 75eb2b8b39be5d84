/**
 * A bank-side return after an upgrade or interval switch (SPEC §4, §10; README "Billing rules"), pure and in
 * integer cents: a dispute lost, or a refund made at the provider (Stripe's dashboard, `charge.refunded`). The
 * change credited the unused rest of the invoice's period (on a switch, usually as customer balance); then the
 * card got back what it paid for the whole period. That return cannot be lowered (the money is gone), so what
 * the change credited for that time, as far as the notes now return it a second time, is taken back from the
 * customer balance, as far as the balance goes; the rest is still owed (`balance_shortfall_cents` on the note):
 * the next credits to the customer balance (an open invoice's void giving back the balance it held, a change's
 * negative total, a refund's balance part) settle it first (settleOwedTakebacks). It is never charged to a card.
 *
 * The other orders are guarded elsewhere: a refund or lost dispute before a change lowers the change's credit
 * (refund-aware-credit.ts), and an operator's refund after a change is capped by what changes credited
 * (refunds.ts refundableCents with proration-credits.ts), so notes + credits never exceed the total after
 * one and its take-back is always 0: only provider and lost-dispute notes run it.
 */
import { type PaidSubscriptionInvoice, prorationCredits } from './proration-credits.js';

/** What a lost dispute or a provider refund takes back from the customer balance, in cents. */
export interface LostDisputeTakeback {
  /** Unused-time credits of later changes that the notes now return a second time (≥ 0). */
  owedCents: number;
  /** Taken from the customer balance now: min(owed, balance). */
  takenCents: number;
  /** owed − taken: what the balance lacked, still owed (later credits to the balance settle it first). */
  shortfallCents: number;
}

/**
 * Cents later changes' unused-time credits gave for invoice `invoiceId`'s time, as it stood before its lost
 * dispute's or provider refund's note of `lostCents` (prorationCredits never gives a credit what was refunded, so counting the note
 * that comes after the change would hide the credit it duplicates). `invoices`: the subscription's paid
 * invoices in creation order, `refundedCents` including that note (it is recorded first, so a retry computes
 * the same figure). Right only while that note is the invoice's latest: the ledger uses takebackAsOfNote, which
 * leaves out notes recorded after it.
 */
export function creditedBeforeLostDispute(invoices: readonly PaidSubscriptionInvoice[], invoiceId: string, lostCents: number): number {
  const before = invoices.map((i) => (i.id === invoiceId ? { ...i, refundedCents: Math.max(0, (i.refundedCents ?? 0) - lostCents) } : i));
  return prorationCredits(before).get(invoiceId)?.cents ?? 0;
}

/** One credit note of an invoice as the ledger has it: its place in the ledger's order (seq) and its amount, cents. */
export interface RecordedNote {
  seq: number;
  amountCents: number;
}

/**
 * The take-back of note `noteSeq` of invoice `invoiceId` (paid `totalCents`), every figure as of that note:
 * returned = the invoice's notes with seq ≤ the note's, the credit later changes gave for its time as it stood
 * before the note (its notes with seq < the note's count as refunded; prorationCredits on `invoices`, the
 * subscription's paid invoices in creation order). `notes` may hold later notes too (recorded before this note's
 * take-back ran: events processed at once, a note a crash left pending): they are not counted, so the take-backs
 * of a set of notes sum to min(credit, notes + credit − total) whatever the order they complete in (each is the
 * step of that figure from its notes before to its notes through). `balanceCents`: the customer balance now.
 * SPEC §4, §10.
 */
export function takebackAsOfNote(input: {
  invoices: readonly PaidSubscriptionInvoice[];
  invoiceId: string;
  totalCents: number;
  notes: readonly RecordedNote[];
  noteSeq: number;
  balanceCents: number;
}): LostDisputeTakeback {
  const { notes, noteSeq } = input;
  const sum = (keep: (n: RecordedNote) => boolean) => notes.filter(keep).reduce((cents, n) => cents + n.amountCents, 0);
  const asOf = input.invoices.map((i) => (i.id === input.invoiceId ? { ...i, refundedCents: sum((n) => n.seq < noteSeq) } : i));
  return lostDisputeTakeback({
    totalCents: input.totalCents,
    returnedCents: sum((n) => n.seq <= noteSeq),
    creditedCents: prorationCredits(asOf).get(input.invoiceId)?.cents ?? 0,
    balanceCents: input.balanceCents,
  });
}

/**
 * The take-back of a lost dispute or provider refund on an invoice paid `totalCents` (card + customer
 * balance): `returnedCents` is the invoice's credit notes up to and including that one (card refunds, balance
 * refunds, dashboard refunds, bank reversals), `creditedCents` what later changes credited for its time as it stood before that note,
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

/** A note's take-back still owed (its `balance_shortfall_cents`), cents > 0. */
export interface OwedTakeback {
  noteId: string;
  cents: number;
}

/**
 * A credit of `creditCents` to the customer balance while take-backs are still owed (`owed`, oldest note
 * first): it settles them first, oldest first. Returns what each note is settled (cents > 0, moved from its
 * shortfall to its taken back) and `toBalanceCents`, what is left for the balance. So the balance stays 0 while
 * anything is owed, and the order of holds, voids and take-backs never lets the customer keep what was owed.
 */
export function settleOwedTakebacks(creditCents: number, owed: readonly OwedTakeback[]): { settled: OwedTakeback[]; toBalanceCents: number } {
  let left = Math.max(0, creditCents);
  const settled: OwedTakeback[] = [];
  for (const o of owed) {
    const cents = Math.min(left, Math.max(0, o.cents));
    if (cents > 0) settled.push({ noteId: o.noteId, cents });
    left -= cents;
  }
  return { settled, toBalanceCents: left };
}
