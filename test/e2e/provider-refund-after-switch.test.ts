import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signStripePayload } from '../../payments/webhooks.js';
import { ADMIN_KEY, advanceClock, startStack, WEBHOOK_SECRET } from '../helpers/stack.js';
import { eventually } from '../helpers/temporal.js';

/**
 * SPEC §4/§10 on the whole stack (HTTP, webhooks, workflows, sandbox provider, test clock), README "A dispute lost
 * after a change": a refund made at the provider (Stripe's dashboard, `charge.refunded`) after an interval switch
 * takes the switch's credit back as a lost dispute does, without counting the operator's own refund (capped by the
 * credit) twice; what the balance lacks stays owed, settled by the balance a 3-D Secure pack held when its void
 * gives it back, and by a pack's balance refund. Max yearly 20880 paid 2026-01-01 by visa; 07-02 switch to monthly:
 * −10469 + 2900 = −7569 of customer balance; the operator refunds the 10411 left; two 500-credit packs (3280 each
 * on Max) are paid from the balance (1009 left); a third waits for 3-D Secure holding the 1009; then the dashboard
 * refunds the other 10469 of the charge.
 */
describe('a dashboard refund after an interval switch credited its period', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  const operator = () => stack.api(ADMIN_KEY);
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => stack?.stop());
  const settled = () => eventually(async () => (await stack.sql<{ n: number }[]>`
    SELECT (SELECT count(*) FROM sandbox_outbox WHERE delivered_at IS NULL)::int
         + (SELECT count(*) FROM webhook_events WHERE forwarded_at IS NULL)::int AS n`)[0]!.n, (n) => n === 0, 30_000);

  /** A Stripe-shaped `charge.refunded` for one of our invoices (the charge's total refunded), signed and delivered. */
  async function chargeRefunded(eventId: string, invoiceId: string, workspaceId: string, amountRefunded: number) {
    const text = JSON.stringify({
      id: eventId, object: 'event', type: 'charge.refunded', created: Math.floor(Date.now() / 1000),
      data: { object: { id: `ch_sbx_${invoiceId}`, object: 'charge', amount: 20880, amount_refunded: amountRefunded, refunded: amountRefunded >= 20880,
        currency: 'usd', status: 'succeeded', metadata: { invoice_id: invoiceId, workspace_id: workspaceId } } },
    });
    const response = await fetch(`${stack.baseUrl}/webhooks/stripe`, {
      method: 'POST', body: text, headers: { 'content-type': 'application/json', 'stripe-signature': signStripePayload(text, WEBHOOK_SECRET) },
    });
    expect(response.status).toBe(200);
    await settled();
  }

  it('takes back 10469 once: nothing from the operator refund, then as the held and refunded balance comes back', async () => {
    const clockId = (await operator().post('/v1/test-clocks', { frozen_time: '2026-01-01T00:00:00Z' })).body.id as string;
    const ws = (await operator().post('/v1/workspaces', { name: 'dashboard refund after switch', test_clock_id: clockId })).body;
    const customer = stack.api(ws.api_key);
    const setCard = async (pm: string) => expect((await customer.put('/v1/payment-method', { payment_method: pm })).status).toBe(200);
    await setCard('pm_card_visa');
    expect((await customer.post('/v1/subscription', { plan: 'max', interval: 'year' })).status).toBe(201);
    const [yearly] = await stack.sql<{ id: string }[]>`SELECT id FROM invoices WHERE workspace_id = ${ws.id} ORDER BY seq LIMIT 1`;
    await advanceClock(operator(), clockId, '2026-07-02T00:00:00Z');
    expect((await customer.post('/v1/subscription/change', { interval: 'month' })).body.latest_invoice).toMatchObject({ total_cents: -7569 });
    const balance = async () => Number((await stack.sql`SELECT customer_balance_cents FROM workspaces WHERE id = ${ws.id}`)[0]!.customer_balance_cents);
    const notes = () => stack.sql<{ source: string; amount_cents: number; taken: number; owed: number }[]>`
      SELECT source, amount_cents::int, balance_taken_back_cents::int AS taken, balance_shortfall_cents::int AS owed
      FROM credit_notes WHERE invoice_id = ${yearly!.id} ORDER BY seq`;

    // The operator refunds what is left (the switch credited the rest): it owes no take-back; its echo adds nothing.
    expect((await operator().post(`/v1/admin/invoices/${yearly!.id}/refund`, { amount_cents: 10412, reason: 'too much' })).body)
      .toMatchObject({ code: 'refund_exceeds_paid', refundable_cents: 10411 });
    expect((await operator().post(`/v1/admin/invoices/${yearly!.id}/refund`, { amount_cents: 10411, reason: 'goodwill' })).status).toBe(201);
    await settled();
    expect(await notes()).toEqual([{ source: 'operator', amount_cents: 10411, taken: 0, owed: 0 }]);
    expect(await balance()).toBe(7569);

    // Two 500-credit packs paid from the balance, a third waiting for 3-D Secure holding what is left.
    const paidPacks: string[] = [];
    for (let i = 0; i < 2; i++) {
      const pack = (await customer.post('/v1/credit-packs', { pack: 500 })).body.invoice;
      expect(pack).toMatchObject({ status: 'paid', total_cents: 3280, amount_due_cents: 0 });
      paidPacks.push(pack.id);
    }
    await setCard('pm_card_authenticationRequired');
    const held = (await customer.post('/v1/credit-packs', { pack: 500 })).body.invoice;
    expect(held).toMatchObject({ status: 'open', amount_due_cents: 3280 - 1009 });
    await setCard('pm_card_visa');
    expect(await balance()).toBe(0);

    // The dashboard refunds the rest of the charge: 10469, the switch's credit, now paid back on the card too.
    await chargeRefunded(`evt_dash_${yearly!.id}`, yearly!.id, ws.id, 20880);
    const provider = { source: 'provider', amount_cents: 10469 };
    expect((await notes())[1]).toEqual({ ...provider, taken: 0, owed: 10469 });
    await chargeRefunded(`evt_dash_again_${yearly!.id}`, yearly!.id, ws.id, 20880);
    expect(await notes()).toHaveLength(2);

    // The 3-D Secure pack lapses 23 hours later: the 1009 it held settle what is owed.
    await advanceClock(operator(), clockId, '2026-07-03T01:00:00Z');
    await settled();
    await eventually(async () => (await stack.sql`SELECT status FROM invoices WHERE id = ${held.id}`)[0]!.status, (s) => s === 'void', 30_000);
    expect((await notes())[1]).toEqual({ ...provider, taken: 1009, owed: 9460 });
    expect(await balance()).toBe(0);

    // A pack paid from the balance refunded in full: its 3280 return to the balance, which owes them.
    const refunded = await operator().post(`/v1/admin/invoices/${paidPacks[0]}/refund`, { reason: 'unused pack' });
    expect(refunded.body).toMatchObject({ amount_cents: 3280, refunded_to_card_cents: 0, credited_to_balance_cents: 3280 });
    await settled();
    expect((await notes())[1]).toEqual({ ...provider, taken: 4289, owed: 6180 });
    expect(await balance()).toBe(0);
    // Still owed, 6180: the pack kept (3280) and July (2900), both paid from the credit the card also got back.
  });
});
