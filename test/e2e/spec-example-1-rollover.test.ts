import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, advanceClock, startStack } from '../helpers/stack.js';

/** SPEC §9 example 1, over HTTP, with two workspaces on one test clock: with and without the 02-05 spend. */
describe('SPEC example 1: rollover', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => stack?.stop());

  async function subscribedMaxWorkspace(clockId: string, name: string) {
    const operator = stack.api(ADMIN_KEY);
    const ws = await operator.post('/v1/workspaces', { name, test_clock_id: clockId });
    const customer = stack.api(ws.body.api_key);
    await customer.put('/v1/payment-method', { payment_method: 'pm_card_visa' });
    const sub = await customer.post('/v1/subscription', { plan: 'max', interval: 'month' });
    expect(sub.body.status).toBe('active');
    return customer;
  }

  async function spend(customer: ReturnType<typeof stack.api>, credits: number) {
    // veo-2 costs 2 credits a second.
    const quote = await customer.post('/v1/credits/estimate', { model: 'veo-2', duration_s: credits / 2 });
    expect(quote.body.credits).toBe(credits);
    const creation = await customer.post('/v1/creations', { quote_id: quote.body.quote_id });
    expect(creation.status).toBe(201);
    const done = await customer.post(`/v1/creations/${creation.body.id}/complete`, { credits });
    expect(done.body).toMatchObject({ status: 'succeeded', charged: credits, released: 0 });
    return done.body;
  }

  it('rolls credits over for 30 days, spends the oldest lot first and expires what is left', async () => {
    const operator = stack.api(ADMIN_KEY);
    const clock = (await operator.post('/v1/test-clocks', { frozen_time: '2026-01-01T00:00:00Z' })).body;
    const spender = await subscribedMaxWorkspace(clock.id, 'spends on 02-05');
    const saver = await subscribedMaxWorkspace(clock.id, 'does not');

    const lotA = (await saver.get('/v1/credits')).body.lots[0];
    expect(lotA).toMatchObject({ granted: 400, expires_at: '2026-03-02T00:00:00.000Z' });

    await advanceClock(operator, clock.id, '2026-01-15T00:00:00Z');
    await spend(spender, 100);
    await spend(saver, 100);

    await advanceClock(operator, clock.id, '2026-01-31T00:00:00Z');
    for (const customer of [spender, saver]) {
      const invoices = (await customer.get('/v1/invoices')).body.data;
      expect(invoices[0]).toMatchObject({ created_at: '2026-01-31T00:00:00.000Z', total_cents: 2900, status: 'paid' });
      const lots = (await customer.get('/v1/credits')).body.lots;
      expect(lots.map((l: any) => [l.remaining, l.expires_at])).toEqual([
        [300, '2026-03-02T00:00:00.000Z'], [400, '2026-04-01T00:00:00.000Z'],
      ]);
    }

    await advanceClock(operator, clock.id, '2026-02-05T00:00:00Z');
    const receipt = await spend(spender, 350);
    const [a, b] = (await spender.get('/v1/credits')).body.lots;
    expect(receipt.lots).toEqual([{ lot: a.id, credits: 300 }, { lot: b.id, credits: 50 }]);
    expect([a.remaining, b.remaining]).toEqual([0, 350]);

    await advanceClock(operator, clock.id, '2026-03-02T00:00:00Z');
    const saved = (await saver.get('/v1/credits')).body;
    expect(saved.available).toBe(800);
    expect(saved.lots.map((l: any) => [l.remaining, l.expires_at])).toEqual([
      [400, '2026-04-01T00:00:00.000Z'], [400, '2026-05-01T00:00:00.000Z'],
    ]);
    const expired = await stack.sql<{ remaining_delta: number; at: Date }[]>`
      SELECT e.remaining_delta, e.at FROM ledger_entries e JOIN lots l ON l.id = e.lot_id
      WHERE e.kind = 'expire' AND l.id = ${Number(lotA.id.replace('lot_', ''))}`;
    expect(expired.map((e) => [e.remaining_delta, e.at.toISOString()])).toEqual([[-300, '2026-03-02T00:00:00.000Z']]);
    expect((await spender.get('/v1/credits')).body.available).toBe(750);
  });
});
