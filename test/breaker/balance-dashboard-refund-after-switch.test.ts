import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signStripePayload } from '../../payments/webhooks.js';
import { ADMIN_KEY, advanceClock, startStack, WEBHOOK_SECRET } from '../helpers/stack.js';
import { eventually } from '../helpers/temporal.js';

/**
 * Breaker (balance) finding: a refund made at the provider (Stripe's dashboard, `charge.refunded`) after an interval
 * switch credited the refunded invoice's unused time pays that time back twice. Max yearly 20880 paid 2026-01-01; on
 * 2026-07-02 a switch to monthly credits 10469 of the year's unused time (total −7569 → customer balance 7569); then
 * the whole charge is refunded in the dashboard. The operator's own refund is capped at 10411 (what the switch did not
 * credit), and a LOST DISPUTE of the same charge takes the switch's credit back from the balance
 * (domain/billing/lost-dispute-takeback.ts); the dashboard refund does neither: the customer keeps 20880 on the card
 * AND 7569 of balance (and July paid from the credit). Expected as for a lost dispute: balance 0, shortfall 2900.
 */
describe('breaker balance finding: a dashboard refund after a switch', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  const operator = () => stack.api(ADMIN_KEY);
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => stack?.stop());
  const settled = () => eventually(async () => (await stack.sql<{ n: number }[]>`
    SELECT (SELECT count(*) FROM sandbox_outbox WHERE delivered_at IS NULL)::int
         + (SELECT count(*) FROM webhook_events WHERE forwarded_at IS NULL)::int AS n`)[0]!.n, (n) => n === 0, 30_000);

  it('takes the switch credit back from the customer balance, as a lost dispute does', async () => {
    const clockId = (await operator().post('/v1/test-clocks', { frozen_time: '2026-01-01T00:00:00Z' })).body.id as string;
    const ws = (await operator().post('/v1/workspaces', { name: 'dashboard refund after switch', test_clock_id: clockId })).body;
    const customer = stack.api(ws.api_key);
    expect((await customer.put('/v1/payment-method', { payment_method: 'pm_card_visa' })).status).toBe(200);
    expect((await customer.post('/v1/subscription', { plan: 'max', interval: 'year' })).status).toBe(201);
    const [yearly] = await stack.sql<{ id: string }[]>`SELECT id FROM invoices WHERE workspace_id = ${ws.id} ORDER BY seq LIMIT 1`;
    await advanceClock(operator(), clockId, '2026-07-02T00:00:00Z');
    const switched = await customer.post('/v1/subscription/change', { interval: 'month' });
    expect(switched.body.latest_invoice).toMatchObject({ total_cents: -7569 });
    const balance = async () => Number((await stack.sql`SELECT customer_balance_cents FROM workspaces WHERE id = ${ws.id}`)[0]!.customer_balance_cents);
    expect(await balance()).toBe(7569);

    // Stripe's dashboard refunds the whole yearly charge.
    const payload = {
      id: `evt_dash_${yearly!.id}`, object: 'event', type: 'charge.refunded', created: Math.floor(Date.now() / 1000),
      data: { object: { id: `ch_sbx_${yearly!.id}`, object: 'charge', amount: 20880, amount_refunded: 20880, refunded: true,
        currency: 'usd', status: 'succeeded', metadata: { invoice_id: yearly!.id, workspace_id: ws.id } } },
    };
    const text = JSON.stringify(payload);
    const delivered = await fetch(`${stack.baseUrl}/webhooks/stripe`, {
      method: 'POST', body: text, headers: { 'content-type': 'application/json', 'stripe-signature': signStripePayload(text, WEBHOOK_SECRET) },
    });
    expect(delivered.status).toBe(200);
    await settled();
    const notes = await stack.sql<{ source: string; amount_cents: number; refunded_to_card_cents: number; taken: number; shortfall: number }[]>`
      SELECT source, amount_cents::int, refunded_to_card_cents::int, balance_taken_back_cents::int AS taken, balance_shortfall_cents::int AS shortfall
      FROM credit_notes WHERE invoice_id = ${yearly!.id}`;
    expect(notes.map((n) => [n.source, n.amount_cents, n.refunded_to_card_cents])).toEqual([['provider', 20880, 20880]]);
    // Money returned for the year: 20880 on the card + 10469 of unused-time credit = 31349 for 20880 paid.
    // As for a lost dispute (same bank-side facts): the 7569 left of that credit leave the balance, 2900 shortfall.
    expect({ balance: await balance(), taken: notes[0]!.taken, shortfall: notes[0]!.shortfall }).toEqual({ balance: 0, taken: 7569, shortfall: 2900 });
  });
});
