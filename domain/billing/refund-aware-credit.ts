/**
 * A refund made before an upgrade or interval switch lowers that change's "Unused time on …" credit (SPEC §4,
 * §10; README "Billing rules"), pure and in integer cents. Without it, refunding the period in force and then
 * changing pays its unused time back twice: by the card (or balance) refund and by the change's credit.
 *
 * Rule: a partial refund is a discount on the whole period in force — its clawback takes the same share,
 * ceil(N × R / T), of every lot the invoice grants, a yearly invoice's later refreshes included — so a later
 * change credits the unused time at the share of the price kept, unused × (paid − refunded) ÷ paid, never more
 * than what the period in force was paid and not refunded: the invoice in force's total, plus (for an upgrade or
 * switch invoice) the unused-time credit that moved earlier money onto it, less its credit notes. (Until
 * 2026-11-30 a refund gave back the end of the period first — unused − refunded — which charged full price for
 * the months before a switch while their refreshes had lost their share; views recorded in workflow histories
 * before then keep that rule on replay: `refundShare`.) Total money returned for a period (refunds + unused-time credits) therefore never
 * exceeds what was paid for it. Refunds of earlier invoices do not lower it: what is left to refund on them
 * excludes the time a change already credited (proration-credits.ts), so they only ever give back used time.
 * A refund made while a change is in flight: the change's draft re-prices its credit for the refunds as they stand
 * then (repriceUnusedTime), and a refund after the draft counts the drafted or open change's credit, so either way
 * the time is paid back once.
 */
import type { InvoiceLine } from '../proration.js';
import { type PaidSubscriptionInvoice, unusedTimeCreditCents } from './proration-credits.js';

/** What was paid and refunded for the period in force, in cents. */
export interface PeriodInForceMoney {
  /** Credit notes (refunds, lost disputes; pending ones too) of the invoice in force (the latest paid one). */
  refundedCents: number;
  /** What the period in force was paid and not refunded (≥ 0). */
  unreturnedCents: number;
  /**
   * How a refund lowers a later change's credit. 'proportional' (every view read since 2026-11-30): a partial
   * refund is a discount on the whole period, as its clawback takes ceil(N × R / T) of every lot the invoice
   * grants (a yearly invoice's later refreshes too), so the unused time is credited at the share of the price
   * kept. Absent ('end first'): the refund gave back the end of the period; only views recorded in workflow
   * histories before then lack it, and they replay as they were priced.
   */
  refundShare?: 'proportional';
}

/**
 * The money of the period in force of one subscription: `invoices` are its paid subscription, upgrade and
 * interval-switch invoices in creation order (the last is in force: changes apply only once paid, and a
 * renewal starts a new period), each with its `refundedCents`. null when there is none (nothing to lower).
 */
export function periodInForceMoney(invoices: readonly PaidSubscriptionInvoice[]): PeriodInForceMoney | null {
  const inForce = invoices.at(-1);
  if (!inForce) return null;
  const refundedCents = inForce.refundedCents ?? 0;
  const movedIn = inForce.kind === 'subscription' ? 0 : unusedTimeCreditCents(inForce.lines);
  return { refundedCents, unreturnedCents: Math.max(0, inForce.totalCents + movedIn - refundedCents), refundShare: 'proportional' };
}

/**
 * The unused-time credit (cents, ≥ 0) a change gives when the full-price unused time is `unusedCents`, at most
 * what the period's invoices still hold (`unreturnedCents`). Proportional (`refundShare`): the unused time at
 * the share of the period's price not refunded, unused × unreturned ÷ (unreturned + refunded), half-up to the
 * cent — Max monthly 2900 with 1000 refunded credits 1933 of unused time as 1266. End first (views recorded
 * before the rule): the unused time less the refunds, never below 0 (933). Without `money` (no paid period
 * known, the validators) it is `unusedCents`.
 */
export function unusedTimeCredit(unusedCents: number, money: PeriodInForceMoney | null | undefined): number {
  if (!money) return unusedCents;
  if (money.refundShare !== 'proportional') return Math.max(0, Math.min(unusedCents - money.refundedCents, money.unreturnedCents));
  const paid = money.unreturnedCents + money.refundedCents;
  if (money.refundedCents === 0 || paid <= 0) return Math.max(0, Math.min(unusedCents, money.unreturnedCents));
  // Half-up in integers: floor((2 × unused × unreturned + paid) ÷ (2 × paid)).
  const share = Number((2n * BigInt(unusedCents) * BigInt(money.unreturnedCents) + BigInt(paid)) / (2n * BigInt(paid)));
  return Math.max(0, Math.min(share, money.unreturnedCents));
}

/**
 * The credits of the unused time a switch deducts from its new lot (SPEC §4), in proportion to the money it
 * credits back for that time: floor(`deductible` × creditCents / unusedCents). Credits of refunded time were
 * taken back by the refund's clawback (or are its shortfall), so they are not deducted (or charged as
 * already used) a second time.
 */
export function deductibleCredits(deductible: number, creditCents: number, unusedCents: number): number {
  if (creditCents >= unusedCents) return deductible;
  if (creditCents <= 0 || deductible <= 0) return 0;
  return Number((BigInt(deductible) * BigInt(creditCents)) / BigInt(unusedCents));
}

/**
 * planChange's unused-time line (domain/lifecycle/changes.ts): "Unused time on OLD" crediting the full unused
 * time, or "Unused time on OLD, less N refunded" crediting N cents less (N: what the refunds took off the credit).
 */
const UNUSED_TIME_LINE = /^Unused time on (.+?)(?:, less (\d+) refunded)?$/;

/** An unused-time line read back: the old plan's label, the full unused time and the credit given (cents, ≥ 0). */
export interface UnusedTimeLine {
  label: string;
  unusedCents: number;
  creditCents: number;
}

/** Reads an "Unused time on …" line (credit = −amount, full unused time = credit + N); undefined for any other line. */
export function readUnusedTimeLine(line: InvoiceLine): UnusedTimeLine | undefined {
  const match = UNUSED_TIME_LINE.exec(line.description);
  if (!match || line.amount_cents > 0) return undefined;
  const creditCents = Math.abs(line.amount_cents);
  return { label: match[1]!, unusedCents: creditCents + Number(match[2] ?? 0), creditCents };
}

/** The line of a credit of `creditCents` for `unusedCents` of unused time on `label`, worded as planChange words it. */
export function unusedTimeLine(label: string, unusedCents: number, creditCents: number): InvoiceLine {
  const description = creditCents === unusedCents ? `Unused time on ${label}` : `Unused time on ${label}, less ${unusedCents - creditCents} refunded`;
  return { description, amount_cents: creditCents === 0 ? 0 : -creditCents };
}

/**
 * An upgrade's or interval switch's lines as its invoice is drafted (SPEC §4, §10): each unused-time credit
 * lowered to what unusedTimeCredit allows for `money`, the period in force as it stands now, so a refund recorded
 * after the workflow read the refunds (and before this draft) is not paid back a second time by the credit.
 * Never raised: the change was priced, and a switch's credits deducted, at the credit it read. Other lines as they are.
 */
export function repriceUnusedTime(lines: readonly InvoiceLine[], money: PeriodInForceMoney | null): InvoiceLine[] {
  return lines.map((line) => {
    const read = readUnusedTimeLine(line);
    if (!read) return line;
    const creditCents = Math.min(read.creditCents, unusedTimeCredit(read.unusedCents, money));
    return creditCents === read.creditCents ? line : unusedTimeLine(read.label, read.unusedCents, creditCents);
  });
}
