/**
 * Customer balance on an invoice (SPEC §4, §8): the balance pays what it can of a positive total, and a
 * negative total (credits above charges) adds to it. Integer cents; the one copy of this arithmetic, used
 * when an invoice is drafted and when a change is previewed.
 */
export function applyCustomerBalance(totalCents: number, balanceCents: number): { appliedCents: number; amountDueCents: number; balanceAfterCents: number } {
  const appliedCents = Math.min(balanceCents, Math.max(totalCents, 0));
  return {
    appliedCents,
    amountDueCents: Math.max(totalCents, 0) - appliedCents,
    balanceAfterCents: balanceCents - appliedCents + Math.max(-totalCents, 0),
  };
}
