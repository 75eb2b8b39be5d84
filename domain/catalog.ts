/** The default catalog (SPEC §1). Plans are data: rules read these fields, never branch on ids. */

export type Interval = 'month' | 'year';
export const INTERVALS: readonly Interval[] = ['month', 'year'];

export interface Plan {
  id: string;
  name: string;
  audience: string;
  tier: number; // upgrade/downgrade order
  monthlyCredits: number;
  customModelLimit: number;
  support: string;
  monthlyPriceCents: number;
  packDiscountPercent: number;
}

export interface PackSize {
  credits: number;
  priceCents: number; // before any plan discount
}

/** Yearly price = round(monthly × 12 × 0.6), i.e. 40% off twelve months, in exact integer arithmetic. */
export function yearlyPriceCents(monthlyPriceCents: number): number {
  return Math.floor((monthlyPriceCents * 12 * 6 + 5) / 10);
}

export function priceCents(plan: Plan, interval: Interval): number {
  return interval === 'month' ? plan.monthlyPriceCents : yearlyPriceCents(plan.monthlyPriceCents);
}

export const PLANS: readonly Plan[] = [
  { id: 'plus', name: 'Plus', audience: 'Independent creators', tier: 1, monthlyCredits: 150, customModelLimit: 1,
    support: 'email, 48 business hours', monthlyPriceCents: 1200, packDiscountPercent: 0 },
  { id: 'max', name: 'Max', audience: 'Heavy creators', tier: 2, monthlyCredits: 400, customModelLimit: 3,
    support: 'email, 24 business hours', monthlyPriceCents: 2900, packDiscountPercent: 20 },
  { id: 'generative', name: 'Generative', audience: 'Studios that scale', tier: 3, monthlyCredits: 900,
    customModelLimit: 10, support: 'priority, 8 business hours', monthlyPriceCents: 5900, packDiscountPercent: 20 },
  { id: 'team', name: 'Team', audience: 'Departments & agencies', tier: 4, monthlyCredits: 6000,
    customModelLimit: 50, support: 'dedicated manager, 4 business hours', monthlyPriceCents: 29900,
    packDiscountPercent: 20 },
];

export const PACKS: readonly PackSize[] = [
  { credits: 100, priceCents: 1000 },
  { credits: 500, priceCents: 4100 }, // 18% less per credit than the 100 pack
];

export const PLAN_IDS = PLANS.map((p) => p.id) as [string, ...string[]];

export function findPlan(id: string): Plan | undefined {
  return PLANS.find((p) => p.id === id);
}

/** A workspace on this plan is alerted when its balance falls below 10% of the monthly credits, rounded down. */
export function defaultLowBalanceThreshold(plan: Plan): number {
  return Math.floor(plan.monthlyCredits / 10);
}

export function planById(id: string): Plan {
  const plan = findPlan(id);
  if (!plan) throw new Error(`unknown plan ${id}`);
  return plan;
}

/** A pack's price for a workspace on `plan` (none: no discount), the tier discount rounded half-up to the cent. */
export function packPriceCents(pack: PackSize, plan: Plan | undefined): number {
  const percentToPay = 100 - (plan?.packDiscountPercent ?? 0);
  return Math.floor((pack.priceCents * percentToPay * 2 + 100) / 200);
}

/** The highest pack discount any plan gives, for the pricing page. */
export const BEST_PACK_DISCOUNT_PLAN = PLANS.reduce((best, p) => (p.packDiscountPercent > best.packDiscountPercent ? p : best));
