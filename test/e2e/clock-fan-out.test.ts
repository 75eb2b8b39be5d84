import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLOCK_SIGNALS_IN_FLIGHT } from '../../billing/clock-fan-out.js';
import { ADMIN_KEY, advanceClock, startStack } from '../helpers/stack.js';

/** More subscriptions on one clock than signals in flight, so the advance goes through several windows. */
const SUBSCRIPTIONS = CLOCK_SIGNALS_IN_FLIGHT + 6;

describe('a test clock advance wakes every subscription on the clock, a bounded number of signals at a time', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => stack?.stop());

  it(`renews all ${SUBSCRIPTIONS} Plus monthly subscriptions of one clock in one advance`, async () => {
    const operator = stack.api(ADMIN_KEY);
    const clock = await operator.post('/v1/test-clocks', { frozen_time: '2026-01-01T00:00:00Z' });
    expect(clock.status).toBe(201);
    const workspaces: string[] = [];
    for (let i = 0; i < SUBSCRIPTIONS; i += 10) {
      // Ten at a time: the stack's worker takes the first charges in parallel.
      workspaces.push(...await Promise.all(Array.from({ length: Math.min(10, SUBSCRIPTIONS - i) }, async (_, k) => {
        const ws = await operator.post('/v1/workspaces', { name: `fan-out ${i + k}`, test_clock_id: clock.body.id });
        expect(ws.status).toBe(201);
        const customer = stack.api(ws.body.api_key);
        expect((await customer.put('/v1/payment-method', { payment_method: 'pm_card_visa' })).status).toBe(200);
        const sub = await customer.post('/v1/subscription', { plan: 'plus', interval: 'month' });
        expect(sub.status).toBe(201);
        expect(sub.body.status).toBe('active');
        return ws.body.id as string;
      })));
    }

    await advanceClock(operator, clock.body.id, '2026-01-31T00:00:00Z');

    const rows = await stack.sql<{ workspace_id: string; paid: number; cents: string; lots: number }[]>`
      SELECT w.id AS workspace_id,
        (SELECT count(*)::int FROM invoices i WHERE i.workspace_id = w.id AND i.status = 'paid') AS paid,
        (SELECT coalesce(sum(total_cents), 0) FROM invoices i WHERE i.workspace_id = w.id AND i.status = 'paid') AS cents,
        (SELECT count(*)::int FROM lots l WHERE l.workspace_id = w.id) AS lots
      FROM workspaces w WHERE w.test_clock_id = ${clock.body.id} ORDER BY w.id`;
    expect(rows.map((r) => r.workspace_id).sort()).toEqual([...workspaces].sort());
    // Subscribed and renewed once: two paid invoices of 1,200 cents and two monthly lots each.
    for (const row of rows) expect({ paid: row.paid, cents: Number(row.cents), lots: row.lots }).toEqual({ paid: 2, cents: 2400, lots: 2 });
  });
});
