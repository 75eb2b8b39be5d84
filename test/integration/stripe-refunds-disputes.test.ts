import Stripe from 'stripe';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../api/app.js';
import { applyPaymentEvent } from '../../api/webhooks/inbox.js';
import { deliverPack } from '../../billing/packs.js';
import { refundInvoice } from '../../billing/refunds.js';
import { draftInvoice, markInvoice } from '../../ledger/invoices.js';
import { createWorkspace } from '../../ledger/workspaces.js';
import { createStripeProvider, type StripeProvider } from '../../payments/stripe.js';
import { freshDatabase } from '../helpers/database.js';
import { recordedStripeMock } from '../helpers/stripe-mock.js';

/**
 * Stripe mode (SPEC §10): an operator's refund goes to Stripe (through stripe-mock, the invoice's payment
 * scripted), Stripe's charge and dispute events, which carry no metadata of ours, find our invoice through
 * its PaymentIntent, and the sandbox's dispute route does not exist (404).
 */
describe('refunds and disputes in Stripe mode', () => {
  const webhookSecret = 'whsec_refunds';
  const adminKey = 'operator-key-stripe-refunds';
  const stripeMock = recordedStripeMock();
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let stripe: StripeProvider;
  let temporal: Client;
  beforeAll(async () => {
    db = await freshDatabase();
    stripe = createStripeProvider({ secretKey: 'sk_test_refunds', webhookSecret, apiBase: stripeMock.proxy.apiBase, publicUrl: 'https://credits.example.test' });
    temporal = new Client({ connection: Connection.lazy({ address: '127.0.0.1:1' }) });
  });
  afterAll(async () => db?.drop());

  /** A pack invoice of ours paid at Stripe by `in_stripe_<n>` through `pi_<n>`, its lot delivered. */
  async function paidPack(n: number) {
    const ws = await createWorkspace(db.sql, { name: `stripe ${n}`, testClockId: null });
    const at = new Date();
    const invoice = await draftInvoice(db.sql, { businessKey: `pack:${ws.id}:${n}`, workspaceId: ws.id, subscriptionId: null, kind: 'pack',
      lines: [{ description: '100 credit pack', amount_cents: 1000 }], createdAt: at, metadata: { pack_credits: 100 } });
    const paid = await markInvoice(db.sql, invoice.id, { status: 'paid', paidAt: at, providerInvoiceId: `in_stripe_${n}` });
    await deliverPack(db.sql, paid, at);
    return { workspaceId: ws.id, invoiceId: invoice.id, providerInvoiceId: `in_stripe_${n}`, paymentIntent: `pi_${n}` };
  }

  /** stripe-mock cannot hold our invoice's payment: the proxy answers the invoice-payment lookups (both ways). */
  function scriptPayments(pack: Awaited<ReturnType<typeof paidPack>>) {
    stripeMock.proxy.script = (request) => {
      if (request.path === '/v1/invoice_payments') {
        return { status: 200, body: { object: 'list', url: '/v1/invoice_payments', has_more: false, data: [{ id: 'inpay_1', object: 'invoice_payment',
          invoice: pack.providerInvoiceId, status: 'paid', payment: { type: 'payment_intent', payment_intent: pack.paymentIntent } }] } };
      }
      if (request.path === `/v1/invoices/${pack.providerInvoiceId}`) {
        return { status: 200, body: { id: pack.providerInvoiceId, object: 'invoice', status: 'paid', metadata: { invoice_id: pack.invoiceId } } };
      }
      return undefined;
    };
  }

  /** An event as Stripe sends it: signed, verified and reduced by the provider. */
  function event(type: string, object: Record<string, unknown>, id: string) {
    const payload = JSON.stringify({ id, object: 'event', type, created: Math.floor(Date.now() / 1000), data: { object } });
    return stripe.parseWebhook(payload, Stripe.webhooks.generateTestHeaderString({ payload, secret: webhookSecret }));
  }
  const notes = (invoiceId: string) => db.sql`SELECT source, amount_cents, refunded_to_card_cents, credits_clawed_back, status FROM credit_notes WHERE invoice_id = ${invoiceId} ORDER BY seq`;

  it('refunds through Stripe, and applies a dashboard refund from a charge.refunded without our metadata as the difference', async () => {
    const pack = await paidPack(1);
    scriptPayments(pack);
    const note = await refundInvoice({ sql: db.sql, payments: stripe }, { invoiceId: pack.invoiceId, amountCents: 300, reason: 'ours' });
    expect(note).toMatchObject({ status: 'issued', refunded_to_card_cents: 300, credits_clawed_back: 30 });
    expect(note.provider_refund_id).toMatch(/^re_/);
    const refundWrite = stripeMock.proxy.requests.find((r) => r.method === 'POST' && r.path === '/v1/refunds')!;
    expect([refundWrite.status, refundWrite.idempotencyKey, refundWrite.params.payment_intent, refundWrite.params.amount])
      .toEqual([200, `${pack.invoiceId}:refund:1:provider-refund`, pack.paymentIntent, '300']);

    const charge = { id: 'ch_1', object: 'charge', amount: 1000, status: 'succeeded', payment_intent: pack.paymentIntent, metadata: {} };
    const deps = { sql: db.sql, temporal, stripe };
    await applyPaymentEvent(deps, event('charge.refunded', { ...charge, amount_refunded: 300 }, 'evt_echo'));
    await applyPaymentEvent(deps, event('charge.refunded', { ...charge, amount_refunded: 700 }, 'evt_dashboard'));
    await applyPaymentEvent(deps, event('charge.refunded', { ...charge, amount_refunded: 700 }, 'evt_dashboard_again'));
    expect(await notes(pack.invoiceId)).toEqual([
      { source: 'operator', amount_cents: 300, refunded_to_card_cents: 300, credits_clawed_back: 30, status: 'issued' },
      { source: 'provider', amount_cents: 400, refunded_to_card_cents: 400, credits_clawed_back: 40, status: 'issued' },
    ]);
  });

  it('a lost dispute found through its PaymentIntent: one credit note, no refund at Stripe', async () => {
    const pack = await paidPack(2);
    scriptPayments(pack);
    const dispute = { id: 'dp_stripe_1', object: 'dispute', amount: 1000, currency: 'usd', charge: 'ch_2', payment_intent: pack.paymentIntent, metadata: {} };
    const deps = { sql: db.sql, temporal, stripe };
    await applyPaymentEvent(deps, event('charge.dispute.created', { ...dispute, status: 'needs_response' }, 'evt_dp_created'));
    expect((await db.sql`SELECT dispute_freeze_key FROM lots WHERE workspace_id = ${pack.workspaceId}`)[0]!.dispute_freeze_key).toBe('dispute:dp_stripe_1:freeze');
    await applyPaymentEvent(deps, event('charge.dispute.closed', { ...dispute, status: 'lost' }, 'evt_dp_closed'));
    await applyPaymentEvent(deps, event('charge.dispute.closed', { ...dispute, status: 'lost' }, 'evt_dp_closed_again'));
    expect(await notes(pack.invoiceId)).toEqual([{ source: 'dispute_lost', amount_cents: 1000, refunded_to_card_cents: 1000, credits_clawed_back: 100, status: 'issued' }]);
    expect(stripeMock.proxy.requests.filter((r) => r.method === 'POST')).toEqual([]);
  });

  it('has no sandbox dispute route: 404', async () => {
    const app = createApp({
      sql: db.sql, temporal, taskQueue: 'none', adminApiKey: adminKey, payments: stripe, stripe, webhookSecret, publicUrl: 'https://credits.example.test',
    });
    const response = await app.request('/v1/admin/sandbox/disputes/dp_stripe_1/close', {
      method: 'POST', headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ outcome: 'won' }),
    });
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ code: 'not_found' });
  });
});
