import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, advanceClock, startStack } from '../helpers/stack.js';

/**
 * Breaker (balance) finding: the refund cap of an invoice counts a later upgrade's unused-time credit that gives back
 * time the invoice never paid for. Max yearly 20880 paid 2026-01-01; switch to monthly on 2026-07-02 credits 10469
 * of the year (README: the yearly invoice then has 10411 left to refund). On 2026-07-17 an upgrade to Generative
 * credits 1450, the unused half of the monthly period 07-02..08-01, which the SWITCH invoice paid for (out of the
 * yearly credit already counted in full). prorationCredits (domain/billing/proration-credits.ts) finds the switch
 * invoice's total negative, passes the 1450 on to the yearly invoice and counts it a second time there: the yearly
 * invoice then refunds at most 20880 − 10469 − 1450 = 8961. Money: the customer paid 20880, used 10411 of the year,
 * 1450 of Max monthly and 2950 of Generative (4400, paid from the 7569 balance; 6069 left): refunding the yearly
 * invoice's used time in full is 10411, not 8961.
 */
describe('breaker balance finding: the refund cap after a switch and an upgrade', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  const operator = () => stack.api(ADMIN_KEY);
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => stack?.stop());

  it('leaves 10411 to refund on the yearly invoice after the upgrade of the monthly period', async () => {
    const clockId = (await operator().post('/v1/test-clocks', { frozen_time: '2026-01-01T00:00:00Z' })).body.id as string;
    const ws = (await operator().post('/v1/workspaces', { name: 'refund cap after switch and upgrade', test_clock_id: clockId })).body;
    const customer = stack.api(ws.api_key);
    expect((await customer.put('/v1/payment-method', { payment_method: 'pm_card_visa' })).status).toBe(200);
    expect((await customer.post('/v1/subscription', { plan: 'max', interval: 'year' })).status).toBe(201);
    const [yearly] = await stack.sql<{ id: string }[]>`SELECT id FROM invoices WHERE workspace_id = ${ws.id} ORDER BY seq LIMIT 1`;
    await advanceClock(operator(), clockId, '2026-07-02T00:00:00Z');
    expect((await customer.post('/v1/subscription/change', { interval: 'month' })).body.latest_invoice).toMatchObject({ total_cents: -7569 });
    await advanceClock(operator(), clockId, '2026-07-17T00:00:00Z');
    const upgrade = await customer.post('/v1/subscription/change', { plan: 'generative' });
    expect(upgrade.body.latest_invoice.lines.map((l: { amount_cents: number }) => l.amount_cents)).toEqual([-1450, 2950]);
    expect(upgrade.body.latest_invoice).toMatchObject({ total_cents: 1500, amount_due_cents: 0 });
    const probe = await operator().post(`/v1/admin/invoices/${yearly!.id}/refund`, { amount_cents: 20880, reason: 'probe' });
    expect([probe.status, probe.body.code]).toEqual([409, 'refund_exceeds_paid']);
    // Only the switch's 10469 gave back the year's time; the upgrade's 1450 gave back July's (paid by the switch).
    expect({ refundable: probe.body.refundable_cents, prorated: probe.body.prorated_cents }).toEqual({ refundable: 10411, prorated: 10469 });
  });
});
