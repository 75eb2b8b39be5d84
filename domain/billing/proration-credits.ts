/**
 * Which paid invoice an upgrade's or interval switch's "Unused time on …" credit gives back (SPEC §4, §10),
 * pure and in integer cents. Invoices do not record the coverage of their lines, so the link is derived:
 * a change credits the unused rest of the period in force when it is made, and the period in force is the
 * one the subscription's latest paid invoice before it paid for (its first charge or renewal, or the
 * "Remaining time on NEW" / new period of an earlier upgrade or switch: changes apply only once paid, and
 * a later renewal starts a new period).
 *
 * A change invoice's period was paid by its total and by its own unused-time credit (money that moved in from
 * the period before, already counted as given back there). So a later credit is absorbed by that period up to
 * its capacity, total + moved in − notes − credits it already absorbed, taking the moved-in money first: only
 * the part beyond the moved-in money gave back the invoice's own payment. What exceeds the capacity (a credit
 * not lowered for refunds, a refund recorded in full at the provider afterwards) passes, as its credit did,
 * to the invoice before it, and so on; a first charge or renewal passes nothing on. A refund of an invoice may
 * then give back only what it was paid less what later credits already gave back of its own payment (else
 * the unused time is paid back twice: by the card refund and by the customer balance or a lower charge).
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

/** What later credits took from one invoice's period (prorationAttributions). */
export interface PeriodCredits {
  /** All they took, moved-in money included; `cents` ≤ the invoice's periodCapacityCents. */
  absorbed: CreditedByProration;
  /** The part that gave back the invoice's own payment (beyond its moved-in money): its refund cap's figure. */
  own: CreditedByProration;
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
 * Cents an invoice's period holds for later credits: total + its own unused-time credit (moved in; 0 for a
 * first charge or renewal) − its credit notes, ≥ 0. For a switch whose total is negative this is the price
 * of its new period (what the credit paid for; the rest went to the customer balance).
 */
export function periodCapacityCents(invoice: PaidSubscriptionInvoice): number {
  const movedIn = invoice.kind === 'subscription' ? 0 : unusedTimeCreditCents(invoice.lines);
  return Math.max(0, invoice.totalCents + movedIn - (invoice.refundedCents ?? 0));
}

/**
 * Cents of the period's capacity that are moved-in money (earlier invoices' payment, already counted as given
 * back there), the rest being the invoice's own payment less its notes: max(0, capacity − (total − notes)).
 */
export function movedInCapacityCents(invoice: PaidSubscriptionInvoice): number {
  return Math.max(0, periodCapacityCents(invoice) - Math.max(0, invoice.totalCents - (invoice.refundedCents ?? 0)));
}

const add = (so: CreditedByProration, by: PaidSubscriptionInvoice, cents: number): CreditedByProration =>
  ({ cents: so.cents + cents, by: [...so.by, { invoiceId: by.id, number: by.number, cents }] });

/**
 * For each paid invoice of one subscription, what the unused-time credits of later paid invoices took from its
 * period (`absorbed`) and, of that, from its own payment (`own`). `invoices`: the subscription's paid invoices
 * in creation order (seq). Each credit goes to the invoice in force before it (the latest earlier one), up to
 * its periodCapacityCents less what earlier credits took; beyond that, only when that invoice is itself an
 * upgrade or switch, to the invoice in force before it. Within a period the moved-in money goes first.
 * Invoices absent from the map were credited nothing.
 */
export function prorationAttributions(invoices: readonly PaidSubscriptionInvoice[]): Map<string, PeriodCredits> {
  const periods = new Map<string, PeriodCredits>();
  const before = new Map<string, PaidSubscriptionInvoice | undefined>();
  let inForce: PaidSubscriptionInvoice | undefined;
  for (const invoice of invoices) {
    before.set(invoice.id, inForce);
    let left = invoice.kind === 'subscription' ? 0 : unusedTimeCreditCents(invoice.lines);
    for (let payer = inForce; left > 0 && payer; payer = payer.kind === 'subscription' ? undefined : before.get(payer.id)) {
      const so = periods.get(payer.id) ?? { absorbed: { cents: 0, by: [] }, own: { cents: 0, by: [] } };
      const take = Math.min(left, Math.max(0, periodCapacityCents(payer) - so.absorbed.cents));
      if (take > 0) {
        const movedIn = movedInCapacityCents(payer);
        const own = Math.max(0, so.absorbed.cents + take - movedIn) - Math.max(0, so.absorbed.cents - movedIn);
        periods.set(payer.id, { absorbed: add(so.absorbed, invoice, take), own: own > 0 ? add(so.own, invoice, own) : so.own });
      }
      left -= take;
    }
    inForce = invoice;
  }
  return periods;
}

/**
 * For each paid invoice of one subscription, what the unused-time credits of later paid invoices gave back of
 * the payment it received (prorationAttributions' `own`): a refund's cap (total − notes − this, refunds.ts
 * refundableCents) and a bank-side return's take-back (lost-dispute-takeback.ts) read it. `invoices` as for
 * prorationAttributions. Invoices absent from the map were credited nothing of their own payment.
 */
export function prorationCredits(invoices: readonly PaidSubscriptionInvoice[]): Map<string, CreditedByProration> {
  const credited = new Map<string, CreditedByProration>();
  for (const [id, period] of prorationAttributions(invoices)) if (period.own.cents > 0) credited.set(id, period.own);
  return credited;
}
