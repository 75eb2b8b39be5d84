import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreditEngineClient } from '../../client/index.js';
import { ADMIN_KEY, startStack } from '../helpers/stack.js';
import { advanceTestClock } from '../helpers/typed-client.js';

/** SPEC §9 example 1, over HTTP, with two workspaces on one test clock: with and without the 02-05 spend. */
describe('SPEC example 1: rollover', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => stack?.stop());

  async function subscribedMaxWorkspace(clockId: string, name: string) {
    const operator = stack.client(ADMIN_KEY);
    const ws = await operator.POST('/v1/workspaces', { body: { name, test_clock_id: clockId } });
    const customer = stack.client(ws.data!.api_key);
    await customer.PUT('/v1/payment-method', { body: { payment_method: 'pm_card_visa' } });
    const sub = await customer.POST('/v1/subscription', { body: { plan: 'max', interval: 'month' } });
    expect(sub.data!.status).toBe('active');
    return customer;
  }

  async function spend(customer: CreditEngineClient, credits: number) {
    // veo-2 costs 2 credits a second.
    const quote = await customer.POST('/v1/credits/estimate', { body: { model: 'veo-2', duration_s: credits / 2 } });
    expect(quote.data!.credits).toBe(credits);
    const creation = await customer.POST('/v1/creations', { body: { quote_id: quote.data!.quote_id } });
    expect(creation.response.status).toBe(201);
    const done = await customer.POST('/v1/creations/{id}/complete', { params: { path: { id: creation.data!.id } }, body: { credits } });
    expect(done.data).toMatchObject({ status: 'succeeded', charged: credits, released: 0 });
    return done.data!;
  }

  it('rolls credits over for 30 days, spends the oldest lot first and expires what is left', async () => {
    const operator = stack.client(ADMIN_KEY);
    const clock = (await operator.POST('/v1/test-clocks', { body: { frozen_time: '2026-01-01T00:00:00Z' } })).data!;
    const credits = async (customer: CreditEngineClient) => (await customer.GET('/v1/credits')).data!;
    const spender = await subscribedMaxWorkspace(clock.id, 'spends on 02-05');
    const saver = await subscribedMaxWorkspace(clock.id, 'does not');

    const lotA = (await credits(saver)).lots[0]!;
    expect(lotA).toMatchObject({ granted: 400, expires_at: '2026-03-02T00:00:00.000Z' });

    await advanceTestClock(operator, clock.id, '2026-01-15T00:00:00Z');
    await spend(spender, 100);
    await spend(saver, 100);

    await advanceTestClock(operator, clock.id, '2026-01-31T00:00:00Z');
    for (const customer of [spender, saver]) {
      const invoices = (await customer.GET('/v1/invoices')).data!.data;
      expect(invoices[0]).toMatchObject({ created_at: '2026-01-31T00:00:00.000Z', total_cents: 2900, status: 'paid' });
      const { lots } = await credits(customer);
      expect(lots.map((l) => [l.remaining, l.expires_at])).toEqual([
        [300, '2026-03-02T00:00:00.000Z'], [400, '2026-04-01T00:00:00.000Z'],
      ]);
    }

    await advanceTestClock(operator, clock.id, '2026-02-05T00:00:00Z');
    const receipt = await spend(spender, 350);
    const [a, b] = (await credits(spender)).lots;
    expect(receipt.lots).toEqual([{ lot: a!.id, credits: 300 }, { lot: b!.id, credits: 50 }]);
    expect([a!.remaining, b!.remaining]).toEqual([0, 350]);

    await advanceTestClock(operator, clock.id, '2026-03-02T00:00:00Z');
    const saved = await credits(saver);
    expect(saved.available).toBe(800);
    expect(saved.lots.map((l) => [l.remaining, l.expires_at])).toEqual([
      [400, '2026-04-01T00:00:00.000Z'], [400, '2026-05-01T00:00:00.000Z'],
    ]);
    const expired = await stack.sql<{ remaining_delta: number; at: Date }[]>`
      SELECT e.remaining_delta, e.at FROM ledger_entries e JOIN lots l ON l.id = e.lot_id
      WHERE e.kind = 'expire' AND l.id = ${Number(lotA.id.replace('lot_', ''))}`;
    expect(expired.map((e) => [e.remaining_delta, e.at.toISOString()])).toEqual([[-300, '2026-03-02T00:00:00.000Z']]);
    expect((await credits(spender)).available).toBe(750);
  });
});
