import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, type Page } from 'playwright-core';
import { launchChromium } from '../helpers/browser.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAutoTopUps } from '../../worker/auto-top-up.js';
import { ADMIN_KEY, apiClient, startStack } from '../helpers/stack.js';
import { eventually } from '../helpers/temporal.js';

/**
 * The automatic top-up form on /billing (SPEC §11) in headless Chromium, no JavaScript: saving it with the
 * session's CSRF token sets what PUT /v1/auto-top-up sets; a monthly limit below one pack's price is refused
 * with a notice and nothing saved; a bought top-up is listed. Screenshot: test-results/auto-top-up.png.
 */
const ARTIFACTS = join(process.cwd(), 'test-results');

describe('automatic top-up on /billing in headless Chromium', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  let browser: Browser;
  let stopTopUps: () => Promise<void>;

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    [stack, browser] = await Promise.all([
      startStack(),
      launchChromium(),
    ]);
    stopTopUps = startAutoTopUps({ sql: stack.sql, payments: stack.payments }, 100);
  });
  afterAll(async () => {
    await stopTopUps?.();
    await browser?.close();
    await stack?.stop();
  });

  async function signIn(key: string): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1100, height: 1400 }, javaScriptEnabled: false });
    await page.goto(`${stack.baseUrl}/billing`);
    await page.getByLabel('Workspace key').fill(key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/billing(\?.*)?(#.*)?$/);
    return page;
  }

  it('saves the setting from the form, refuses a limit below one pack, and lists a bought top-up', async () => {
    const operator = stack.api(ADMIN_KEY);
    const clockId = (await operator.post('/v1/test-clocks', { frozen_time: '2026-01-01T00:00:00Z' })).body.id as string;
    const ws = await operator.post('/v1/workspaces', { name: 'Top-up studio', test_clock_id: clockId });
    const customer = apiClient(stack.baseUrl, ws.body.api_key);
    await customer.put('/v1/payment-method', { payment_method: 'pm_card_visa' });
    expect((await customer.post('/v1/subscription', { plan: 'max', interval: 'month' })).body.status).toBe('active');

    const page = await signIn(ws.body.api_key);
    await expect(page.locator('#auto-top-up-state').textContent()).resolves.toContain('Off: never set up.');
    const form = page.locator('#auto-top-up-form');
    await form.getByLabel('Buy credits automatically').check();
    await form.getByLabel('When available credits drop below').fill('100');
    await form.getByLabel('Buy', { exact: true }).selectOption('500');
    await form.getByLabel('Monthly limit (USD)').fill('20');
    await form.getByRole('button', { name: 'Save automatic top-up' }).click();
    await page.waitForURL(/\/billing/);
    // $20 is below a 500-credit pack at Max's price ($32.80): nothing saved.
    await expect(page.locator('#notice').textContent()).resolves.toContain('Nothing was saved');
    expect((await customer.get('/v1/auto-top-up')).body.configured).toBe(false);

    await form.getByLabel('Buy credits automatically').check();
    await form.getByLabel('When available credits drop below').fill('100');
    await form.getByLabel('Buy', { exact: true }).selectOption('500');
    await form.getByLabel('Monthly limit (USD)').fill('65.60');
    await form.getByRole('button', { name: 'Save automatic top-up' }).click();
    await page.waitForURL(/\/billing/);
    await expect(page.locator('#notice').textContent()).resolves.toContain('Automatic top-up is on: below 100 credits we buy 500 credits.');
    expect((await customer.get('/v1/auto-top-up')).body).toMatchObject({ enabled: true, threshold: 100, pack: 500, monthly_limit_cents: 6560 });

    // A refused hold crosses: the worker buys 500 credits; the page lists it.
    const quote = await customer.post('/v1/credits/estimate', { model: 'veo-2', duration_s: 300 });
    expect((await customer.post('/v1/creations', { quote_id: quote.body.quote_id })).body.top_up_pending).toBe(true);
    await eventually(() => customer.get('/v1/auto-top-up'), (r) => r.body.top_ups[0]?.status === 'paid');
    await page.reload(); // the page is /billing already: a fragment alone would not load it again
    await expect(page.locator('#auto-top-ups tbody tr').first().getAttribute('data-status')).resolves.toBe('paid');
    await expect(page.locator('#auto-top-up-state').textContent()).resolves.toContain('This month: $32.80 of $65.60 (1 top-up).');
    await page.locator('#auto-top-up').scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(ARTIFACTS, 'auto-top-up.png'), fullPage: true });
  });
});
