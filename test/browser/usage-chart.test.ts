import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, type Page } from 'playwright-core';
import { launchChromium } from '../helpers/browser.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PLANS } from '../../domain/catalog.js';
import { planEquivalents } from '../../domain/plan-equivalents.js';
import { ADMIN_KEY, advanceClock, apiClient, startStack } from '../helpers/stack.js';

/**
 * /billing's usage chart and the pricing page's Subscribe in headless Chromium (issue 13, SPEC §11), against
 * the whole product. A month of varied use on a test clock (four models, a failed creation, a pack, a
 * renewal): the chart's text alternative lists each day's credits by model and the balance at each day's end,
 * the bars, the balance line and the marks (next refresh, a lot's expiry) are drawn, and no script is needed.
 * Screenshots: test-results/usage-chart.png, usage-chart-empty.png, pricing-subscribe.png.
 */
const ARTIFACTS = join(process.cwd(), 'test-results');

describe('usage chart on /billing in headless Chromium', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  let browser: Browser;
  const operator = () => stack.api(ADMIN_KEY);

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    [stack, browser] = await Promise.all([
      startStack(),
      launchChromium(),
    ]);
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  async function workspace(name: string) {
    const clockId = (await operator().post('/v1/test-clocks', { frozen_time: '2026-01-01T00:00:00Z' })).body.id as string;
    const ws = await operator().post('/v1/workspaces', { name, test_clock_id: clockId });
    expect(ws.status).toBe(201);
    const key = ws.body.api_key as string;
    const customer = apiClient(stack.baseUrl, key);
    expect((await customer.put('/v1/payment-method', { payment_method: 'pm_card_visa' })).status).toBe(200);
    return { clockId, key, customer };
  }

  async function signIn(key: string, path = '/billing'): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 }, javaScriptEnabled: false });
    await page.goto(`${stack.baseUrl}${path}`);
    await page.getByLabel('Workspace key').fill(key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/billing(\?.*)?(#.*)?$/);
    return page;
  }

  /** Runs one creation to its end: quote, hold, then complete with `charged` credits or fail. */
  async function create(customer: ReturnType<typeof apiClient>, request: object, end: { charged: number } | 'fail') {
    const quote = await customer.post('/v1/credits/estimate', request);
    expect(quote.status).toBe(201);
    const creation = await customer.post('/v1/creations', { quote_id: quote.body.quote_id });
    expect(creation.status).toBe(201);
    const ended = end === 'fail'
      ? await customer.post(`/v1/creations/${creation.body.id}/fail`)
      : await customer.post(`/v1/creations/${creation.body.id}/complete`, { credits: end.charged });
    expect(ended.status).toBe(200);
  }

  /** The hidden table's rows: day → [credits per model column..., total, available]. */
  async function tableRows(page: Page): Promise<Record<string, string[]>> {
    const rows = page.locator('#usage-table tbody tr');
    const out: Record<string, string[]> = {};
    for (let i = 0; i < await rows.count(); i += 1) {
      const row = rows.nth(i);
      out[(await row.getAttribute('data-day'))!] = (await row.locator('td').allTextContents()).map((t) => t.trim());
    }
    return out;
  }

  it('charts a month of varied use: per-day totals by model, the closing balances, the next refresh and a lot\'s expiry', async () => {
    const { clockId, key, customer } = await workspace('Usage Studio');
    expect((await customer.post('/v1/subscription', { plan: 'max', interval: 'month' })).body.status).toBe('active');

    await advanceClock(operator(), clockId, '2026-01-03T10:00:00Z');
    await create(customer, { model: 'imagen-3', resolution: 'high', count: 2 }, { charged: 6 });
    await create(customer, { model: 'veo-2', duration_s: 10 }, { charged: 18 }); // quoted 20, charged the exact 18
    await advanceClock(operator(), clockId, '2026-01-05T15:00:00Z');
    await create(customer, { model: 'kling-2', duration_s: 10 }, 'fail'); // released: spends nothing
    await create(customer, { model: 'runway-gen4-turbo', duration_s: 10 }, { charged: 8 });
    await advanceClock(operator(), clockId, '2026-01-10T08:00:00Z');
    const pack = await customer.post('/v1/credit-packs', { size: 100 });
    expect([pack.status, pack.body.invoice.total_cents]).toEqual([201, 800]);
    await create(customer, { model: 'veo-2', duration_s: 5 }, { charged: 10 });
    await advanceClock(operator(), clockId, '2026-01-20T12:00:00Z');
    await create(customer, { model: 'imagen-3', count: 3 }, { charged: 6 });
    // The renewal on 31 January grants a second lot of 400; the first stays until 2 March (rollover).
    await advanceClock(operator(), clockId, '2026-02-01T12:00:00Z');
    await create(customer, { model: 'veo-2', duration_s: 10 }, { charged: 20 });
    await advanceClock(operator(), clockId, '2026-02-03T09:00:00Z');
    await create(customer, { model: 'kling-2', duration_s: 10 }, { charged: 12 });
    const credits = (await customer.get('/v1/credits')).body;
    expect(credits.available).toBe(400 + 100 + 400 - 80);

    const page = await signIn(key);
    await expect(page.locator('#balance-available').innerText()).resolves.toBe('820');
    const chart = page.locator('#usage-chart');
    expect(await chart.locator('svg').count()).toBe(1);
    expect(await page.locator('script').count()).toBe(0);

    // The text alternative: models in the cost table's order, each day up to today with its total and balance.
    const headers = (await page.locator('#usage-table thead th').allTextContents()).map((t) => t.trim());
    expect(headers).toEqual(['Day', 'imagen-3', 'veo-2', 'kling-2', 'runway-gen4-turbo', 'Total spent', 'Available at day\'s end']);
    const rows = await tableRows(page);
    expect(Object.keys(rows)).toHaveLength(34); // 1 January to 3 February: days still to come are not listed
    expect(rows['2026-01-01']).toEqual(['0', '0', '0', '0', '0', '400']);
    expect(rows['2026-01-03']).toEqual(['6', '18', '0', '0', '24', '376']);
    expect(rows['2026-01-05']).toEqual(['0', '0', '0', '8', '8', '368']); // the failed kling-2 creation spent nothing
    expect(rows['2026-01-10']).toEqual(['0', '10', '0', '0', '10', '458']); // + the 100 pack
    expect(rows['2026-01-20']).toEqual(['6', '0', '0', '0', '6', '452']);
    expect(rows['2026-01-31']).toEqual(['0', '0', '0', '0', '0', '852']); // the renewal's 400
    expect(rows['2026-02-01']).toEqual(['0', '20', '0', '0', '20', '832']);
    expect(rows['2026-02-03']).toEqual(['0', '0', '12', '0', '12', '820']); // today: the balance shown above
    const spent = Object.values(rows).reduce((sum, r) => sum + Number(r[4]), 0);
    expect(spent).toBe(80);
    expect(await chart.getAttribute('data-total')).toBe('80');

    // The SVG's own description: spend per period, per model, the balance now and the marks.
    const desc = await page.locator('#usage-chart-desc').textContent();
    expect(desc).toContain('Previous period (1 January 2026 to 31 January 2026): 48 credits spent.');
    expect(desc).toContain('Current period (31 January 2026 to 2 March 2026): 32 credits spent.');
    expect(desc).toContain('By model: imagen-3 12, veo-2 48, kling-2 12, runway-gen4-turbo 8.');
    expect(desc).toContain('Available now: 820 credits.');
    expect(desc).toContain('Next refresh on 2 March 2026.');
    expect(await page.locator('svg[role=img]').getAttribute('aria-labelledby')).toBe('usage-chart-title usage-chart-desc');

    // Bars: one per day and model with credits, stacked; the balance line; the marks.
    const bars = chart.locator('rect.bar');
    expect(await bars.count()).toBe(7);
    const jan3 = await chart.locator('rect.bar[data-day="2026-01-03"]').evaluateAll((rects) =>
      rects.map((r) => ({ model: r.getAttribute('data-model'), credits: r.getAttribute('data-credits'), y: Number(r.getAttribute('y')), h: Number(r.getAttribute('height')) })));
    expect(jan3.map((b) => [b.model, b.credits])).toEqual([['imagen-3', '6'], ['veo-2', '18']]);
    expect(jan3[0]!.y).toBeCloseTo(jan3[1]!.y + jan3[1]!.h, 6); // veo-2 sits on imagen-3
    expect(jan3[1]!.h / jan3[0]!.h).toBeCloseTo(3, 6); // 18 credits are three times 6
    expect(await chart.locator('path.balance-line').getAttribute('d')).toMatch(/^M[\d.]+,[\d.]+(L[\d.]+,[\d.]+){33}$/);
    expect(await chart.locator('g.mark-refresh').count()).toBe(1);
    expect(await chart.locator('g.mark-expiry').count()).toBe(1);
    // The January lot's 320 unspent credits expire at the next refresh, 2 March: one line, both labels.
    const januaryLot = credits.lots.find((l: { source: string; granted_at: string }) => l.source === 'monthly' && l.granted_at.startsWith('2026-01-01'));
    expect(januaryLot).toMatchObject({ remaining: 320, expires_at: '2026-03-02T00:00:00.000Z' });
    expect(await chart.locator('g.mark text').allTextContents()).toEqual([`Next refresh · 320 credits expire (${januaryLot.id})`]);
    const marks = (await page.locator('#usage-marks li').allTextContents()).map((t) => t.trim());
    // In text, every live lot's expiry, also the February lot's after the chart's end; the pack never expires.
    const februaryLot = credits.lots.find((l: { source: string; granted_at: string }) => l.source === 'monthly' && l.granted_at.startsWith('2026-01-31'));
    expect(februaryLot).toMatchObject({ remaining: 400, expires_at: '2026-04-01T00:00:00.000Z' });
    expect(marks).toEqual([
      'Next refresh: 2 March 2026',
      `320 credits expire (${januaryLot.id}): 2 March 2026`,
      `400 credits expire (${februaryLot.id}): 1 April 2026`,
    ]);

    await page.locator('#usage').scrollIntoViewIfNeeded();
    await chart.screenshot({ path: join(ARTIFACTS, 'usage-chart.png') });
    await page.close();
  });

  it('shows an empty chart, saying so, for a workspace that has spent nothing', async () => {
    const { key, customer } = await workspace('Quiet Studio');
    expect((await customer.post('/v1/subscription', { plan: 'plus', interval: 'month' })).body.status).toBe('active');
    const page = await signIn(key);
    await expect(page.locator('#usage-empty').innerText()).resolves.toContain('No credits spent in these periods yet');
    expect(await page.locator('#usage-chart rect.bar').count()).toBe(0);
    expect(await page.locator('#usage-chart').getAttribute('data-total')).toBe('0');
    expect(Object.values(await tableRows(page))).toEqual([['0', '150']]); // today only: no model columns
    expect(await page.locator('#usage-chart g.mark-refresh').count()).toBe(1);
    await page.locator('#usage-chart').screenshot({ path: join(ARTIFACTS, 'usage-chart-empty.png') });

    // A pricing page Subscribe while subscribed says where the chosen plan is found; nothing else changes.
    await page.goto(`${stack.baseUrl}/billing?plan=max&interval=month`);
    await expect(page.locator('#preselect-hint').innerText()).resolves.toBe(
      'You chose Max on the pricing page. You already have Plus: change your plan below; you see the amount before anything is charged.');
    await page.goto(`${stack.baseUrl}/billing?plan=plus&interval=year`);
    expect(await page.locator('#preselect-hint').innerText()).toContain('Switch the billing frequency below.');
    await page.goto(`${stack.baseUrl}/billing?plan=gold&interval=month`);
    expect(await page.locator('#preselect-hint').count()).toBe(0);
    await page.close();
  });

  it('subscribes from a pricing plan card: sign-in, then /billing with the plan and interval preselected', async () => {
    const { key } = await workspace('New Studio');
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 }, javaScriptEnabled: false });
    await page.goto(`${stack.baseUrl}/pricing`);
    // The cards' equivalents are the cost table's: Max's 400 credits are 133 high-resolution images.
    for (const plan of PLANS) {
      const eq = planEquivalents(plan);
      const span = page.locator(`#plan-${plan.id} .equivalents`);
      expect(await span.getAttribute('data-images')).toBe(String(eq.highResImages.count));
    }
    expect(await page.locator('#plan-max .equivalents').innerText()).toContain('roughly 133 high-resolution images, or 20 to 50 ten-second videos');
    await page.locator('label[for=show-year]').click();
    await page.screenshot({ path: join(ARTIFACTS, 'pricing-subscribe.png'), fullPage: true });
    await page.getByRole('link', { name: 'Subscribe to Max yearly' }).click();
    await page.waitForURL(/\/billing\/sign-in\?next=/);
    await page.getByLabel('Workspace key').fill(key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/billing\?plan=max&interval=year/);
    await expect(page.locator('#subscribe-plan').inputValue()).resolves.toBe('max');
    await expect(page.locator('#subscribe-interval').inputValue()).resolves.toBe('year');
    // The subscribe form's first step shows the amount; nothing is charged before it is confirmed.
    await page.getByRole('button', { name: 'Subscribe' }).click();
    await page.locator('#confirm').waitFor();
    expect(await page.locator('main').innerText()).toContain('$208.80');
    await page.close();
  });
});
