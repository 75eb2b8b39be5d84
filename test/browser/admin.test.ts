import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { launchChromium } from '../helpers/browser.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, apiClient, startStack } from '../helpers/stack.js';
import { eventually } from '../helpers/temporal.js';

/**
 * The operator console /admin (SPEC §10) in a real browser: Debian's Chromium, headless, driven by
 * playwright-core, against the whole product (Temporal dev server, worker, API, Postgres, sandbox payments).
 * Screenshots go to test-results/admin-*.png.
 */
const ARTIFACTS = join(process.cwd(), 'test-results');

describe('operator console in headless Chromium', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  let browser: Browser;
  let operator: ReturnType<typeof apiClient>;
  let customer: ReturnType<typeof apiClient>;
  let workspaceKey: string;
  let workspaceId: string;
  let packInvoiceId: string;

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    [stack, browser] = await Promise.all([
      startStack(),
      launchChromium(),
    ]);
    operator = stack.api(ADMIN_KEY);
    const clock = (await operator.post('/v1/test-clocks', { frozen_time: '2026-01-01T00:00:00Z' })).body;
    // Another workspace first, so the search has something to leave out.
    expect((await operator.post('/v1/workspaces', { name: 'Fabrikam Audio', test_clock_id: clock.id })).status).toBe(201);
    const workspace = await operator.post('/v1/workspaces', { name: 'Contoso Films', test_clock_id: clock.id, external_id: 'crm-4711' });
    expect(workspace.status).toBe(201);
    [workspaceKey, workspaceId] = [workspace.body.api_key, workspace.body.id];
    customer = stack.api(workspaceKey);
    expect((await customer.put('/v1/payment-method', { payment_method: 'pm_card_visa' })).status).toBe(200);
    expect((await customer.post('/v1/subscription', { plan: 'max', interval: 'month' })).body.status).toBe('active');
    expect((await customer.post('/v1/credit-packs', { size: 100 })).status).toBe(201);
    const invoices = (await customer.get('/v1/invoices')).body.data as { id: string; kind: string; status: string; total_cents: number }[];
    const pack = invoices.find((i) => i.kind === 'pack')!;
    expect(pack).toMatchObject({ status: 'paid', total_cents: 800 });
    packInvoiceId = pack.id;
    expect((await customer.get('/v1/credits')).body.available).toBe(500);
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  async function signedIn(key = ADMIN_KEY): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    const page = await context.newPage();
    await page.goto(`${stack.baseUrl}/admin`);
    await page.waitForURL(/\/admin\/sign-in$/);
    await page.getByLabel('Operator key').fill(key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/admin(\?.*)?$/);
    return { context, page };
  }

  const shot = (page: Page, name: string) => page.screenshot({ path: join(ARTIFACTS, `admin-${name}.png`), fullPage: true });
  const auditOf = async () => (await operator.get(`/v1/admin/audit?workspace_id=${workspaceId}&limit=100`)).body.data as {
    operator_key_id: string; method: string; path: string; workspace_id: string; target: string; request: Record<string, string>; status: number; outcome: string;
  }[];

  it('a workspace API key, an unknown key and a revoked operator key cannot sign in; an operator key can, and signs out', async () => {
    const revoked = (await operator.post('/v1/admin/operator-keys', { name: 'former contractor' })).body;
    expect((await operator.delete(`/v1/admin/operator-keys/${revoked.id}`)).status).toBe(200);
    for (const key of [workspaceKey, 'sk_op_not-a-key', revoked.api_key]) {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(`${stack.baseUrl}/admin/sign-in`);
      await page.getByLabel('Operator key').fill(key);
      const [response] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/admin/sign-in') && r.request().method() === 'POST'),
        page.getByRole('button', { name: 'Sign in' }).click()]);
      expect(response.status()).toBe(401);
      await expect(page.locator('#notice').innerText()).resolves.toContain('not an operator key');
      if (key === workspaceKey) await shot(page, 'sign-in-refused');
      expect((await context.cookies()).find((c) => c.name === 'admin_session')).toBeUndefined();
      // Not signed in: the console sends to sign-in.
      await page.goto(`${stack.baseUrl}/admin/workspaces/${workspaceId}`);
      await page.waitForURL(/\/admin\/sign-in$/);
      await context.close();
    }

    // A stored operator key signs in; revoking it ends the session at once.
    const stored = (await operator.post('/v1/admin/operator-keys', { name: 'support desk' })).body;
    const { context, page } = await signedIn(stored.api_key);
    await expect(page.locator('#operator-key-id').innerText()).resolves.toBe(stored.id);
    expect((await operator.delete(`/v1/admin/operator-keys/${stored.id}`)).status).toBe(200);
    await page.reload();
    await page.waitForURL(/\/admin\/sign-in$/);
    await context.close();

    const root = await signedIn();
    await root.page.getByRole('button', { name: 'Sign out' }).click();
    await root.page.waitForURL(/\/admin\/sign-in$/);
    await expect(root.page.locator('#notice').innerText()).resolves.toBe('You are signed out.');
    expect((await root.context.cookies()).find((c) => c.name === 'admin_session')).toBeUndefined();
    await root.context.close();
  });

  it('signs in, searches, opens the workspace, grants 50 credits and refunds the pack, each confirmed and audited', async () => {
    const { context, page } = await signedIn();
    const cookie = (await context.cookies()).find((c) => c.name === 'admin_session');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/admin' });

    // Search: by name (part, any case), by external id, by status and plan filters.
    await page.getByLabel('Id, external id or name').fill('contoso');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/q=contoso/);
    expect(await page.locator('#results tbody tr').count()).toBe(1);
    await expect(page.locator(`#ws-${workspaceId}`).innerText()).resolves.toContain('max monthly · active');
    await shot(page, 'search');
    await page.goto(`${stack.baseUrl}/admin?q=crm-4711`);
    expect(await page.locator('#results tbody tr').count()).toBe(1);
    await page.goto(`${stack.baseUrl}/admin?q=${workspaceId}`);
    expect(await page.locator('#results tbody tr').count()).toBe(1);
    await page.goto(`${stack.baseUrl}/admin?status=none`);
    await expect(page.locator('#results').innerText()).resolves.toContain('Fabrikam Audio');
    expect(await page.locator(`#ws-${workspaceId}`).count()).toBe(0);
    await page.goto(`${stack.baseUrl}/admin?plan=max&status=active`);
    expect(await page.locator(`#ws-${workspaceId}`).count()).toBe(1);

    // The workspace page.
    await page.locator(`#ws-${workspaceId} a`).click();
    await page.waitForURL(new RegExp(`/admin/workspaces/${workspaceId}$`));
    await expect(page.locator('#workspace-name').innerText()).resolves.toBe('Contoso Films');
    await expect(page.locator('#subscription-status').getAttribute('data-status')).resolves.toBe('active');
    await expect(page.locator('#balance-available').innerText()).resolves.toBe('500');
    const subscription = (await customer.get('/v1/subscription')).body;
    await expect(page.locator('#workflow-link').getAttribute('href')).resolves
      .toBe(`http://localhost:8233/namespaces/default/workflows/subscription-${subscription.id}`);
    await expect(page.locator(`#invoice-${packInvoiceId} td`).first().innerText()).resolves.toMatch(/^CE-2026-\d{6}/);
    await shot(page, 'workspace');

    // Grant 50 credits: the confirm view shows the balance before and after; nothing changes until Confirm.
    await page.getByLabel('Credits (+ grant, − take)').fill('50');
    await page.getByLabel('Reason', { exact: true }).fill('Goodwill: render outage on 1 January');
    await page.getByRole('button', { name: 'Adjust credits' }).click();
    await expect(page.locator('#confirm-title').innerText()).resolves.toBe('Grant 50 credits');
    await expect(page.locator('#available-before').innerText()).resolves.toBe('500');
    await expect(page.locator('#available-after').innerText()).resolves.toBe('550');
    await shot(page, 'confirm-adjustment');
    expect((await customer.get('/v1/credits')).body.available).toBe(500);
    await page.locator('#confirm').click();
    await page.locator('#notice').filter({ hasText: 'Granted 50 credits' }).waitFor();
    await expect(page.locator('#notice').innerText()).resolves.toMatch(/^Granted 50 credits \(adj_\w+\); available now 550\.$/);
    await expect(page.locator('#balance-available').innerText()).resolves.toBe('550');
    const adjust = page.locator('#journal-rows tbody tr[data-kind=adjust]');
    expect(await adjust.count()).toBe(1);
    expect((await adjust.locator('td').allInnerTexts()).slice(4, 7)).toEqual(['50', '50', '550']);
    await expect(adjust.innerText()).resolves.toContain('Goodwill: render outage on 1 January');
    expect(await page.locator('#lots tbody tr[data-source=adjustment]').count()).toBe(1);
    expect((await customer.get('/v1/credits')).body.available).toBe(550);
    await shot(page, 'adjusted');

    // Refund the pack in full: $8.00 to the card, its 100 credits clawed back.
    const packRow = page.locator(`#invoice-${packInvoiceId}`);
    await packRow.getByPlaceholder('reason').fill('Bought by mistake');
    await packRow.getByRole('button', { name: 'Refund' }).click();
    await expect(page.locator('#confirm-amount').getAttribute('data-cents')).resolves.toBe('800');
    await expect(page.locator('#confirm-card').innerText()).resolves.toBe('$8.00');
    await expect(page.locator('#confirm-to-balance').innerText()).resolves.toBe('$0.00');
    await shot(page, 'confirm-refund');
    expect((await customer.get(`/v1/invoices/${packInvoiceId}`)).body.credit_notes).toEqual([]);
    await page.locator('#confirm').click();
    await page.locator('#notice').filter({ hasText: 'Refunded $8.00' }).waitFor();
    const notice = await page.locator('#notice').innerText();
    expect(notice).toMatch(/^Refunded \$8\.00 as credit note cn_\w+: \$8\.00 to the card, \$0\.00 to the customer balance; 100 credits clawed back\.$/);
    const noteId = /credit note (cn_\w+)/.exec(notice)![1]!;
    await expect(page.locator(`#credit-note-${noteId}`).innerText()).resolves.toContain('$8.00 ($8.00 card, $0.00 balance), 100 credits clawed back');
    const clawback = page.locator('#journal-rows tbody tr[data-kind=clawback]');
    expect(await clawback.count()).toBe(1);
    expect((await clawback.locator('td').allInnerTexts()).slice(4, 7)).toEqual(['-100', '-100', '450']);
    await expect(page.locator('#balance-available').innerText()).resolves.toBe('450');
    expect((await customer.get('/v1/credits')).body.available).toBe(450);
    expect((await customer.get(`/v1/invoices/${packInvoiceId}`)).body.credit_notes).toEqual([
      expect.objectContaining({ id: noteId, amount_cents: 800, refunded_to_card_cents: 800, credits_clawed_back: 100, reason: 'Bought by mistake', source: 'operator' }),
    ]);

    // Both actions are in the audit trail: on the page and through GET /v1/admin/audit, newest first.
    const audit = await auditOf();
    expect(audit.slice(0, 2)).toEqual([
      expect.objectContaining({
        operator_key_id: 'opk_root', method: 'POST', path: `/admin/invoices/${packInvoiceId}/refund`, workspace_id: workspaceId,
        target: packInvoiceId, request: { reason: 'Bought by mistake' }, status: 201, outcome: 'ok',
      }),
      expect.objectContaining({
        operator_key_id: 'opk_root', method: 'POST', path: `/admin/workspaces/${workspaceId}/credit-adjustments`, workspace_id: workspaceId,
        target: workspaceId, request: { credits: '50', reason: 'Goodwill: render outage on 1 January', expires_at: '' }, status: 201, outcome: 'ok',
      }),
    ]);
    const rows = page.locator('#audit-rows tbody tr');
    await expect(rows.nth(0).innerText()).resolves.toContain(`POST /admin/invoices/${packInvoiceId}/refund`);
    await expect(rows.nth(1).innerText()).resolves.toContain(`POST /admin/workspaces/${workspaceId}/credit-adjustments`);
    await shot(page, 'refunded');

    // Refunded in full: no Refund form any more.
    expect(await packRow.getByRole('button', { name: 'Refund' }).count()).toBe(0);
    await expect(packRow.innerText()).resolves.toContain('refunded in full');

    // A refusal is a notice and changes nothing (and is audited with its code): more than the invoice's $29.00.
    const periodInvoice = (await customer.get('/v1/invoices')).body.data.find((i: { kind: string }) => i.kind === 'subscription');
    const periodRow = page.locator(`#invoice-${periodInvoice.id}`);
    await periodRow.getByPlaceholder('all').fill('30.00');
    await periodRow.getByPlaceholder('reason').fill('Too generous');
    await periodRow.getByRole('button', { name: 'Refund' }).click();
    await expect(page.locator('#confirm-amount').getAttribute('data-cents')).resolves.toBe('3000');
    await page.locator('#confirm').click();
    await page.locator('#notice.error').waitFor();
    await expect(page.locator('#notice').innerText()).resolves.toContain('(refund_exceeds_paid)');
    expect((await customer.get(`/v1/invoices/${periodInvoice.id}`)).body.credit_notes).toEqual([]);
    expect((await auditOf())[0]).toMatchObject({
      path: `/admin/invoices/${periodInvoice.id}/refund`, request: { amount: '30.00', reason: 'Too generous' }, status: 409, outcome: 'refund_exceeds_paid',
    });
    // So is taking more credits than are available (409 insufficient_credits, as the admin API answers).
    await page.getByLabel('Credits (+ grant, − take)').fill('-1000');
    await page.getByLabel('Reason', { exact: true }).fill('Too much');
    await page.getByRole('button', { name: 'Adjust credits' }).click();
    await page.locator('#confirm').click();
    await page.locator('#notice.error').filter({ hasText: 'insufficient_credits' }).waitFor();
    await expect(page.locator('#balance-available').innerText()).resolves.toBe('450');
    expect((await auditOf())[0]).toMatchObject({ status: 409, outcome: 'insufficient_credits' });
    await shot(page, 'refused');
    await context.close();
  });

  it('acts on the subscription on the customer\'s behalf: cancel at period end, resume, pause, resume, retry refused; each confirmed and audited', async () => {
    const { context, page } = await signedIn();
    await page.goto(`${stack.baseUrl}/admin/workspaces/${workspaceId}`);
    await page.getByRole('button', { name: 'Cancel at period end' }).click();
    await expect(page.locator('#confirm-effect').innerText()).resolves.toContain('No renewal on 31 January 2026');
    expect((await customer.get('/v1/subscription')).body.cancel_at_period_end).toBe(false);
    await page.locator('#confirm').click();
    await page.locator('#notice').filter({ hasText: 'Renewals canceled' }).waitFor();
    expect((await customer.get('/v1/subscription')).body.cancel_at_period_end).toBe(true);
    await page.getByRole('button', { name: 'Resume' }).click();
    await page.locator('#confirm').click();
    await page.locator('#notice').filter({ hasText: 'Resumed' }).waitFor();
    expect((await customer.get('/v1/subscription')).body.cancel_at_period_end).toBe(false);
    // Pause for two cycles from the period end, then withdraw the pause.
    await page.getByLabel('Cycles').selectOption('2');
    await page.getByRole('button', { name: 'Pause', exact: true }).click();
    await expect(page.locator('#confirm-effect').innerText()).resolves.toContain('Pauses for 2 cycle(s) from 31 January 2026');
    await page.locator('#confirm').click();
    await page.locator('#notice').filter({ hasText: 'Paused for 2 cycle(s) from 31 January 2026' }).waitFor();
    expect((await customer.get('/v1/subscription')).body.pause).toMatchObject({ cycles: 2 });
    await expect(page.locator('#pause').innerText()).resolves.toContain('2 cycle(s), from 31 January 2026');
    await page.getByRole('button', { name: 'Resume' }).click();
    await page.locator('#confirm').click();
    await page.locator('#notice').filter({ hasText: 'Resumed' }).waitFor();
    expect((await customer.get('/v1/subscription')).body.pause).toBeNull();
    // Retrying a payment of an active subscription is refused as the admin API refuses it.
    await page.getByRole('button', { name: 'Retry payment' }).click();
    await page.locator('#confirm').click();
    await page.locator('#notice.error').filter({ hasText: 'nothing_to_retry' }).waitFor();
    const audit = await auditOf();
    expect(audit.slice(0, 5).map((a) => [a.path.replace(`/admin/workspaces/${workspaceId}`, ''), a.request, a.status, a.outcome])).toEqual([
      ['/subscription/retry-payment', null, 409, 'nothing_to_retry'], ['/subscription/resume', null, 200, 'ok'],
      ['/subscription/pause', { cycles: '2' }, 200, 'ok'], ['/subscription/resume', null, 200, 'ok'],
      ['/subscription/cancel', { at_period_end: '1' }, 200, 'ok'],
    ]);
    await shot(page, 'subscription-actions');
    await context.close();
  });

  it('shows a disputed pack (dispute status, frozen lot, notification) and refuses its refund as invoice_disputed', async () => {
    const clock = (await operator.post('/v1/test-clocks', { frozen_time: '2026-01-01T00:00:00Z' })).body;
    const created = (await operator.post('/v1/workspaces', { name: 'Litware Pictures', test_clock_id: clock.id })).body;
    const litware = stack.api(created.api_key);
    expect((await litware.put('/v1/payment-method', { payment_method: 'pm_card_visa' })).status).toBe(200);
    expect((await litware.post('/v1/subscription', { plan: 'plus', interval: 'month' })).body.status).toBe('active');
    expect((await litware.put('/v1/payment-method', { payment_method: 'pm_card_createDispute' })).status).toBe(200);
    expect((await litware.post('/v1/credit-packs', { size: 100 })).status).toBe(201);
    const invoices = await eventually(() => litware.get('/v1/invoices'),
      (r) => r.body.data.some((i: { kind: string; dispute: unknown }) => i.kind === 'pack' && i.dispute !== null));
    const pack = invoices.body.data.find((i: { kind: string }) => i.kind === 'pack');

    const { context, page } = await signedIn();
    await page.goto(`${stack.baseUrl}/admin/workspaces/${created.id}`);
    const row = page.locator(`#invoice-${pack.id}`);
    await expect(row.locator('td.dispute').innerText()).resolves.toBe(`${pack.dispute.id} needs_response`);
    await expect(page.locator('#lots tbody tr[data-source=pack]').innerText()).resolves.toContain('frozen');
    await expect(page.locator('#notification-rows').innerText()).resolves.toContain('dispute_opened');
    await shot(page, 'disputed');
    const available = (await litware.get('/v1/credits')).body.available;
    await row.getByPlaceholder('reason').fill('During the dispute');
    await row.getByRole('button', { name: 'Refund' }).click();
    await page.locator('#confirm').click();
    await page.locator('#notice.error').waitFor();
    await expect(page.locator('#notice').innerText()).resolves.toContain('(invoice_disputed)');
    expect((await litware.get(`/v1/invoices/${pack.id}`)).body.credit_notes).toEqual([]);
    expect((await litware.get('/v1/credits')).body.available).toBe(available);
    await context.close();
  });

  it('pages through search results, 25 at a time, newest first, keeping the filters', async () => {
    for (let n = 1; n <= 27; n += 1) {
      expect((await operator.post('/v1/workspaces', { name: `Batch ${String(n).padStart(2, '0')}` })).status).toBe(201);
    }
    const { context, page } = await signedIn();
    await page.goto(`${stack.baseUrl}/admin?q=batch&status=none`);
    const names = () => page.locator('#results tbody tr td:first-child').allInnerTexts();
    const first = await names();
    expect([first.length, first[0], first[24]]).toEqual([25, 'Batch 27', 'Batch 03']);
    await page.locator('#next-page').click();
    await page.waitForURL(/cursor=/);
    expect(new URL(page.url()).searchParams.get('status')).toBe('none');
    expect(await names()).toEqual(['Batch 02', 'Batch 01']);
    expect(await page.locator('#next-page').count()).toBe(0);
    await context.close();
  });

  it('revokes an operator key (confirmed, audited): the key stops working for the API at once', async () => {
    const stored = (await operator.post('/v1/admin/operator-keys', { name: 'night shift' })).body;
    expect((await stack.api(stored.api_key).get('/v1/admin/audit')).status).toBe(200);
    const { context, page } = await signedIn();
    await page.getByRole('link', { name: 'Operator keys' }).click();
    await page.waitForURL(/\/admin\/operator-keys$/);
    expect(await page.locator('#key-opk_root button').count()).toBe(0);
    await page.locator(`#key-${stored.id}`).getByRole('button', { name: 'Revoke' }).click();
    await expect(page.locator('#confirm-title').innerText()).resolves.toBe('Revoke the operator key night shift');
    await shot(page, 'confirm-revoke');
    expect((await stack.api(stored.api_key).get('/v1/admin/audit')).status).toBe(200);
    await page.locator('#confirm').click();
    await page.locator('#notice').filter({ hasText: `The operator key night shift (${stored.id}) is revoked.` }).waitFor();
    expect((await stack.api(stored.api_key).get('/v1/admin/audit')).status).toBe(401);
    expect(await page.locator(`#key-${stored.id} button`).count()).toBe(0);
    const [entry] = (await operator.get('/v1/admin/audit?limit=1')).body.data;
    expect(entry).toMatchObject({
      operator_key_id: 'opk_root', path: `/admin/operator-keys/${stored.id}/revoke`, workspace_id: null, target: stored.id, status: 200, outcome: 'ok',
    });
    await context.close();
  });

  it('bad input is a notice naming the field and changes nothing; odd ids and search text are harmless', async () => {
    const { page } = await signedIn();
    await page.goto(`${stack.baseUrl}/admin/workspaces/${workspaceId}`);
    const before = (await customer.get('/v1/credits')).body.available;
    await page.getByLabel('Credits (+ grant, − take)').fill('lots');
    await page.getByLabel('Reason', { exact: true }).fill('typo');
    await page.getByRole('button', { name: 'Adjust credits' }).click();
    await page.locator('#notice.error').waitFor();
    await expect(page.locator('#notice').innerText()).resolves.toContain('(invalid_request): credits: a whole number of credits');
    expect(await page.locator('#confirm').count()).toBe(0);
    await page.getByLabel('Credits (+ grant, − take)').fill('-5');
    await page.getByLabel('Reason', { exact: true }).fill('take back');
    await page.getByLabel('Expires (optional, YYYY-MM-DD UTC)').fill('2026-06-01');
    await page.getByRole('button', { name: 'Adjust credits' }).click();
    await expect(page.locator('#notice').innerText()).resolves.toContain('expires_at: only for a positive adjustment');

    // A confirmed post carrying a NUL (which Postgres text refuses): refused as bad input, audited with U+FFFD.
    const token = await page.locator('#adjust-form input[name=_csrf]').inputValue();
    const confirmed = await page.evaluate(async ({ csrf, url }) => {
      const body = new URLSearchParams({ _csrf: csrf, credits: '5', reason: 'nul\u0000here', confirm: '1', action_key: 'ab'.repeat(16) });
      return (await fetch(url, { method: 'POST', body, redirect: 'manual' })).type;
    }, { csrf: token, url: `/admin/workspaces/${workspaceId}/credit-adjustments` });
    expect(confirmed).toBe('opaqueredirect');
    expect((await auditOf())[0]).toMatchObject({ status: 400, outcome: 'invalid_request', request: { credits: '5', reason: 'nul\ufffdhere' } });
    expect((await customer.get('/v1/credits')).body.available).toBe(before);

    expect((await page.goto(`${stack.baseUrl}/admin?q=%00`))!.status()).toBe(200);
    expect((await page.goto(`${stack.baseUrl}/admin/workspaces/%00`))!.status()).toBe(404);
    expect((await page.goto(`${stack.baseUrl}/admin/workspaces/ws_${'x'.repeat(100)}`))!.status()).toBe(404);
    expect((await page.goto(`${stack.baseUrl}/admin?cursor=ws_gone`))!.status()).toBe(200);
    await expect(page.locator('#notice').innerText()).resolves.toContain('showing the first page');
    await page.context().close();
  });

  it('refuses a form post with a wrong or missing CSRF token, or from another origin (403, nothing changes, nothing audited)', async () => {
    const { context, page } = await signedIn();
    await page.goto(`${stack.baseUrl}/admin/workspaces/${workspaceId}`);
    const cookie = (await context.cookies()).find((c) => c.name === 'admin_session')!;
    const token = await page.locator('#adjust-form input[name=_csrf]').inputValue();
    const before = (await customer.get('/v1/credits')).body.available;
    const auditBefore = (await auditOf()).length;
    const grant = { credits: '50', reason: 'forged', confirm: '1', action_key: '0123456789abcdef0123456789abcdef' };
    const post = (origin: string, body: Record<string, string>) => fetch(`${stack.baseUrl}/admin/workspaces/${workspaceId}/credit-adjustments`, {
      method: 'POST', redirect: 'manual', body: new URLSearchParams(body), headers: { cookie: `${cookie.name}=${cookie.value}`, origin },
    });
    expect((await post(stack.baseUrl, grant)).status).toBe(403);
    expect((await post(stack.baseUrl, { ...grant, _csrf: 'forged' })).status).toBe(403);
    expect((await post(stack.baseUrl, { ...grant, _csrf: `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}` })).status).toBe(403);
    expect((await post('https://evil.example', { ...grant, _csrf: token })).status).toBe(403);
    // Without the cookie the token alone signs nobody in.
    const anonymous = await fetch(`${stack.baseUrl}/admin/workspaces/${workspaceId}/credit-adjustments`, {
      method: 'POST', redirect: 'manual', body: new URLSearchParams({ ...grant, _csrf: token }), headers: { origin: stack.baseUrl },
    });
    expect([anonymous.status, anonymous.headers.get('location')]).toEqual([303, '/admin/sign-in']);
    expect((await customer.get('/v1/credits')).body.available).toBe(before);
    expect((await auditOf()).length).toBe(auditBefore);

    // The same post with the page's token goes through (the 403s were the checks), once whatever the retries.
    const done = await post(stack.baseUrl, { ...grant, _csrf: token });
    expect([done.status, done.headers.get('location')]).toEqual([303, `/admin/workspaces/${workspaceId}`]);
    expect((await post(stack.baseUrl, { ...grant, _csrf: token })).status).toBe(303);
    expect((await customer.get('/v1/credits')).body.available).toBe(before + 50);
    await page.reload();
    await shot(page, 'after-csrf');
    await context.close();
  });
});
