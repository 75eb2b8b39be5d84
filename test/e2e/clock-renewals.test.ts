import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, advanceClock, startStack } from '../helpers/stack.js';

describe('end to end over HTTP on the Temporal dev server, driven by a test clock', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => stack?.stop());

  it('charges and grants on subscribe, renews every 30 days and expires the rolled-over lot on time', async () => {
    const operator = stack.api(ADMIN_KEY);
    const clock = await operator.post('/v1/test-clocks', { frozen_time: '2026-01-01T00:00:00Z' });
    expect(clock.status).toBe(201);
    const ws = await operator.post('/v1/workspaces', { name: 'Rollover studio', test_clock_id: clock.body.id });
    expect(ws.status).toBe(201);
    const customer = stack.api(ws.body.api_key);
    expect((await customer.put('/v1/payment-method', { payment_method: 'pm_card_visa' })).status).toBe(200);

    const sub = await customer.post('/v1/subscription', { plan: 'max', interval: 'month' });
    expect(sub.status).toBe(201);
    expect(sub.body).toMatchObject({
      status: 'active', plan: 'max', interval: 'month',
      current_period_start: '2026-01-01T00:00:00.000Z', current_period_end: '2026-01-31T00:00:00.000Z',
    });
    let credits = await customer.get('/v1/credits');
    expect(credits.body).toMatchObject({ available: 400, held: 0, as_of: '2026-01-01T00:00:00.000Z' });
    expect(credits.body.lots).toMatchObject([
      { source: 'monthly', granted: 400, remaining: 400, granted_at: '2026-01-01T00:00:00.000Z', expires_at: '2026-03-02T00:00:00.000Z' },
    ]);

    await advanceClock(operator, clock.body.id, '2026-01-31T00:00:00Z');
    credits = await customer.get('/v1/credits');
    expect(credits.body.available).toBe(800);
    expect(credits.body.lots.map((l: any) => l.expires_at)).toEqual(['2026-03-02T00:00:00.000Z', '2026-04-01T00:00:00.000Z']);

    // Two due events in one advance: lot A expires and lot C is granted at 03-02.
    await advanceClock(operator, clock.body.id, '2026-03-05T12:00:00Z');
    credits = await customer.get('/v1/credits');
    expect(credits.body.available).toBe(800);
    expect(credits.body.lots.map((l: any) => [l.granted_at, l.expires_at])).toEqual([
      ['2026-01-31T00:00:00.000Z', '2026-04-01T00:00:00.000Z'],
      ['2026-03-02T00:00:00.000Z', '2026-05-01T00:00:00.000Z'],
    ]);
    const invoices = await customer.get('/v1/invoices');
    expect(invoices.body.data.map((i: any) => [i.created_at, i.total_cents, i.status])).toEqual([
      ['2026-03-02T00:00:00.000Z', 2900, 'paid'], ['2026-01-31T00:00:00.000Z', 2900, 'paid'], ['2026-01-01T00:00:00.000Z', 2900, 'paid'],
    ]);
    const current = await customer.get('/v1/subscription');
    expect(current.body).toMatchObject({ status: 'active', current_period_start: '2026-03-02T00:00:00.000Z', current_period_end: '2026-04-01T00:00:00.000Z' });
  });
});
