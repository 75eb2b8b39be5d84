import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, advanceClock, apiClient, startStack } from '../helpers/stack.js';

/**
 * Breaker (money), SPEC §10: "A change may carry `expected_amount_due_cents` (what the customer confirmed): if
 * the amount due differs now, it is 409 `preview_outdated` with the fresh preview, and nothing is charged."
 *
 * Invariant confirmed_amount_is_charged: a change made with `expected_amount_due_cents` = E is either refused
 * (409 preview_outdated, no invoice) or charges exactly E, whatever else spends the customer balance meanwhile.
 * History (SPEC example 5): Max yearly from 2026-01-01, switched to monthly on 07-02 (customer balance 7569); on
 * 07-10 the customer confirms the switch back to yearly (amount due = total − 7569) while packs bought at the same
 * time (800 cents each, paid from the balance) draw on that balance. The API compares E with a fresh preview and
 * only then sends the change; the invoice applies the balance when the workflow drafts it, later.
 */
describe('breaker money: the confirmed amount of a change and a balance spent meanwhile', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  const operator = () => stack.api(ADMIN_KEY);
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => stack?.stop());

  async function withBalance(i: number) {
    const clockId = (await operator().post('/v1/test-clocks', { frozen_time: '2026-01-01T00:00:00Z' })).body.id as string;
    const ws = await operator().post('/v1/workspaces', { name: `confirmed race ${i}`, test_clock_id: clockId });
    const customer = apiClient(stack.baseUrl, ws.body.api_key);
    expect((await customer.put('/v1/payment-method', { payment_method: 'pm_card_visa' })).status).toBe(200);
    expect((await customer.post('/v1/subscription', { plan: 'max', interval: 'year' })).status).toBe(201);
    await advanceClock(operator(), clockId, '2026-07-02T00:00:00Z');
    expect((await customer.post('/v1/subscription/change', { interval: 'month' })).status).toBe(200);
    await advanceClock(operator(), clockId, '2026-07-10T00:00:00Z');
    return { customer, workspaceId: ws.body.id as string };
  }

  it('confirmed_amount_is_charged: a change confirmed at E charges E or is refused, never more, while packs spend the balance', async () => {
    const outcomes: unknown[] = [];
    const violations: unknown[] = [];
    // A race: seen in about 1 attempt of 6 on a loaded machine; up to 15 attempts, stopping at the first violation.
    for (let i = 0; i < 15 && violations.length === 0; i++) {
      const { customer, workspaceId } = await withBalance(i);
      const preview = await customer.post('/v1/subscription/change/preview', { interval: 'year' });
      expect(preview.status).toBe(200);
      expect(preview.body.invoice.balance_applied_cents).toBe(7569);
      const expected = preview.body.invoice.amount_due_cents as number;
      const delays = [0, 2, 5, 10, 20, 35, 60, 90];
      const [change, ...packs] = await Promise.all([
        customer.post('/v1/subscription/change', { interval: 'year', expected_amount_due_cents: expected }),
        ...delays.map((ms) => new Promise((r) => setTimeout(r, ms)).then(() => customer.post('/v1/credit-packs', { size: 100 }))),
      ]);
      const switches = await stack.sql`SELECT id, total_cents, balance_applied_cents, amount_due_cents FROM invoices
        WHERE workspace_id = ${workspaceId} AND kind = 'interval_switch' ORDER BY seq`;
      const back = switches[1];
      const outcome = { i, expected, change: [change.status, change.body.code ?? change.body.kind],
        invoice: back ? [Number(back.total_cents), Number(back.balance_applied_cents), Number(back.amount_due_cents)] : null,
        packs_amount_due: packs.map((p) => (p.status === 201 ? Number(p.body.invoice.amount_due_cents) : p.status)) };
      outcomes.push(outcome);
      if (change.status === 200 && (!back || Number(back.amount_due_cents) !== expected)) violations.push(outcome);
      if (change.status !== 200 && (change.body.code !== 'preview_outdated' || back)) violations.push(outcome);
    }
    console.log('outcomes', JSON.stringify(outcomes));
    expect(violations).toEqual([]);
  }, 600_000);
});
