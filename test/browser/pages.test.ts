import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { launchChromium } from '../helpers/browser.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, advanceClock, apiClient, startStack } from '../helpers/stack.js';

/**
 * The customer pages in a real browser: Debian's Chromium, headless, driven by playwright-core, against
 * the whole product (Temporal dev server, worker, API, Postgres). Screenshots go to test-results/.
 */
const ARTIFACTS = join(process.cwd(), 'test-results');

describe('pricing and billing pages in headless Chromium', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  let browser: Browser;
  let customer: ReturnType<typeof apiClient>;
  let key: string;

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    [stack, browser] = await Promise.all([
      startStack(),
      launchChromium(),
    ]);
    const operator = stack.api(ADMIN_KEY);
    const clock = (await operator.post('/v1/test-clocks', { frozen_time: '2026-01-01T00:00:00Z' })).body;
    const workspace = await operator.post('/v1/workspaces', { name: 'Northwind Studio', test_clock_id: clock.id });
    expect(workspace.status).toBe(201);
    key = workspace.body.api_key;
    customer = stack.api(key);
    expect((await customer.put('/v1/payment-method', { payment_method: 'pm_card_visa' })).status).toBe(200);
    const subscription = await customer.post('/v1/subscription', { plan: 'max', interval: 'month' });
    expect(subscription.body.status).toBe('active');
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  async function signedIn(as = key): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
    const page = await context.newPage();
    await page.goto(`${stack.baseUrl}/billing`);
    await page.waitForURL(/\/billing\/sign-in$/);
    await page.getByLabel('Workspace key').fill(as);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/billing$/);
    return { context, page };
  }

  it('shows the four plans with monthly and yearly prices, the 40% saving and the pack prices', async () => {
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    await page.goto(`${stack.baseUrl}/pricing`);
    await expect(page.locator('h1').textContent()).resolves.toBe('Pricing & billing');

    const plans = page.locator('.plan h3');
    expect(await plans.allTextContents()).toEqual(['Plus', 'Max', 'Generative', 'Team']);
    const max = page.locator('#plan-max');
    await expect(max.locator('.monthly .figure').innerText()).resolves.toBe('$29.00 / month');
    expect(await max.locator('.yearly').isVisible()).toBe(false);
    expect(await page.locator('.toggle').innerText()).toContain('save 40%');

    // The toggle is CSS only (two radio buttons): switching shows the yearly prices.
    await page.locator('label[for=show-year]').click();
    await max.locator('.yearly').waitFor({ state: 'visible' });
    expect(await max.locator('.monthly').isVisible()).toBe(false);
    await expect(max.locator('.yearly .figure').innerText()).resolves.toBe('$208.80 / year');
    await expect(max.locator('.yearly .muted').innerText()).resolves.toBe('$17.40 a month; you save $139.20 (40%)');
    await expect(page.locator('#plan-team .yearly .figure').innerText()).resolves.toBe('$2,152.80 / year');

    // Packs: list price, 18% less per credit for 500, and the 20% tier discount.
    const packs = page.locator('#packs');
    expect(await packs.locator('thead').innerText()).toContain('Max, Generative, Team (20% off)');
    expect((await packs.locator('#pack-100 td').allInnerTexts()).map((t) => t.trim())).toEqual(['100 credits', '$10.00', '$8.00']);
    expect((await packs.locator('#pack-500 td').allInnerTexts()).map((t) => t.trim()))
      .toEqual(['500 credits · 18% less per credit', '$41.00', '$32.80']);

    // The long-form sections of the seed page.
    const headings = await page.locator('h2').allTextContents();
    expect(headings).toEqual(['Plans', 'Credits 101', 'Billing & payments', 'Manage your subscription', 'Pricing FAQ']);
    expect(await page.locator('#faq ~ details summary').count()).toBeGreaterThanOrEqual(4);
    expect(await page.getByText('Average response time: under 24 business hours.').count()).toBe(1);

    await page.screenshot({ path: join(ARTIFACTS, 'pricing.png'), fullPage: true });

    // Its "Manage subscription" button opens the portal in a new tab, through sign-in when needed.
    const [tab] = await Promise.all([page.context().waitForEvent('page'), page.locator('#manage-subscription').click()]);
    await tab.waitForURL(/\/billing\/sign-in\?next=portal$/);
    await tab.getByLabel('Workspace key').fill(key);
    await tab.getByRole('button', { name: 'Sign in' }).click();
    await tab.waitForURL(/\/sandbox\/portal$/);
    expect(await tab.locator('#return').getAttribute('href')).toBe('/pricing');
    await page.context().close();
  });

  it('signs in, reads the balance and lot expiry, buys a pack, schedules and withdraws a downgrade, opens the portal', async () => {
    // A wrong key is refused on the page.
    const stranger = await browser.newPage();
    await stranger.goto(`${stack.baseUrl}/billing/sign-in`);
    await stranger.getByLabel('Workspace key').fill('sk_ws_not-a-key');
    await stranger.getByRole('button', { name: 'Sign in' }).click();
    await expect(stranger.locator('#notice').innerText()).resolves.toContain('does not open a workspace');
    await stranger.close();

    const { context, page } = await signedIn();
    const cookie = (await context.cookies()).find((c) => c.name === 'billing_session');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/billing' });

    await expect(page.locator('#workspace-name').innerText()).resolves.toBe('Northwind Studio');
    await expect(page.locator('#plan-name').innerText()).resolves.toBe('Max');
    await expect(page.locator('#status').innerText()).resolves.toBe('Active');
    expect(await page.locator('#next-renewal').innerText()).toContain('31 January 2026, $29.00');

    // Balance and the lot's expiry (SPEC example 1: the first lot expires 2026-03-02).
    await expect(page.locator('#balance-available').innerText()).resolves.toBe('400');
    const firstLot = page.locator('#lots tbody tr').first();
    expect(await firstLot.getAttribute('data-source')).toBe('monthly');
    const expiry = firstLot.locator('td.expires time');
    await expect(expiry.getAttribute('datetime')).resolves.toBe('2026-03-02T00:00:00.000Z');
    await expect(expiry.innerText()).resolves.toBe('2 March 2026');

    // Buy a 100 pack: Max's 20% discount, confirmed, delivered at once, invoiced with a PDF link.
    await page.getByRole('button', { name: 'Buy 100 credits ($8.00)' }).click();
    await page.locator('#confirm').click();
    await page.locator('#notice').waitFor();
    await expect(page.locator('#notice').innerText()).resolves.toBe('100 credits were added to your balance ($8.00).');
    await expect(page.locator('#balance-available').innerText()).resolves.toBe('500');
    const packLot = page.locator('#lots tbody tr[data-source=pack]');
    await expect(packLot.locator('td.expires').innerText()).resolves.toBe('Never');
    const packInvoice = page.locator('#invoice-rows tbody tr[data-kind=pack]');
    expect(await packInvoice.count()).toBe(1);
    expect(await packInvoice.innerText()).toContain('$8.00');
    expect(await packInvoice.locator('a.pdf').getAttribute('href')).toMatch(/\/sandbox\/invoices\/in_[^/]+\/pdf$/);
    expect((await customer.get('/v1/credits')).body.available).toBe(500);

    // Schedule a downgrade to Plus: shown with its date; then withdraw it.
    await page.getByRole('button', { name: 'Downgrade to Plus' }).click();
    await expect(page.locator('#confirm-renewal').innerText()).resolves.toContain('From 31 January 2026 you pay $12.00 a month for Plus');
    await page.getByRole('button', { name: 'Confirm the downgrade' }).click();
    await page.locator('#scheduled-change').waitFor();
    await expect(page.locator('#notice').innerText()).resolves.toContain('Your plan changes to Plus on 31 January 2026');
    const scheduled = await page.locator('#scheduled-change').innerText();
    expect(scheduled).toContain('Changes to Plus on 31 January 2026');
    await expect(page.locator('#plan-name').innerText()).resolves.toBe('Max');
    expect((await customer.get('/v1/subscription')).body.scheduled_change).toEqual({ plan: 'plus', effective_at: '2026-01-31T00:00:00.000Z' });

    await page.getByRole('button', { name: 'Withdraw the change' }).click();
    await page.locator('#notice').filter({ hasText: 'withdrawn' }).waitFor();
    expect(await page.locator('#scheduled-change').count()).toBe(0);
    expect((await customer.get('/v1/subscription')).body.scheduled_change).toBeNull();

    // A refusal by the workflow becomes a notice, not an error page: withdrawing a change that is gone
    // (a stale tab's form, posted with this session's token).
    const token = await page.locator('form[action="/billing/packs"] input[name=_csrf]').first().inputValue();
    await page.evaluate((csrfToken) => {
      const form = Object.assign(document.createElement('form'), { method: 'post', action: '/billing/withdraw-change' });
      form.append(Object.assign(document.createElement('input'), { type: 'hidden', name: '_csrf', value: csrfToken }));
      document.body.append(form);
      form.submit();
    }, token);
    await page.locator('#notice.error').waitFor();
    await expect(page.locator('#notice').innerText()).resolves.toBe('That did not go through: no change is scheduled.');

    // Pause for a cycle from the period end, then withdraw the pause.
    await page.getByRole('button', { name: 'Pause', exact: true }).click();
    await expect(page.locator('#confirm-effect').innerText()).resolves.toContain('From 31 January 2026 until 2 March 2026: no charges');
    await page.getByRole('button', { name: 'Confirm the pause' }).click();
    await page.locator('#notice').filter({ hasText: 'pauses on 31 January 2026' }).waitFor();
    await page.getByRole('button', { name: 'Withdraw the pause' }).click();
    await page.locator('#notice').filter({ hasText: 'continues' }).waitFor();
    expect((await customer.get('/v1/subscription')).body.pause).toBeNull();

    // "Manage subscription" opens the portal in a new tab; its link returns to /pricing.
    const link = page.locator('#manage-subscription');
    expect(await link.getAttribute('target')).toBe('_blank');
    expect(await link.getAttribute('rel')).toBe('noopener');
    const [portal] = await Promise.all([context.waitForEvent('page'), link.click()]);
    await portal.waitForURL(/\/sandbox\/portal$/);
    await expect(portal.locator('h1').innerText()).resolves.toBe('Billing portal');
    await portal.locator('#return').click();
    await portal.waitForURL(/\/pricing$/);
    await expect(portal.locator('h1').innerText()).resolves.toBe('Pricing & billing');

    // Creations with quoted vs charged credits, and credits held by one still running.
    const quote = (await customer.post('/v1/credits/estimate', { model: 'veo-2', duration_s: 5 })).body;
    const finished = (await customer.post('/v1/creations', { quote_id: quote.quote_id })).body;
    expect((await customer.post(`/v1/creations/${finished.id}/complete`, { credits: 7 })).body).toMatchObject({ charged: 7, released: 3 });
    const running = (await customer.post('/v1/creations', {
      quote_id: (await customer.post('/v1/credits/estimate', { model: 'imagen-3', count: 1 })).body.quote_id,
    })).body;
    const reloaded = await page.reload();
    expect(reloaded?.headers()).toMatchObject({ 'cache-control': 'no-store', 'x-frame-options': 'DENY' });
    // Each row says what the creation was (SPEC §11), then status, quoted, charged, released.
    const finishedRow = await page.locator(`#creation-${finished.id} td`).allInnerTexts();
    expect(finishedRow[1]).toMatch(/^Video · veo-2 · 5 s · key /);
    expect(finishedRow.slice(2)).toEqual(['succeeded', '10', '7', '3']);
    const runningRow = await page.locator(`#creation-${running.id} td`).allInnerTexts();
    expect(runningRow[1]).toMatch(/^Image · standard · key /);
    expect(runningRow.slice(2)).toEqual(['running', '2', '—', '0']);
    await expect(page.locator('#balance-available').innerText()).resolves.toBe('491');
    await expect(page.locator('#balance-held').innerText()).resolves.toBe('2');

    await page.screenshot({ path: join(ARTIFACTS, 'billing.png'), fullPage: true });

    // Sign out clears the session.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/billing\/sign-in$/);
    expect((await context.cookies()).find((c) => c.name === 'billing_session')).toBeUndefined();
    await context.close();
  });

  it('refuses form posts without the session token or from another origin (403, nothing changes)', async () => {
    const { context, page } = await signedIn();
    const cookie = (await context.cookies()).find((c) => c.name === 'billing_session')!;
    const token = await page.locator('form[action="/billing/packs"] input[name=_csrf]').first().inputValue();
    const before = (await customer.get('/v1/credits')).body.available;
    const invoicesBefore = (await customer.get('/v1/invoices')).body.data.length;

    const post = (origin: string, body: Record<string, string>) => fetch(`${stack.baseUrl}/billing/packs`, {
      method: 'POST', redirect: 'manual', body: new URLSearchParams(body),
      headers: { cookie: `${cookie.name}=${cookie.value}`, origin },
    });
    // Same origin, signed in, but no token (or a wrong one): the per-session token check refuses.
    expect((await post(stack.baseUrl, { size: '100' })).status).toBe(403);
    expect((await post(stack.baseUrl, { size: '100', _csrf: 'forged' })).status).toBe(403);
    // Another origin, even with the right token: the Origin check refuses.
    expect((await post('https://evil.example', { size: '100', _csrf: token })).status).toBe(403);

    expect((await customer.get('/v1/credits')).body.available).toBe(before);
    expect((await customer.get('/v1/invoices')).body.data.length).toBe(invoicesBefore);
    // The same request with the token from the page goes through (proves the 403s were the checks): its first
    // step is the confirm view (nothing bought), the second buys at the amount confirmed.
    const asked = await post(stack.baseUrl, { size: '100', _csrf: token });
    expect([asked.status, await asked.text()]).toEqual([200, expect.stringContaining('id="amount-due" data-cents="800"')]);
    expect((await customer.get('/v1/invoices')).body.data.length).toBe(invoicesBefore);
    const ok = await post(stack.baseUrl, { size: '100', _csrf: token, confirm: '1', expected_amount_due_cents: '800' });
    expect([ok.status, ok.headers.get('location')]).toEqual([303, '/billing']);
    expect((await customer.get('/v1/credits')).body.available).toBe(before + 100);
    await context.close();
  });

  /** A workspace of its own on a test clock, subscribed to `plan` at `start` (none when null). */
  async function newCustomer(name: string, plan: string | null, start: string, interval: 'month' | 'year' = 'month') {
    const operator = stack.api(ADMIN_KEY);
    const clock = (await operator.post('/v1/test-clocks', { frozen_time: start })).body;
    const workspace = (await operator.post('/v1/workspaces', { name, test_clock_id: clock.id })).body;
    const api = stack.api(workspace.api_key);
    expect((await api.put('/v1/payment-method', { payment_method: 'pm_card_visa' })).status).toBe(200);
    if (plan) expect((await api.post('/v1/subscription', { plan, interval })).body.status).toBe('active');
    return { key: workspace.api_key as string, api, advance: (to: string) => advanceClock(operator, clock.id, to) };
  }

  interface Line { description: string; amount_cents: number }
  const invoicesOf = async (api: ReturnType<typeof apiClient>) =>
    (await api.get<{ data: { id: string; kind: string; lines: Line[]; total_cents: number; amount_due_cents: number }[] }>('/v1/invoices')).body.data;
  const cents = async (page: Page) => Number(await page.locator('#amount-due').getAttribute('data-cents'));
  const lineTexts = (lines: Line[]) => lines.map((l) => `${l.description}\t${(l.amount_cents < 0 ? '-$' : '$') + (Math.abs(l.amount_cents) / 100).toFixed(2)}`);

  it('an upgrade asks first: the confirm view shows the API preview, Cancel changes nothing, Confirm charges exactly that', async () => {
    const { key: own, api, advance } = await newCustomer('Upgrade Studio', 'plus', '2026-01-01T00:00:00Z');
    await advance('2026-01-11T00:00:00Z');
    const preview = (await api.post('/v1/subscription/change/preview', { plan: 'max' })).body;
    expect(preview).toMatchObject({ kind: 'upgrade', credits_granted: 166, invoice: { amount_due_cents: 1133 } });
    const { context, page } = await signedIn(own);

    await page.getByRole('button', { name: 'Upgrade to Max' }).click();
    await page.locator('#confirm-title').waitFor();
    await expect(page.locator('#confirm-title').innerText()).resolves.toBe('Upgrade to Max');
    expect(await cents(page)).toBe(preview.invoice.amount_due_cents);
    await expect(page.locator('#amount-due').innerText()).resolves.toBe('$11.33');
    expect((await page.locator('#confirm-lines tbody tr').allInnerTexts()).slice(0, preview.invoice.lines.length))
      .toEqual(lineTexts(preview.invoice.lines));
    expect(await page.locator('#confirm-credits').innerText()).toBe('166 credits are added to your balance at once; they expire on 2 March 2026.');
    expect(await page.locator('#confirm-renewal').innerText()).toBe('31 January 2026: $29.00 for a month of Max, with 400 credits a month.');
    expect(await page.locator('#confirm-form input[name=_csrf]').count()).toBe(1);
    await page.screenshot({ path: join(ARTIFACTS, 'confirm-upgrade.png'), fullPage: true });

    // Cancel on the confirm view: back to /billing, nothing charged, still Plus.
    await page.locator('#confirm-cancel').click();
    await page.waitForURL(/\/billing$/);
    await expect(page.locator('#plan-name').innerText()).resolves.toBe('Plus');
    expect((await invoicesOf(api)).map((i) => i.kind)).toEqual(['subscription']);
    expect((await api.get('/v1/subscription')).body.plan).toBe('plus');

    // Confirm: charged exactly the amount shown.
    await page.getByRole('button', { name: 'Upgrade to Max' }).click();
    await page.getByRole('button', { name: 'Confirm and pay $11.33' }).click();
    await page.locator('#notice').filter({ hasText: 'You are now on Max' }).waitFor();
    const upgrade = (await invoicesOf(api)).find((i) => i.kind === 'upgrade')!;
    expect({ lines: upgrade.lines, total: upgrade.total_cents, due: upgrade.amount_due_cents })
      .toEqual({ lines: preview.invoice.lines, total: preview.invoice.total_cents, due: preview.invoice.amount_due_cents });
    expect((await api.get('/v1/subscription')).body.plan).toBe('max');
    await context.close();
  });

  it('a pack asks first: price with the plan discount, credits that never expire; Confirm buys it once', async () => {
    const { key: own, api } = await newCustomer('Pack Studio', 'max', '2026-01-01T00:00:00Z');
    const { context, page } = await signedIn(own);
    const before = (await api.get('/v1/credits')).body.available;

    await page.getByRole('button', { name: 'Buy 500 credits ($32.80)' }).click();
    await expect(page.locator('#confirm-title').innerText()).resolves.toBe('Buy 500 credits');
    expect(await page.locator('#confirm-lines tbody tr').allInnerTexts())
      .toEqual(['500 credit pack\t$41.00', 'Max plan pack discount (20%)\t-$8.20', 'Total\t$32.80']);
    expect(await cents(page)).toBe(3280);
    expect(await page.locator('#confirm-credits').innerText()).toContain('never expire');
    await page.screenshot({ path: join(ARTIFACTS, 'confirm-pack.png'), fullPage: true });
    expect((await invoicesOf(api)).filter((i) => i.kind === 'pack')).toEqual([]);

    const fields = await page.locator('#confirm-form input[type=hidden]').evaluateAll(
      (inputs) => inputs.map((input) => [(input as HTMLInputElement).name, (input as HTMLInputElement).value]),
    );
    await page.getByRole('button', { name: 'Confirm and pay $32.80' }).click();
    await page.locator('#notice').filter({ hasText: '500 credits were added to your balance ($32.80).' }).waitFor();
    // The same confirm view submitted twice (a double click, a resent form) buys once: its purchase key.
    await page.evaluate((entries) => {
      const form = Object.assign(document.createElement('form'), { method: 'post', action: '/billing/packs' });
      for (const [name, value] of entries) form.append(Object.assign(document.createElement('input'), { type: 'hidden', name, value }));
      document.body.append(form);
      form.submit();
    }, fields);
    await page.locator('#notice').filter({ hasText: '500 credits were added' }).waitFor();
    const packs = (await invoicesOf(api)).filter((i) => i.kind === 'pack');
    expect(packs.map((i) => [i.total_cents, i.amount_due_cents])).toEqual([[3280, 3280]]);
    expect((await api.get('/v1/credits')).body.available).toBe(before + 500);
    await context.close();
  });

  it('an amount that moved between the confirm view and Confirm is not charged: the page shows the new amount (preview_outdated)', async () => {
    const { key: own, api, advance } = await newCustomer('Outdated Studio', 'plus', '2026-01-01T00:00:00Z');
    await advance('2026-01-11T00:00:00Z');
    const { context, page } = await signedIn(own);
    await page.getByRole('button', { name: 'Upgrade to Generative' }).click();
    const shown = await cents(page);
    expect(shown).toBe((await api.post('/v1/subscription/change/preview', { plan: 'generative' })).body.invoice.amount_due_cents);

    await advance('2026-01-12T00:00:00Z'); // a day later the same upgrade costs less
    const fresh = (await api.post('/v1/subscription/change/preview', { plan: 'generative' })).body.invoice.amount_due_cents;
    expect(fresh).toBeLessThan(shown);
    const [response] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/billing/change')), page.locator('#confirm').click()]);
    expect(response.status()).toBe(409);
    await page.locator('#notice.error').waitFor();
    expect(await page.locator('#notice').innerText()).toContain('it is now $' + (fresh / 100).toFixed(2) + '. Nothing was charged.');
    expect(await cents(page)).toBe(fresh);
    await page.screenshot({ path: join(ARTIFACTS, 'confirm-outdated.png'), fullPage: true });
    expect((await invoicesOf(api)).map((i) => i.kind)).toEqual(['subscription']);
    expect((await api.get('/v1/subscription')).body.plan).toBe('plus');

    // Confirming the new amount makes the change at that amount.
    await page.locator('#confirm').click();
    await page.locator('#notice').filter({ hasText: 'You are now on Generative' }).waitFor();
    expect((await invoicesOf(api)).find((i) => i.kind === 'upgrade')!.amount_due_cents).toBe(fresh);
    await context.close();
  });

  it('cancel asks first and says what happens; Keep my subscription changes nothing', async () => {
    const { key: own, api } = await newCustomer('Cancel Studio', 'plus', '2026-01-01T00:00:00Z');
    const { context, page } = await signedIn(own);
    await page.getByRole('button', { name: 'Cancel renewals' }).click();
    expect(await page.locator('#confirm-effect').innerText()).toContain('Nothing is charged. No renewal on 31 January 2026');
    await page.getByRole('link', { name: 'Keep my subscription' }).click();
    await page.waitForURL(/\/billing$/);
    expect((await api.get('/v1/subscription')).body.cancel_at_period_end).toBe(false);
    await page.getByRole('button', { name: 'Cancel renewals' }).click();
    await page.locator('#confirm').click();
    await page.locator('#notice').filter({ hasText: 'Everything stays usable until 31 January 2026' }).waitFor();
    expect((await api.get('/v1/subscription')).body.cancel_at_period_end).toBe(true);
    await context.close();
  });

  it('a switch to monthly shows the credit it leaves on the account; a pack confirmed before it is shown again with that credit applied', async () => {
    const { key: own, api, advance } = await newCustomer('Switch Studio', 'max', '2026-01-01T00:00:00Z', 'year');
    await advance('2026-07-02T00:00:00Z');
    const preview = (await api.post('/v1/subscription/change/preview', { interval: 'month' })).body;
    expect(preview.invoice).toMatchObject({ total_cents: -7569, amount_due_cents: 0 });
    const { context, page } = await signedIn(own);
    // A pack's confirm view opened in another tab before the switch: $8.00 due then.
    const packTab = await context.newPage();
    await packTab.goto(`${stack.baseUrl}/billing`);
    await packTab.getByRole('button', { name: 'Buy 100 credits ($8.00)' }).click();
    expect(await cents(packTab)).toBe(800);

    await page.getByRole('button', { name: 'Switch to monthly billing ($29.00 a month)' }).click();
    await expect(page.locator('#confirm-title').innerText()).resolves.toBe('Switch to Max, billed monthly');
    expect(await cents(page)).toBe(0);
    expect(await page.locator('#confirm-details').innerText()).toContain('$75.69 is added to your account credit and pays your next invoices.');
    expect(await page.locator('#confirm-credits').innerText()).toContain(`${preview.credits_granted} credits are added to your balance at once`);
    expect(await page.locator('#confirm-renewal').innerText()).toContain(': $29.00 for a month of Max, with 400 credits a month.');
    await page.screenshot({ path: join(ARTIFACTS, 'confirm-switch.png'), fullPage: true });
    await page.getByRole('button', { name: 'Confirm the change' }).click();
    await page.locator('#notice').filter({ hasText: 'You are now billed monthly' }).waitFor();
    expect((await invoicesOf(api)).find((i) => i.kind === 'interval_switch')!.total_cents).toBe(-7569);

    // Confirming the pack now: the amount due moved (the credit pays it), so nothing is bought and the
    // confirm view comes back with the credit applied and nothing due on the card.
    const [refused] = await Promise.all([packTab.waitForResponse((r) => r.url().endsWith('/billing/packs')), packTab.locator('#confirm').click()]);
    expect(refused.status()).toBe(409);
    expect(await packTab.locator('#notice').innerText()).toContain('it is now $0.00. Nothing was charged.');
    expect(await packTab.locator('#confirm-balance').innerText()).toBe('Paid from account credit\t-$8.00');
    expect(await cents(packTab)).toBe(0);
    expect((await invoicesOf(api)).filter((i) => i.kind === 'pack')).toEqual([]);
    await packTab.getByRole('button', { name: 'Confirm the purchase' }).click();
    await packTab.locator('#notice').filter({ hasText: '100 credits were added' }).waitFor();
    const pack = (await invoicesOf(api)).find((i) => i.kind === 'pack')!;
    expect([pack.total_cents, pack.amount_due_cents]).toEqual([800, 0]);

    // The next renewal on /billing is the upcoming invoice: paid from the credit that is left.
    const upcoming = (await api.get('/v1/invoices/upcoming')).body;
    expect(upcoming).toMatchObject({ reason: 'renewal', total_cents: 2900, balance_applied_cents: 2900, amount_due_cents: 0 });
    expect(Number(await packTab.locator('#upcoming-amount').getAttribute('data-cents'))).toBe(0);
    expect(await packTab.locator('#next-renewal').innerText()).toContain('$0.00 ($29.00, of which $29.00 from your account credit) before tax for Max');
    await context.close();
  });

  it('subscribing asks first: the price of the first period and the next renewal', async () => {
    const { key: own, api } = await newCustomer('New Studio', null, '2026-01-01T00:00:00Z');
    const { context, page } = await signedIn(own);
    await page.locator('#subscribe-plan').selectOption('max');
    await page.locator('select[name=interval]').selectOption('year');
    await page.getByRole('button', { name: 'Subscribe' }).click();
    await expect(page.locator('#confirm-title').innerText()).resolves.toBe('Subscribe to Max');
    expect(await cents(page)).toBe(20880);
    expect(await page.locator('#confirm-renewal').innerText()).toBe('1 January 2027: $208.80 for a year of Max.');
    expect((await api.get('/v1/subscription')).status).toBe(404);
    await page.getByRole('button', { name: 'Confirm and pay $208.80' }).click();
    await page.locator('#notice').filter({ hasText: 'Welcome to Max' }).waitFor();
    expect((await invoicesOf(api)).map((i) => [i.kind, i.total_cents])).toEqual([['subscription', 20880]]);
    await context.close();
  });

  it('a billing session URL signs the browser in and the page links back to the app that sent it', async () => {
    const { api } = await newCustomer('Linked Studio', 'plus', '2026-01-01T00:00:00Z');
    const made = await api.post('/v1/billing-sessions', { return_url: 'https://studio.example/settings' });
    expect(made.status).toBe(201);
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(made.body.url);
    await page.waitForURL(/\/billing$/);
    await expect(page.locator('#workspace-name').innerText()).resolves.toBe('Linked Studio');
    expect(await page.locator('#return-url').getAttribute('href')).toBe('https://studio.example/settings');
    await context.close();
  });

  it('the hosted invoice page reads on a 390 px phone: number beside the id, seller, Paid with its date, nothing wider than the screen', async () => {
    const invoices: { kind: string; number: string; hosted_url: string; amount_due_cents: number; created_at: string }[] = (await customer.get('/v1/invoices')).body.data;
    const paid = invoices.find((i) => i.kind === 'subscription' && i.created_at === '2026-01-01T00:00:00.000Z')!;
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    const page = await context.newPage();
    // (The test worker's provider writes a placeholder host into hosted_url; the page is the API's.)
    await page.goto(`${stack.baseUrl}${new URL(paid.hosted_url).pathname}`);
    await expect(page.locator('#number').innerText()).resolves.toBe(paid.number);
    expect(paid.number).toMatch(/^CE-2026-\d{6}$/);
    await expect(page.locator('#invoice-id').innerText()).resolves.toMatch(/^in_/);
    await expect(page.locator('#settlement').innerText()).resolves.toMatch(new RegExp(`^Paid 2026-01-01\\s+\\$${(paid.amount_due_cents / 100).toFixed(2).replace('.', '\\.')}$`));
    expect(await page.locator('#seller').innerText()).toContain('Tax ID:');
    // Readable at 390 px: nothing wider than the screen (no sideways scrolling), the parties stacked.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    const [seller, customerBox] = [await page.locator('#seller').boundingBox(), await page.locator('#customer').boundingBox()];
    expect(customerBox!.y).toBeGreaterThan(seller!.y);
    await page.screenshot({ path: join(ARTIFACTS, 'hosted-invoice-390.png'), fullPage: true });
    await context.close();
  });
});
