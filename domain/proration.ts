/**
 * Proration in exact integer arithmetic on milliseconds (SPEC §4): money rounds half-up to the cent
 * per invoice line, credits round down. BigInt keeps amount × milliseconds exact at any size.
 */

export interface Fraction {
  remainingMs: number;
  totalMs: number;
}

/** The part of the period [start, end) still ahead at `at`, clamped to [0, 1]. */
export function remainingFraction(start: number, end: number, at: number): Fraction {
  const totalMs = end - start;
  return { remainingMs: Math.min(Math.max(end - at, 0), totalMs), totalMs };
}

/** round(amount × r), half away from zero, to the cent. */
export function prorateCents(amountCents: number, r: Fraction): number {
  const numerator = BigInt(Math.abs(amountCents)) * BigInt(r.remainingMs) * 2n + BigInt(r.totalMs);
  const rounded = Number(numerator / (2n * BigInt(r.totalMs)));
  return amountCents < 0 ? -rounded : rounded;
}

/** floor(credits × r) for a non-negative credit difference. */
export function prorateCredits(credits: number, r: Fraction): number {
  if (credits <= 0) return 0;
  return Number((BigInt(credits) * BigInt(r.remainingMs)) / BigInt(r.totalMs));
}

export interface InvoiceLine {
  description: string;
  amount_cents: number;
}

/** Upgrade invoice: credit for unused time on the old plan, charge for the remaining time on the new. */
export function upgradeLines(oldName: string, oldPriceCents: number, newName: string, newPriceCents: number, r: Fraction): InvoiceLine[] {
  return [
    { description: `Unused time on ${oldName}`, amount_cents: -prorateCents(oldPriceCents, r) },
    { description: `Remaining time on ${newName}`, amount_cents: prorateCents(newPriceCents, r) },
  ];
}

/** Interval switch invoice: credit for unused time of the old period, then the full new period. */
export function intervalSwitchLines(oldName: string, oldPriceCents: number, newName: string, newPriceCents: number, r: Fraction): InvoiceLine[] {
  return [
    { description: `Unused time on ${oldName}`, amount_cents: -prorateCents(oldPriceCents, r) },
    { description: newName, amount_cents: newPriceCents },
  ];
}
