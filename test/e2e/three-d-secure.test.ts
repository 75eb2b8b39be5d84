import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reconcileOpenInvoices } from '../../api/webhooks/reconcile.js';
import { ADMIN_KEY, startStack } from '../helpers/stack.js';
import { eventually } from '../helpers/temporal.js';
import { authenticateOnHostedPage } from '../helpers/hosted-page.js';

/** Sandbox payments end to end: success, decline, and 3-D Secure completed on the hosted page. */
describe('sandbox payments through the webhook endpoint', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => stack?.stop());

  async function customerOn(paymentMethod: string) {
    const operator = stack.api(ADMIN_KEY);
    const clock = (await operator.post('/v1/test-clocks', { frozen_time: '2026-01-01T00:00:00Z' })).body;
    const ws = (await operator.post('/v1/workspaces', { name: paymentMethod, test_clock_id: clock.id })).body;
    const customer = stack.api(ws.api_key);
    await customer.put('/v1/payment-method', { payment_method: paymentMethod });
    return customer;
  }

  it('waits for 3-D Secure: incomplete without credits, then active once authenticated on the hosted page', async () => {
    const customer = await customerOn('pm_card_authenticationRequired');
    const sub = await customer.post('/v1/subscription', { plan: 'max', interval: 'month' });
    expect([sub.status, sub.body.status]).toEqual([201, 'incomplete']);
    expect((await customer.get('/v1/credits')).body.available).toBe(0);
    const [invoice] = (await customer.get('/v1/invoices')).body.data;
    expect([invoice.status, invoice.total_cents]).toMatchObject(['open', 2900]);
    expect(invoice.hosted_url).toMatch(/\/sandbox\/invoices\/in_/);

    const page = await fetch(`${stack.baseUrl}/sandbox/invoices/${invoice.id}`);
    expect(await page.text()).toContain('Complete authentication');
    const done = await authenticateOnHostedPage(`${stack.baseUrl}/sandbox/invoices/${invoice.id}`);
    expect(done.status).toBe(303);

    // invoice.paid travels: sandbox outbox → signed POST /webhooks/stripe → inbox → workflow signal.
    await eventually(() => customer.get('/v1/subscription'), (r) => r.body.status === 'active');
    const credits = (await customer.get('/v1/credits')).body;
    expect(credits.available).toBe(400);
    expect(credits.lots[0]).toMatchObject({ granted: 400, expires_at: '2026-03-02T00:00:00.000Z' });
    expect((await customer.get('/v1/invoices')).body.data[0].status).toBe('paid');
    const stored = await stack.sql`SELECT type FROM webhook_events WHERE event->>'invoiceId' = ${invoice.id} ORDER BY received_at`;
    expect(stored.map((e) => e.type)).toEqual(expect.arrayContaining(['invoice.payment_action_required', 'invoice.paid']));
  });

  it('leaves a declined first payment incomplete, and delivers a pack paid with 3-D Secure once authenticated', async () => {
    const declined = await customerOn('pm_card_chargeDeclined');
    const sub = await declined.post('/v1/subscription', { plan: 'plus', interval: 'month' });
    expect(sub.body.status).toBe('incomplete');
    expect((await declined.get('/v1/invoices')).body.data[0]).toMatchObject({ status: 'open', total_cents: 1200 });

    // Packs need a live subscription; its card then asks for 3-D Secure: the pack's invoice stays open.
    const buyer = await customerOn('pm_card_visa');
    expect((await buyer.post('/v1/subscription', { plan: 'plus', interval: 'month' })).body.status).toBe('active');
    expect((await buyer.put('/v1/payment-method', { payment_method: 'pm_card_authenticationRequired' })).status).toBe(200);
    const purchase = await buyer.post('/v1/credit-packs', { size: 500 });
    expect([purchase.status, purchase.body.lot, purchase.body.invoice.status]).toEqual([201, null, 'open']);
    expect((await buyer.get('/v1/credits')).body.lots.map((l: { source: string }) => l.source)).toEqual(['monthly']);
    expect(await (await fetch(purchase.body.invoice.hosted_url)).text()).toContain('Complete authentication');
    await authenticateOnHostedPage(`${stack.baseUrl}/sandbox/invoices/${purchase.body.invoice.id}`);
    await eventually(() => buyer.get('/v1/credits'), (r) => r.body.lots.length === 2);
    const pack = (await buyer.get('/v1/credits')).body.lots.find((l: { source: string }) => l.source === 'pack');
    expect(pack).toMatchObject({ source: 'pack', granted: 500, frozen: false, expires_at: null });
    expect((await buyer.get('/v1/invoices')).body.data.find((i: { id: string }) => i.id === purchase.body.invoice.id).status).toBe('paid');
  });

  it('opens the (sandbox) billing portal, which leads back to the pricing page', async () => {
    const customer = await customerOn('pm_card_visa');
    const portal = await customer.post('/v1/billing-portal');
    expect(portal.status).toBe(200);
    expect(portal.body.url).toBe(`${stack.baseUrl}/sandbox/portal`);
    const page = await (await fetch(portal.body.url)).text();
    expect(page).toContain('href="/pricing"');
    const checkout = await customer.post('/v1/payment-method/checkout');
    expect([checkout.status, checkout.body.code]).toEqual([409, 'sandbox_mode']);
  });

  it('serves each invoice as a real PDF with its lines and totals', async () => {
    const customer = await customerOn('pm_card_visa');
    await customer.post('/v1/subscription', { plan: 'max', interval: 'month' });
    await customer.post('/v1/credit-packs', { size: 500 });
    const pack = (await customer.get('/v1/invoices')).body.data.find((i: { kind: string }) => i.kind === 'pack');
    const response = await fetch(pack.pdf_url);
    expect(response.headers.get('content-type')).toBe('application/pdf');
    const pdf = Buffer.from(await response.arrayBuffer());
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
    // A real PDF reader (poppler's pdftotext) reads the invoice back.
    const text = execFileSync('pdftotext', ['-layout', '-', '-'], { input: pdf }).toString();
    expect(text).toContain(pack.id);
    expect(text).toMatch(/500 credit pack\s+\$41\.00/);
    expect(text).toMatch(/Max plan pack discount \(20%\)\s+-\$8\.20/);
    expect(text).toMatch(/Total\s+\$32\.80/);
    expect(text).toMatch(/Paid \d{4}-\d{2}-\d{2}\s+\$32\.80/); // paid: the date instead of "Amount due" (SPEC §10)
  });

  it('repairs a missed webhook: reconciliation finds the invoice paid at the provider', async () => {
    const customer = await customerOn('pm_card_authenticationRequired');
    await customer.post('/v1/subscription', { plan: 'plus', interval: 'month' });
    const [invoice] = (await customer.get('/v1/invoices')).body.data;
    // The payment succeeds at the provider but its event never reaches us.
    await stack.sql`UPDATE sandbox_outbox SET delivered_at = now() WHERE delivered_at IS NULL`;
    const [row] = await stack.sql<{ id: string; workspace_id: string; subscription_id: string | null; amount_due_cents: number }[]>`
      SELECT id, workspace_id, subscription_id, amount_due_cents FROM invoices WHERE id = ${invoice.id}`;
    const pending = await stack.payments.pendingAuthentication(invoice.id);
    expect(await stack.payments.completeAuthentication(row!, pending!.attemptId)).toBe(true);
    await stack.sql`UPDATE sandbox_outbox SET delivered_at = now() WHERE delivered_at IS NULL`;
    expect((await customer.get('/v1/subscription')).body.status).toBe('incomplete');

    expect(await reconcileOpenInvoices({ sql: stack.sql, payments: stack.payments }, { olderThanMs: 0 })).toBe(1);
    expect(await reconcileOpenInvoices({ sql: stack.sql, payments: stack.payments }, { olderThanMs: 0 })).toBe(0);
    await eventually(() => customer.get('/v1/subscription'), (r) => r.body.status === 'active');
    expect((await customer.get('/v1/credits')).body.available).toBe(150);
  });
});
