import { describe, expect, it } from 'vitest';
import { PLANS } from '../../domain/catalog.js';
import { COST_TABLE, estimateCredits, MODEL_IDS } from '../../domain/costs.js';
import { pricingPage } from '../../api/pages/pricing.js';
import { preselectOf, preselectOfNext } from '../../api/pages/billing/subscribe-preselect.js';

/**
 * The pricing page's numbers come from the data (issue 13): its cost table lists every model of
 * domain/costs.ts at the price estimateCredits charges, each plan's "roughly N images / M videos" is
 * floor(credits / cost), and each plan card subscribes through /billing with the plan preselected.
 * Rendered by the page's own router (no stack needed: the page reads no state).
 */
async function html(): Promise<string> {
  const response = await pricingPage().request('/pricing');
  expect(response.status).toBe(200);
  return response.text();
}

/** The text of each cell of a table's body rows, by row id. */
function tableRows(page: string, tableId: string): Record<string, string[]> {
  const table = new RegExp(`<table id="${tableId}">([\\s\\S]*?)</table>`).exec(page)?.[1] ?? '';
  const body = /<tbody>([\s\S]*?)<\/tbody>/.exec(table)?.[1] ?? '';
  return Object.fromEntries([...body.matchAll(/<tr id="([^"]+)">([\s\S]*?)<\/tr>/g)].map((m) =>
    [m[1], [...m[2]!.matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((c) => c[1]!.replace(/<[^>]+>/g, '').trim())]));
}

const text = (page: string) => page.replace(/<[^>]+>/g, ' ').replace(/&amp;/g, '&').replace(/\s+/g, ' ');

describe('pricing page from the cost table and the catalog', () => {
  it('lists every model of the cost table with the credits estimateCredits charges', async () => {
    const page = await html();
    const images = tableRows(page, 'image-costs');
    const videos = tableRows(page, 'video-costs');
    expect(Object.keys({ ...images, ...videos }).sort()).toEqual(MODEL_IDS.map((m) => `cost-${m}`).sort());
    for (const [model, cost] of Object.entries(COST_TABLE)) {
      if (cost.kind === 'image') {
        const credits = (resolution: 'standard' | 'high') => (estimateCredits({ model, resolution }) as { credits: number }).credits;
        expect(images[`cost-${model}`]).toEqual([model, String(credits('standard')), String(credits('high'))]);
      } else {
        const tenSeconds = (estimateCredits({ model, duration_s: 10 }) as { credits: number }).credits;
        expect(videos[`cost-${model}`]).toEqual([model, (cost.tenthsPerSecond / 10).toFixed(1), String(tenSeconds)]);
      }
    }
    // The defaults of SPEC §3, as the customer reads them.
    expect(images['cost-imagen-3']).toEqual(['imagen-3', '2', '3']);
    expect(videos['cost-veo-2']).toEqual(['veo-2', '2.0', '20']);
    expect(videos['cost-kling-2']).toEqual(['kling-2', '1.2', '12']);
    expect(videos['cost-runway-gen4-turbo']).toEqual(['runway-gen4-turbo', '0.8', '8']);
    expect(text(page)).toContain('Imagen 3 portraits usually spend 2–3 credits, while a 10 second video can use 8–20 credits');
  });

  it('says what each plan buys, floor(credits / cost): Max is 133 high-resolution images, not 200', async () => {
    const page = await html();
    const expected: Record<string, [number, number, number]> = { plus: [50, 7, 18], max: [133, 20, 50], generative: [300, 45, 112], team: [2000, 300, 750] };
    for (const plan of PLANS) {
      const [images, premium, economy] = expected[plan.id]!;
      const card = new RegExp(`<section class="plan" id="plan-${plan.id}"[\\s\\S]*?</section>`).exec(page)![0];
      expect(card).toContain(`data-images="${images}" data-videos-min="${premium}" data-videos-max="${economy}"`);
      expect(text(card)).toContain(`roughly ${images.toLocaleString('en-US')} high-resolution images, or ${premium} to ${economy} ten-second videos`);
      expect(images * 3).toBeLessThanOrEqual(plan.monthlyCredits);
      expect((images + 1) * 3).toBeGreaterThan(plan.monthlyCredits);
    }
    const all = text(page);
    expect(all).not.toContain('200 high-end images');
    expect(all).not.toContain('120 short videos');
    expect(all).toContain('Max plan. With 400 credits you can generate roughly 133 high-resolution images, or 20 ten-second videos on veo-2 (50 on runway-gen4-turbo), per month. Buying a 500 credit pack drops the per-credit price by 18%.');
    expect(all).toContain('Generative plan. With 900 credits you can generate roughly 300 high-resolution images, or 45 ten-second videos on veo-2 (112 on runway-gen4-turbo)');
    expect(all).toContain('Team plan. With 6,000 credits you can generate roughly 2,000 high-resolution images, or 300 ten-second videos on veo-2 (750 on runway-gen4-turbo)');
  });

  it('gives each plan card a Subscribe per interval, to /billing with the plan preselected', async () => {
    const page = await html();
    for (const plan of PLANS) {
      const card = new RegExp(`<section class="plan" id="plan-${plan.id}"[\\s\\S]*?</section>`).exec(page)![0];
      const links = [...card.matchAll(/<a class="button primary" href="([^"]+)">([^<]+)<\/a>/g)].map((m) => [m[1]!.replace(/&amp;/g, '&'), m[2]]);
      expect(links).toEqual([
        [`/billing?plan=${plan.id}&interval=month#subscription`, `Subscribe to ${plan.name} monthly`],
        [`/billing?plan=${plan.id}&interval=year#subscription`, `Subscribe to ${plan.name} yearly`],
      ]);
    }
  });

  it('accepts only catalog plans and the two intervals as a preselection or a sign-in next', () => {
    expect(preselectOf('max', 'year')).toEqual({ plan: 'max', interval: 'year' });
    expect(preselectOf('max', 'week')).toBeUndefined();
    expect(preselectOf('gold', 'month')).toBeUndefined();
    expect(preselectOf(undefined, 'month')).toBeUndefined();
    expect(preselectOfNext('subscribe-team-month')).toEqual({ plan: 'team', interval: 'month' });
    expect(preselectOfNext('subscribe-gold-month')).toBeUndefined();
    expect(preselectOfNext('https://evil.example/')).toBeUndefined();
    expect(preselectOfNext('portal')).toBeUndefined();
  });
});
