import { describe, expect, it } from 'vitest';
import { PLANS, planById } from '../../domain/catalog.js';
import { COST_TABLE, estimateCredits } from '../../domain/costs.js';
import { creditRange, modelCostRows, planEquivalents } from '../../domain/plan-equivalents.js';

/**
 * The pricing page's "roughly N images / M videos" (issue 13): counts are floor(monthly credits / the cost of
 * one creation), the cost read from the cost table, so the page never promises more than the spend path
 * charges (the seed's "200 high-end images" for Max is 133 at 3 credits an image).
 */
describe('plan equivalents', () => {
  it.each([
    // plan, high-res images (3), standard images (2), 10 s veo-2 videos (20), 10 s runway-gen4-turbo videos (8)
    ['plus', 50, 75, 7, 18],
    ['max', 133, 200, 20, 50],
    ['generative', 300, 450, 45, 112],
    ['team', 2000, 3000, 300, 750],
  ])('%s buys %i high-res images, %i standard, %i premium and %i economy 10 s videos', (planId, high, standard, premium, economy) => {
    const eq = planEquivalents(planById(planId));
    expect(eq.highResImages).toEqual({ model: 'imagen-3', creditsEach: 3, count: high });
    expect(eq.standardImages).toEqual({ model: 'imagen-3', creditsEach: 2, count: standard });
    expect(eq.premiumVideos).toEqual({ model: 'veo-2', creditsEach: 20, count: premium });
    expect(eq.economyVideos).toEqual({ model: 'runway-gen4-turbo', creditsEach: 8, count: economy });
  });

  it('never promises more creations than the credits pay for, nor one fewer (every plan, every kind)', () => {
    for (const plan of PLANS) {
      const eq = planEquivalents(plan);
      for (const e of [eq.highResImages, eq.standardImages, eq.premiumVideos, eq.economyVideos]) {
        expect(e.count * e.creditsEach).toBeLessThanOrEqual(plan.monthlyCredits);
        expect((e.count + 1) * e.creditsEach).toBeGreaterThan(plan.monthlyCredits);
      }
    }
  });

  it('lists every model of the cost table with the prices estimateCredits charges', () => {
    const rows = modelCostRows();
    expect(rows.map((r) => r.model)).toEqual(Object.keys(COST_TABLE));
    expect(rows).toEqual([
      { model: 'imagen-3', kind: 'image', perImage: { standard: 2, high: 3 } },
      { model: 'veo-2', kind: 'video', perSecond: '2.0', referenceVideo: 20 },
      { model: 'kling-2', kind: 'video', perSecond: '1.2', referenceVideo: 12 },
      { model: 'runway-gen4-turbo', kind: 'video', perSecond: '0.8', referenceVideo: 8 },
    ]);
    for (const row of rows.filter((r) => r.kind === 'video')) {
      expect(estimateCredits({ model: row.model, duration_s: 10 })).toEqual({ ok: true, credits: row.referenceVideo });
    }
  });

  it('gives the ranges the page quotes: images 2–3 credits, a 10 s video 8–20', () => {
    expect(creditRange('image')).toEqual({ min: 2, max: 3 });
    expect(creditRange('video')).toEqual({ min: 8, max: 20 });
  });
});
