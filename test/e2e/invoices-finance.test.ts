import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { draftInvoice, markInvoice, voidInvoice } from '../../ledger/invoices.js';
import { ADMIN_KEY, apiClient, startStack } from '../helpers/stack.js';
import { authenticateOnHostedPage } from '../helpers/hosted-page.js';

const SELLER = {
  name: 'Studio Finance Test Ltd', address: ['1 Ledger Lane', 'Dublin D02 XY45', 'Ireland'], taxId: 'IE 1234567T', invoiceNumberPrefix: 'TST',
};

/**
 * Invoices a finance team can file (SPEC §10, issue 12): human numbers PREFIX-YEAR-NNNNNN sequential per
 * seller and year of created_at, given at finalization (never reused or skipped under concurrency; a voided
 * finalized invoice keeps its number, a draft voided before finalization never gets one); the configured
 * seller on the PDF and the hosted page; "Paid <date>" on paid invoices instead of "Amount due";
 * GET /v1/invoices/{id} (a workspace's own only).
 */
describe('invoices a finance team can file', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  const operator = () => stack.api(ADMIN_KEY);
  beforeAll(async () => {
    stack = await startStack({ seller: SELLER });
  });
  afterAll(async () => stack?.stop());

  async function subscribed(paymentMethod: string, at = '2026-03-10T00:00:00Z') {
    const clockId = (await operator().post('/v1/test-clocks', { frozen_time: at })).body.id as string;
    const ws = await operator().post('/v1/workspaces', { name: `Finance ${paymentMethod}`, test_clock_id: clockId, external_id: `fin_${ws_counter++}` });
    const customer = apiClient(stack.baseUrl, ws.body.api_key);
    expect((await customer.put('/v1/payment-method', { payment_method: 'pm_card_visa' })).status).toBe(200);
    expect((await customer.post('/v1/subscription', { plan: 'plus', interval: 'month' })).body.status).toBe('active');
    if (paymentMethod !== 'pm_card_visa') await customer.put('/v1/payment-method', { payment_method: paymentMethod });
    return { customer, workspaceId: ws.body.id as string, name: `Finance ${paymentMethod}` };
  }
  let ws_counter = 0;

  const pdfText = async (url: string) => {
    const response = await fetch(url);
    expect(response.headers.get('content-type')).toBe('application/pdf');
    // poppler's pdftotext, a well-kept reader, reads the PDF back.
    return execFileSync('pdftotext', ['-layout', '-', '-'], { input: Buffer.from(await response.arrayBuffer()) }).toString();
  };

  it('numbers invoices sequentially per seller and year, each once, under concurrent pack purchases across workspaces', async () => {
    const workspaces = await Promise.all([1, 2, 3, 4, 5, 6].map(() => subscribed('pm_card_visa')));
    // All at once: three packs in each of six workspaces.
    const purchases = await Promise.all(workspaces.flatMap(({ customer }) => [100, 500, 100].map((size) => customer.post('/v1/credit-packs', { size }))));
    expect(purchases.map((p) => p.status)).toEqual(Array(18).fill(201));
    expect(new Set(purchases.map((p) => p.body.invoice.status))).toEqual(new Set(['paid']));

    const rows = await stack.sql<{ id: string; number: string | null; status: string }[]>`SELECT id, number, status FROM invoices ORDER BY seq`;
    expect(rows).toHaveLength(24); // 6 subscriptions + 18 packs
    const numbers = rows.map((r) => r.number!).sort();
    expect(numbers).toEqual(Array.from({ length: 24 }, (_, i) => `TST-2026-${String(i + 1).padStart(6, '0')}`));
    // The API shows each invoice's number beside its id, the same as stored.
    for (const { customer } of workspaces) {
      for (const invoice of (await customer.get('/v1/invoices')).body.data) {
        expect(invoice.number).toBe(rows.find((r) => r.id === invoice.id)!.number);
      }
    }
    // Another year's invoices count from 1 again: the year is that of the invoice's created_at (its clock's).
    const later = await subscribed('pm_card_visa', '2027-02-01T00:00:00Z');
    expect((await later.customer.get('/v1/invoices')).body.data.map((i: { number: string }) => i.number)).toEqual(['TST-2027-000001']);
  });

  it('takes numbers in the finalizing transaction: 60 finalizations at once leave no gap, a rolled-back one gives its number back', async () => {
    const { workspaceId } = await subscribed('pm_card_visa', '2031-01-01T00:00:00Z'); // its first invoice is TST-2031-000001
    const drafts = await Promise.all(Array.from({ length: 60 }, (_, i) => draftInvoice(stack.sql, {
      businessKey: `test:numbering:${i}`, workspaceId, subscriptionId: null, kind: 'pack',
      lines: [{ description: `pack ${i}`, amount_cents: 100 }], createdAt: new Date('2031-05-01T00:00:00Z'),
    })));
    const rolledBack = drafts.filter((_, i) => i % 3 === 0).map((d) => d.id);
    await Promise.all(drafts.map((draft) => (rolledBack.includes(draft.id)
      ? stack.sql.begin(async (tx) => {
        await tx`UPDATE invoices SET status = 'open' WHERE id = ${draft.id}`;
        throw new Error('the finalizing transaction fails');
      }).catch(() => undefined)
      : markInvoice(stack.sql, draft.id, { status: 'paid', paidAt: new Date('2031-05-01T00:00:00Z') }))));
    const rows = await stack.sql<{ id: string; number: string | null }[]>`
      SELECT id, number FROM invoices WHERE workspace_id = ${workspaceId} ORDER BY number`;
    expect(rows.filter((r) => rolledBack.includes(r.id)).map((r) => r.number)).toEqual(Array(20).fill(null));
    expect(rows.filter((r) => !rolledBack.includes(r.id)).map((r) => r.number))
      .toEqual(Array.from({ length: 41 }, (_, i) => `TST-2031-${String(i + 1).padStart(6, '0')}`));
  });

  it('a voided finalized invoice keeps its number; a draft voided before finalization never gets one', async () => {
    const { customer, workspaceId } = await subscribed('pm_card_chargeDeclined');
    const declined = await customer.post('/v1/credit-packs', { size: 100 });
    expect([declined.status, declined.body.code]).toEqual([402, 'payment_declined']);
    const voided = (await customer.get('/v1/invoices')).body.data.find((i: { kind: string }) => i.kind === 'pack');
    expect(voided.status).toBe('void');
    expect(voided.number).toMatch(/^TST-2026-\d{6}$/);

    const draft = await draftInvoice(stack.sql, {
      businessKey: `test:draft:${workspaceId}`, workspaceId, subscriptionId: null, kind: 'pack',
      lines: [{ description: 'never finalized', amount_cents: 100 }], createdAt: new Date('2026-03-10T00:00:00Z'),
    });
    await voidInvoice(stack.sql, draft.id);
    const [row] = await stack.sql`SELECT status, number FROM invoices WHERE id = ${draft.id}`;
    expect(row).toEqual({ status: 'void', number: null });
  });

  it('the PDF and the hosted page carry the seller, the number beside the id, and Paid <date> on a paid invoice', async () => {
    const { customer, name } = await subscribed('pm_card_visa');
    const bought = await customer.post('/v1/credit-packs', { size: 500 });
    const invoice = (await customer.get(`/v1/invoices/${bought.body.invoice.id}`)).body;
    expect(invoice).toMatchObject({ id: bought.body.invoice.id, status: 'paid', paid_at: '2026-03-10T00:00:00.000Z' });
    expect(invoice.number).toMatch(/^TST-2026-\d{6}$/);

    const text = await pdfText(invoice.pdf_url);
    for (const expected of [SELLER.name, ...SELLER.address, `Tax ID: ${SELLER.taxId}`, `Invoice number: ${invoice.number}`, `Invoice id: ${invoice.id}`, `Billed to: ${name}`]) {
      expect(text).toContain(expected);
    }
    expect(text).toMatch(/Total\s+\$41\.00/);
    expect(text).toMatch(/Paid 2026-03-10\s+\$41\.00/);
    expect(text).not.toContain('Amount due');

    const page = await (await fetch(invoice.hosted_url)).text();
    expect(page).toContain('name="viewport"');
    expect(page).toContain(`<span id="number">${invoice.number}</span>`);
    expect(page).toContain(`<span id="invoice-id">${invoice.id}</span>`);
    for (const expected of [SELLER.name, ...SELLER.address, `Tax ID: ${SELLER.taxId}`]) expect(page).toContain(expected);
    expect(page).toMatch(/<th class="paid-stamp">Paid 2026-03-10<\/th><th>\$41\.00<\/th>/);
    expect(page).not.toContain('Amount due');
  });

  it('an invoice waiting for 3-D Secure says Amount due, and shows Paid on reload right after authenticating', async () => {
    const { customer } = await subscribed('pm_card_authenticationRequired');
    const bought = await customer.post('/v1/credit-packs', { size: 100 });
    const open = (await customer.get(`/v1/invoices/${bought.body.invoice.id}`)).body;
    expect([open.status, open.paid_at]).toEqual(['open', null]);
    expect(open.number).toMatch(/^TST-2026-\d{6}$/); // finalized: numbered while it waits
    expect(await pdfText(open.pdf_url)).toMatch(/Amount due\s+\$10\.00/);
    const waiting = await (await fetch(open.hosted_url)).text();
    expect(waiting).toMatch(/<th>Amount due<\/th><th>\$10\.00<\/th>/);
    expect(waiting).toContain('Complete authentication');

    const done = await authenticateOnHostedPage(open.hosted_url);
    expect([done.status, done.headers.get('location')]).toEqual([303, new URL(open.hosted_url).pathname]);
    // The reload right after shows the provider's state, whether or not invoice.paid has reached our mirror yet.
    const reloaded = await (await fetch(open.hosted_url)).text();
    expect(reloaded).toContain('<strong id="status">paid</strong>');
    expect(reloaded).toMatch(/Paid 2026-03-10<\/th><th>\$10\.00<\/th>/);
    expect(reloaded).not.toContain('Complete authentication');
    expect((await customer.get(`/v1/invoices/${open.id}`)).body.number).toBe(open.number); // the number does not change
  });

  it('GET /v1/invoices/{id}: a workspace reads its own, another\'s is 404, the operator reads any', async () => {
    const a = await subscribed('pm_card_visa');
    const b = await subscribed('pm_card_visa');
    const [ofA] = (await a.customer.get('/v1/invoices')).body.data;
    const [ofB] = (await b.customer.get('/v1/invoices')).body.data;
    const own = await a.customer.get(`/v1/invoices/${ofA.id}`);
    expect([own.status, own.body]).toEqual([200, ofA]);
    const other = await a.customer.get(`/v1/invoices/${ofB.id}`);
    expect([other.status, other.contentType, other.body.code]).toEqual([404, 'application/problem+json', 'not_found']);
    expect((await operator().get(`/v1/invoices/${ofB.id}`)).body).toEqual(ofB);
    expect((await a.customer.get('/v1/invoices/in_nothing')).status).toBe(404);
    expect((await a.customer.get(`/v1/invoices/${'x'.repeat(65)}`)).status).toBe(400);
  });
});
