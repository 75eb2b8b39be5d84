import { describe, expect, it } from 'vitest';
import { PACKS, type PackSize, packPriceCents, PLANS, priceCents, yearlyPriceCents } from '../../domain/catalog.js';

describe('catalog', () => {
  it('prices every plan per SPEC §1: yearly = round(monthly × 12 × 0.6)', () => {
    expect(PLANS.map((p) => [p.id, p.monthlyCredits, priceCents(p, 'month'), priceCents(p, 'year')])).toEqual([
      ['plus', 150, 1200, 8640], ['max', 400, 2900, 20880], ['generative', 900, 5900, 42480], ['team', 6000, 29900, 215280],
    ]);
  });

  it('rounds half up to the cent', () => {
    expect(yearlyPriceCents(1)).toBe(7); // 7.2
    expect(yearlyPriceCents(5)).toBe(36); // 36.0
    expect(yearlyPriceCents(3)).toBe(22); // 21.6
    expect(yearlyPriceCents(625)).toBe(4500);
  });

  it('orders tiers plus < max < generative < team and lists both pack sizes', () => {
    expect(PLANS.map((p) => p.tier)).toEqual([1, 2, 3, 4]);
    expect(PACKS).toEqual([{ credits: 100, priceCents: 1000 }, { credits: 500, priceCents: 4100 }]);
  });
});

describe('pack prices', () => {
  it('gives Max, Generative and Team 20% off every pack, Plus none (SPEC §1)', () => {
    const [hundred, fiveHundred] = PACKS as [PackSize, PackSize];
    expect(PLANS.map((p) => [p.id, packPriceCents(hundred, p), packPriceCents(fiveHundred, p)])).toEqual([
      ['plus', 1000, 4100], ['max', 800, 3280], ['generative', 800, 3280], ['team', 800, 3280],
    ]);
    expect(packPriceCents(hundred, undefined)).toBe(1000);
  });

  it('rounds a fractional discounted price half up', () => {
    const discounted = { ...PLANS[1]!, packDiscountPercent: 15 };
    expect(packPriceCents({ credits: 1, priceCents: 10 }, discounted)).toBe(9); // 8.5 → 9
    expect(packPriceCents({ credits: 1, priceCents: 13 }, discounted)).toBe(11); // 11.05 → 11
  });
});
