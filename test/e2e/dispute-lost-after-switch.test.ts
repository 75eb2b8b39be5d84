import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signStripePayload } from '../../payments/webhooks.js';
import { ADMIN_KEY, advanceClock, startStack, WEBHOOK_SECRET } from '../helpers/stack.js';
import { eventually } from '../helpers/temporal.js';

/**
 * SPEC §4/§10 on the whole stack (regression of the breaker's dispute-lost-then-switch): Max yearly 20880 paid on
 * 2026-01-01 with `pm_card_createDispute` (the sandbox opens a dispute after the payment); on 2026-07-02 a switch
 * to monthly credits 10469 of unused time (the invoice's negative total becomes customer balance); then the
 * dispute is lost: the bank returns all 20880 (credit note, no provider refund), so the 10469 the switch credited
 * for the same time is taken back from the customer balance, as far as it goes; what it lacks is recorded on the
 * note as `balance_shortfall_cents`. Duplicate and late dispute events change nothing more.
 */
describe('a dispute lost after an interval switch credited its period', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  const operator = () => stack.api(ADMIN_KEY);
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => stack?.stop());

  const settled = () => eventually(() => stack.sql`SELECT id FROM webhook_events WHERE forwarded_at IS NULL`, (rows) => rows.length === 0);

  /** A Stripe-shaped dispute event for one of our invoices, signed and delivered to the webhook endpoint. */
  async function deliverDispute(eventId: string, type: string, dispute: { id: string; status: string; invoiceId: string; workspaceId: string; amount: number }) {
    const payload = {
      id: eventId, object: 'event', type, created: Math.floor(Date.now() / 1000),
      data: { object: { id: dispute.id, object: 'dispute', amount: dispute.amount, currency: 'usd', status: dispute.status, charge: `ch_${dispute.invoiceId}`,
        payment_intent: `pi_${dispute.invoiceId}`, metadata: { invoice_id: dispute.invoiceId, workspace_id: dispute.workspaceId } } },
    };
    const body = JSON.stringify(payload);
    const response = await fetch(`${stack.baseUrl}/webhooks/stripe`, {
      method: 'POST', body, headers: { 'content-type': 'application/json', 'stripe-signature': signStripePayload(body, WEBHOOK_SECRET) },
    });
    expect(response.status).toBe(200);
  }

  it('takes back from the customer balance what the switch credited for the disputed year, the rest recorded as shortfall', async () => {
    const clockId = (await operator().post('/v1/test-clocks', { frozen_time: '2026-01-01T00:00:00Z' })).body.id as string;
    const ws = (await operator().post('/v1/workspaces', { name: 'dispute lost after switch', test_clock_id: clockId })).body;
    const customer = stack.api(ws.api_key);
    expect((await customer.put('/v1/payment-method', { payment_method: 'pm_card_createDispute' })).status).toBe(200);
    expect((await customer.post('/v1/subscription', { plan: 'max', interval: 'year' })).status).toBe(201);
    expect((await customer.put('/v1/payment-method', { payment_method: 'pm_card_visa' })).status).toBe(200);
    const [yearly] = await stack.sql<{ id: string; total_cents: number }[]>`
      SELECT id, total_cents::int FROM invoices WHERE workspace_id = ${ws.id} ORDER BY seq LIMIT 1`;
    expect(yearly!.total_cents).toBe(20880);
    const [sandboxDispute] = await eventually(() => stack.sql<{ id: string }[]>`SELECT id FROM sandbox_disputes WHERE workspace_id = ${ws.id}`, (rows) => rows.length === 1);
    await eventually(() => stack.sql`SELECT id FROM disputes WHERE invoice_id = ${yearly!.id}`, (rows) => rows.length === 1);
    await settled();

    await advanceClock(operator(), clockId, '2026-07-02T00:00:00Z');
    const switched = await customer.post('/v1/subscription/change', { interval: 'month' });
    expect(switched.status).toBe(200);
    const lines = switched.body.latest_invoice.lines as { description: string; amount_cents: number }[];
    expect(lines.find((l) => l.description.startsWith('Unused time on '))?.amount_cents).toBe(-10469);
    const switchTotal = switched.body.latest_invoice.total_cents as number;
    expect(switchTotal).toBeLessThan(0);
    const balance = async () => Number((await stack.sql`SELECT customer_balance_cents FROM workspaces WHERE id = ${ws.id}`)[0]!.customer_balance_cents);
    const balanceAfterSwitch = await balance();
    expect(balanceAfterSwitch).toBe(-switchTotal);

    expect((await operator().post(`/v1/admin/sandbox/disputes/${sandboxDispute!.id}/close`, { outcome: 'lost' })).status).toBe(200);
    const notes = () => stack.sql<{ source: string; amount_cents: number; refunded_to_card_cents: number; taken: number; shortfall: number; status: string }[]>`
      SELECT source, amount_cents::int, refunded_to_card_cents::int, balance_taken_back_cents::int AS taken, balance_shortfall_cents::int AS shortfall, status
      FROM credit_notes WHERE invoice_id = ${yearly!.id} ORDER BY seq`;
    const [note] = await eventually(notes, (rows) => rows.length === 1 && rows[0]!.status === 'issued');
    await settled();
    // The bank returned everything; the switch's 10469 for the same half year leaves the balance (all of it, 10469 > balance).
    expect(note).toMatchObject({ source: 'dispute_lost', amount_cents: 20880, refunded_to_card_cents: 20880, taken: balanceAfterSwitch, shortfall: 10469 - balanceAfterSwitch });
    expect(await balance()).toBe(0);
    expect(await stack.sql`SELECT id FROM sandbox_refunds WHERE invoice_id = ${yearly!.id}`).toHaveLength(0);

    // Duplicates (new event ids, the same outcome) and a late `created`: one note, one take-back.
    const [disputeRow] = await stack.sql<{ id: string }[]>`SELECT id FROM disputes WHERE invoice_id = ${yearly!.id}`;
    const event = { id: disputeRow!.id, invoiceId: yearly!.id, workspaceId: ws.id as string, amount: 20880 };
    await deliverDispute('evt_switch_lost_again_1', 'charge.dispute.closed', { ...event, status: 'lost' });
    await deliverDispute('evt_switch_lost_again_2', 'charge.dispute.closed', { ...event, status: 'lost' });
    await deliverDispute('evt_switch_created_late', 'charge.dispute.created', { ...event, status: 'needs_response' });
    await settled();
    expect(await notes()).toEqual([note]);
    expect(await balance()).toBe(0);
    // A dispute does not change the subscription.
    expect((await customer.get('/v1/subscription')).body).toMatchObject({ status: 'active', plan: 'max', interval: 'month' });
  });
});
