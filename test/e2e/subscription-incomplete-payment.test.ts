import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, startStack } from '../helpers/stack.js';
import { eventually } from '../helpers/temporal.js';
import { authenticateOnHostedPage } from '../helpers/hosted-page.js';

/**
 * SPEC §4 Subscribe: an incomplete subscription says why. GET /v1/subscription (the projection) shows the
 * same incomplete_payment as the subscribe answer (the workflow's view): the outcome, the invoice to pay,
 * its hosted URL and the 23-hour deadline; null again once the first payment succeeds.
 */
describe('GET /v1/subscription: incomplete_payment', () => {
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

  it('3-D Secure pending: requires_action with the invoice, its hosted URL and the deadline; null once authenticated', async () => {
    const customer = await customerOn('pm_card_authenticationRequired');
    const sub = await customer.post('/v1/subscription', { plan: 'max', interval: 'month' });
    expect([sub.status, sub.body.status]).toEqual([201, 'incomplete']);
    const [invoice] = (await customer.get('/v1/invoices')).body.data;
    expect(sub.body.incomplete_payment).toEqual({
      outcome: 'requires_action', decline_code: null, invoice_id: invoice.id, hosted_url: invoice.hosted_url,
      expires_at: '2026-01-01T23:00:00.000Z',
    });
    const shown = await eventually(() => customer.get('/v1/subscription'), (r) => r.body.incomplete_payment !== null);
    expect(shown.body).toMatchObject({ status: 'incomplete', incomplete_payment: sub.body.incomplete_payment });

    await authenticateOnHostedPage(`${stack.baseUrl}/sandbox/invoices/${invoice.id}`);
    const active = await eventually(() => customer.get('/v1/subscription'), (r) => r.body.status === 'active');
    expect(active.body.incomplete_payment).toBeNull();
  });

  it('declined: the decline code and the open invoice', async () => {
    const customer = await customerOn('pm_card_chargeDeclined');
    const sub = await customer.post('/v1/subscription', { plan: 'plus', interval: 'month' });
    expect(sub.body.status).toBe('incomplete');
    const [invoice] = (await customer.get('/v1/invoices')).body.data;
    expect(sub.body.incomplete_payment).toMatchObject({
      outcome: 'declined', decline_code: 'card_declined', invoice_id: invoice.id, expires_at: '2026-01-01T23:00:00.000Z',
    });
    const shown = await eventually(() => customer.get('/v1/subscription'), (r) => r.body.incomplete_payment !== null);
    expect(shown.body.incomplete_payment).toEqual(sub.body.incomplete_payment);
  });
});
