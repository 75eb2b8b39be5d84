import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities/index.js';
import { draftInvoice, getInvoice, markInvoice } from '../../ledger/invoices.js';
import { createWorkspace } from '../../ledger/workspaces.js';
import { createStripeProvider } from '../../payments/stripe.js';
import { voidUnpaidInvoice } from '../../payments/void-invoice.js';
import { freshDatabase } from '../helpers/database.js';
import { recordedStripeMock } from '../helpers/stripe-mock.js';

/**
 * Stripe mode: the workflow's voidInvoice activity (a declined change or a lapsed first invoice) voids the
 * Stripe invoice first, so the customer cannot pay it on its hosted page for nothing, then ours; one paid
 * at Stripe meanwhile stays open here for its webhook. Real SDK against stripe-mock via the recording proxy.
 */
describe('voiding an invoice in Stripe mode', () => {
  const stripeMock = recordedStripeMock();
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let activities: ReturnType<typeof createActivities>;
  let payments: ReturnType<typeof createStripeProvider>;

  beforeAll(async () => {
    db = await freshDatabase();
    payments = createStripeProvider({ secretKey: 'sk_test_voidinvoice', webhookSecret: 'whsec_void', apiBase: stripeMock.proxy.apiBase, publicUrl: 'https://credits.example.test' });
    activities = createActivities({ sql: db.sql, payments });
  });
  afterAll(async () => db?.drop());
  const proxy = () => stripeMock.proxy;

  /** An open upgrade invoice of ours whose Stripe invoice is `providerInvoiceId`. */
  async function openInvoice(businessKey: string, providerInvoiceId: string): Promise<string> {
    const { id: workspaceId } = await createWorkspace(db.sql, { name: 'Void', testClockId: null });
    const invoice = await draftInvoice(db.sql, {
      businessKey, workspaceId, subscriptionId: null, kind: 'upgrade', createdAt: new Date('2026-03-12T00:00:00Z'),
      lines: [{ description: 'Max plan (monthly), Mar 12 – Apr 1', amount_cents: 1733 }],
    });
    await markInvoice(db.sql, invoice.id, { status: 'open', providerInvoiceId, error: 'card_declined' });
    return invoice.id;
  }

  it('voids the Stripe invoice (keyed by our invoice\'s business key), then ours', async () => {
    const invoiceId = await openInvoice('sub_v:1:upgrade:max', 'in_stripe_void_1');
    await activities.voidInvoice({ invoiceId });
    await activities.voidInvoice({ invoiceId }); // a retried activity: nothing more at Stripe

    expect(proxy().requests.map((r) => [r.method, r.path, r.idempotencyKey, r.status])).toEqual([
      ['POST', '/v1/invoices/in_stripe_void_1/void', 'sub_v:1:upgrade:max:void', 200],
    ]);
    expect((await getInvoice(db.sql, invoiceId))?.status).toBe('void');
  });

  it('leaves ours open when the customer paid the Stripe invoice meanwhile', async () => {
    const invoiceId = await openInvoice('sub_p:1:upgrade:max', 'in_stripe_paid_1');
    proxy().script = (request) => {
      if (request.method === 'POST' && request.path.endsWith('/void')) {
        return { status: 400, body: { error: { type: 'invalid_request_error', message: 'You can only pass in open invoices.' } } };
      }
      if (request.method === 'GET') return { status: 200, body: { id: 'in_stripe_paid_1', object: 'invoice', status: 'paid', metadata: {} } };
      return undefined;
    };
    await activities.voidInvoice({ invoiceId });
    expect(proxy().requests.map((r) => [r.method, r.path])).toEqual([
      ['POST', '/v1/invoices/in_stripe_paid_1/void'], ['GET', '/v1/invoices/in_stripe_paid_1'],
    ]);
    expect((await getInvoice(db.sql, invoiceId))?.status).toBe('open');
  });

  it('voids ours when the Stripe invoice is already void (voided meanwhile, e.g. on the Dashboard)', async () => {
    const invoiceId = await openInvoice('sub_d:1:upgrade:max', 'in_stripe_dashboard_void');
    proxy().script = (request) => {
      if (request.method === 'POST' && request.path.endsWith('/void')) {
        return { status: 400, body: { error: { type: 'invalid_request_error', message: 'You can only pass in open invoices.' } } };
      }
      if (request.method === 'GET') return { status: 200, body: { id: 'in_stripe_dashboard_void', object: 'invoice', status: 'void', metadata: {} } };
      return undefined;
    };
    expect(await voidUnpaidInvoice(db.sql, payments, invoiceId)).toBe('void');
    expect((await getInvoice(db.sql, invoiceId))?.status).toBe('void');
  });

  it('voids ours when Stripe does not know the invoice (nothing can be paid there; no retry could change that)', async () => {
    const invoiceId = await openInvoice('sub_m:1:upgrade:max', 'in_stripe_missing');
    const missing = { status: 404, body: { error: { type: 'invalid_request_error', code: 'resource_missing', param: 'invoice', message: "No such invoice: 'in_stripe_missing'" } } };
    proxy().script = () => missing;
    expect(await voidUnpaidInvoice(db.sql, payments, invoiceId)).toBe('void');
    expect((await getInvoice(db.sql, invoiceId))?.status).toBe('void');
  });
});
