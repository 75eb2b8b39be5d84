import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, advanceClock, startStack } from '../helpers/stack.js';
import { eventually } from '../helpers/temporal.js';

interface Invoice { id: string; kind: string; status: string; lines: { description: string; amount_cents: number }[]; total_cents: number; amount_due_cents: number; created_at: string }

/**
 * SPEC §10 GET /v1/invoices/upcoming over HTTP: the next scheduled charge in every state, and the invoice the
 * schedule then makes equals what it showed (lines, total, balance applied, amount due).
 */
describe('the upcoming invoice over HTTP', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => stack?.stop());

  async function customer(plan: string, interval: 'month' | 'year', start: string, card = 'pm_card_visa') {
    const operator = stack.api(ADMIN_KEY);
    const clock = await operator.post('/v1/test-clocks', { frozen_time: start });
    const ws = await operator.post('/v1/workspaces', { name: `upcoming ${plan}`, test_clock_id: clock.body.id });
    const api = stack.api(ws.body.api_key);
    expect((await api.put('/v1/payment-method', { payment_method: 'pm_card_visa' })).status).toBe(200);
    expect((await api.post('/v1/subscription', { plan, interval })).status).toBe(201);
    if (card !== 'pm_card_visa') expect((await api.put('/v1/payment-method', { payment_method: card })).status).toBe(200);
    return { api, advance: (to: string) => advanceClock(operator, clock.body.id, to) };
  }

  /** The upcoming invoice, then the invoice the schedule makes at its time: they agree to the cent. */
  async function upcomingThenCharged(api: ReturnType<typeof stack.api>, advance: (to: string) => Promise<void>) {
    const upcoming = await api.get('/v1/invoices/upcoming');
    expect(upcoming.status).toBe(200);
    await advance(upcoming.body.next_attempt_at);
    const invoices = await eventually(
      async () => (await api.get<{ data: Invoice[] }>('/v1/invoices')).body.data,
      (list) => list.some((i) => i.kind === 'subscription' && Date.parse(i.created_at) === Date.parse(upcoming.body.next_attempt_at)),
    );
    const made = invoices.find((i) => i.kind === 'subscription' && Date.parse(i.created_at) === Date.parse(upcoming.body.next_attempt_at))!;
    expect({ lines: made.lines, total: made.total_cents, applied: Math.max(made.total_cents, 0) - made.amount_due_cents, due: made.amount_due_cents }).toEqual({
      lines: upcoming.body.lines, total: upcoming.body.total_cents, applied: upcoming.body.balance_applied_cents, due: upcoming.body.amount_due_cents,
    });
    return upcoming.body;
  }

  it('after a switch to monthly shows the customer balance applied, renewal after renewal (SPEC example 5)', async () => {
    const { api, advance } = await customer('max', 'year', '2026-01-01T00:00:00Z');
    const yearly = (await api.get('/v1/invoices/upcoming')).body;
    expect(yearly).toMatchObject({ reason: 'renewal', plan: 'max', interval: 'year', next_attempt_at: '2027-01-01T00:00:00.000Z', total_cents: 20880, amount_due_cents: 20880 });
    await advance('2026-07-02T00:00:00Z');
    expect((await api.post('/v1/subscription/change', { interval: 'month' })).status).toBe(200);
    const first = await upcomingThenCharged(api, advance);
    expect(first).toMatchObject({ next_attempt_at: '2026-08-01T00:00:00.000Z', total_cents: 2900, balance_applied_cents: 2900, amount_due_cents: 0 });
    const second = await upcomingThenCharged(api, advance);
    expect(second).toMatchObject({ next_attempt_at: '2026-08-31T00:00:00.000Z', balance_applied_cents: 2900, amount_due_cents: 0 });
    const third = await upcomingThenCharged(api, advance);
    expect(third).toMatchObject({ next_attempt_at: '2026-09-30T00:00:00.000Z', balance_applied_cents: 1769, amount_due_cents: 1131 });
  });

  it('shows the renewal at a scheduled downgrade\'s price, and the charge at a pause\'s end', async () => {
    const { api, advance } = await customer('max', 'month', '2026-01-01T00:00:00Z');
    await advance('2026-01-20T00:00:00Z');
    expect((await api.post('/v1/subscription/change', { plan: 'plus' })).status).toBe(200);
    const downgraded = await upcomingThenCharged(api, advance);
    expect(downgraded).toMatchObject({ reason: 'renewal', plan: 'plus', next_attempt_at: '2026-01-31T00:00:00.000Z', total_cents: 1200, amount_due_cents: 1200 });
    expect((await api.post('/v1/subscription/pause', { cycles: 1 })).status).toBe(200);
    const resumed = await upcomingThenCharged(api, advance);
    // Paused at the period end 03-02 for one cycle (30 days): charged again on 04-01, a new anchor.
    expect(resumed).toMatchObject({ reason: 'pause_end', plan: 'plus', next_attempt_at: '2026-04-01T00:00:00.000Z', total_cents: 1200 });
  });

  it('while past due shows the open invoice with its next attempt; nothing when canceling (404 no_upcoming_invoice)', async () => {
    const { api, advance } = await customer('max', 'month', '2026-01-01T00:00:00Z', 'pm_card_chargeDeclined');
    await advance('2026-01-31T00:00:00Z');
    await eventually(async () => (await api.get('/v1/subscription')).body.status, (s) => s === 'past_due');
    const open = (await api.get<{ data: Invoice[] }>('/v1/invoices')).body.data.find((i) => i.status === 'open')!;
    const upcoming = await api.get('/v1/invoices/upcoming');
    expect(upcoming.status).toBe(200);
    expect(upcoming.body).toMatchObject({ reason: 'dunning_retry', invoice_id: open.id, total_cents: 2900, amount_due_cents: 2900, next_attempt_at: '2026-02-01T00:00:00.000Z' });
    expect((await api.put('/v1/payment-method', { payment_method: 'pm_card_visa' })).status).toBe(200);
    await eventually(async () => (await api.get('/v1/subscription')).body.status, (s) => s === 'active');
    expect((await api.post('/v1/subscription/cancel', {})).status).toBe(200);
    const none = await api.get('/v1/invoices/upcoming');
    expect([none.status, none.body.code]).toEqual([404, 'no_upcoming_invoice']);
  });
});
