/**
 * Which paid invoice an upgrade's or interval switch's "Unused time on …" credit gives back (SPEC §4, §10),
 * pure and in integer cents. Invoices do not record the coverage of their lines, so the link is derived:
 * a change credits the unused rest of the period in force when it is made, and the period in force is the
 * one the subscription's latest paid invoice before it paid for (its first charge or renewal, or the
 * "Remaining time on NEW" / new period of an earlier upgrade or switch: changes apply only once paid, and
 * a later renewal starts a new period). So the credit belongs to that invoice, up to its total; what goes
 * beyond (a change invoice whose own total was lowered by its unused-time credit) belongs, as that credit
 * did, to the invoice before it, and so on. A refund of an invoice may then give back only what it was paid
 * less what later invoices already credited for its time (else the unused time is paid back twice: by the
 * card refund and by the customer balance or a lower charge).
 */
import type { InvoiceLine } from '../proration.js';

/** A paid invoice of one subscription, as the ledger has it. */
export interface PaidSubscriptionInvoice {
  id: string;
  /** Human number (PREFIX-YEAR-NNNNNN), null for invoices finalized before numbers existed. */
  number: string | null;
  kind: 'subscription' | 'upgrade' | 'interval_switch';
  /** What it was paid (card + customer balance); ≤ 0 for a switch whose credit exceeded its charge. */
  totalCents: number;
  lines: InvoiceLine[];
  /** Its credit notes so far (refunds, lost disputes), cents; absent: 0. A credit never takes what was refunded. */
  refundedCents?: number;
}

/** One later invoice's unused-time credit, or the part of it, that gave back time an invoice paid for. */
export interface ProrationCredit {
  invoiceId: string;
  number: string | null;
  cents: number;
}

/** What later invoices credited for an invoice's time: `cents` in all, and by which invoice. */
export interface CreditedByProration {
  cents: number;
  by: ProrationCredit[];
}

/**
 * The unused-time credit line of upgradeLines / intervalSwitchLines (domain/proration.ts): negative,
 * "Unused time on OLD". The test of this module builds those lines, so a renamed line fails there.
 */
export function isUnusedTimeLine(line: InvoiceLine): boolean {
  return line.amount_cents < 0 && line.description.startsWith('Unused time on ');
}

/** Cents an invoice's unused-time lines credit back (≥ 0). */
export function unusedTimeCreditCents(lines: InvoiceLine[]): number {
  return lines.filter(isUnusedTimeLine).reduce((sum, line) => sum - line.amount_cents, 0);
}

/**
 * For each paid invoice of one subscription, what the unused-time credits of later paid invoices gave back
 * of the time it paid for. `invoices`: the subscription's paid invoices in creation order (seq). Each
 * credit goes to the invoice in force before it (the latest earlier one), at most its total less what
 * earlier credits took; beyond that, only when that invoice is itself an upgrade or switch (its time was
 * partly paid by its own unused-time credit), to the invoice in force before it. A renewal's or first
 * charge's total always covers a credit of its own period. Invoices absent from the map were credited nothing.
 */
export function prorationCredits(invoices: readonly PaidSubscriptionInvoice[]): Map<string, CreditedByProration> {
  const credited = new Map<string, CreditedByProration>();
  const before = new Map<string, PaidSubscriptionInvoice | undefined>();
  let inForce: PaidSubscriptionInvoice | undefined;
  for (const invoice of invoices) {
    before.set(invoice.id, inForce);
    let left = invoice.kind === 'subscription' ? 0 : unusedTimeCreditCents(invoice.lines);
    for (let payer = inForce; left > 0 && payer; payer = payer.kind === 'subscription' ? undefined : before.get(payer.id)) {
      const so = credited.get(payer.id) ?? { cents: 0, by: [] };
      const take = Math.min(left, Math.max(0, payer.totalCents - (payer.refundedCents ?? 0) - so.cents));
      if (take > 0) credited.set(payer.id, { cents: so.cents + take, by: [...so.by, { invoiceId: invoice.id, number: invoice.number, cents: take }] });
      left -= take;
    }
    inForce = invoice;
  }
  return credited;
}
