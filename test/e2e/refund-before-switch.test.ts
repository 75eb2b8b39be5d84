import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, advanceClock, startStack } from '../helpers/stack.js';

type Api = ReturnType<Awaited<ReturnType<typeof startStack>>['api']>;
interface Line { description: string; amount_cents: number }
interface Invoice { id: string; kind: string; status: string; total_cents: number; amount_due_cents: number; balance_applied_cents: number; lines: Line[] }

/**
 * SPEC §4/§10 on the whole stack: a refund made before an upgrade or interval switch lowers that change's
 * "Unused time on …" credit to the unused time at the share of the period's price the refunds left (a partial
 * refund is a discount on the whole period, as its clawback takes the same share of every lot the invoice
 * grants), so the unused time is never paid back twice (card refund + credit). The preview shows the same
 * lowered credit, and a change confirmed at the preview's amount is charged exactly that. A switch deducts
 * only the credits of the time still credited (the refund's clawback took the rest), and charges no
 * "already used" line for credits the refund took back.
 */
describe('refund before an upgrade or interval switch', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  const operator = () => stack.api(ADMIN_KEY);
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => stack?.stop());

  async function subscribedMonthly(plan: string) {
    const clockId = (await operator().post('/v1/test-clocks', { frozen_time: '2026-01-01T00:00:00Z' })).body.id as string;
    const ws = await operator().post('/v1/workspaces', { name: `refund before switch ${plan}`, test_clock_id: clockId });
    const customer = stack.api(ws.body.api_key);
    expect((await customer.put('/v1/payment-method', { payment_method: 'pm_card_visa' })).status).toBe(200);
    expect((await customer.post('/v1/subscription', { plan, interval: 'month' })).status).toBe(201);
    return { customer, clockId, workspaceId: ws.body.id as string };
  }
  const invoices = async (customer: Api) => (await customer.get('/v1/invoices')).body.data as Invoice[];
  const refund = (invoiceId: string, body: unknown) => operator().post(`/v1/admin/invoices/${invoiceId}/refund`, body);
  /** Customer balance, money in (card) − out (card refunds), and the plan lots' remaining credits, oldest first. */
  async function money(workspaceId: string) {
    const [balance, paid, refunded, lots] = await Promise.all([
      stack.sql`SELECT customer_balance_cents FROM workspaces WHERE id = ${workspaceId}`,
      stack.sql`SELECT coalesce(sum(amount_due_cents), 0)::bigint AS cents FROM invoices WHERE workspace_id = ${workspaceId} AND status = 'paid'`,
      stack.sql`SELECT coalesce(sum(refunded_to_card_cents), 0)::bigint AS cents FROM credit_notes WHERE workspace_id = ${workspaceId}`,
      stack.sql`SELECT source, granted, remaining FROM lots WHERE workspace_id = ${workspaceId} ORDER BY id`,
    ]);
    return {
      balance: Number(balance[0]!.customer_balance_cents), net: Number(paid[0]!.cents) - Number(refunded[0]!.cents),
      lots: lots.map((l) => [l.source, l.granted, l.remaining]),
    };
  }

  it('Max monthly, 1000 refunded on 01-11, then switch to yearly: credit 1933 × 1900 ÷ 2900 = 1266, lot 400 − 174', async () => {
    const { customer, clockId, workspaceId } = await subscribedMonthly('max');
    await advanceClock(operator(), clockId, '2026-01-11T00:00:00Z');
    const [first] = await invoices(customer);
    expect((await refund(first!.id, { amount_cents: 1000, reason: 'requested_by_customer' })).body)
      .toMatchObject({ amount_cents: 1000, refunded_to_card_cents: 1000, credits_clawed_back: 138 });

    const lines = [{ description: 'Unused time on Max (monthly), less 667 refunded', amount_cents: -1266 }, { description: 'Max (yearly)', amount_cents: 20880 }];
    const preview = await customer.post('/v1/subscription/change/preview', { interval: 'year' });
    expect(preview.status).toBe(200);
    // A partial refund is a discount on the month (its clawback took 138 of the 400 credits, the same share): the
    // unused 1933 cents are credited at 1900 ÷ 2900, and its 267 credits at 1266 of 1933: 174 deducted.
    expect(preview.body).toMatchObject({
      kind: 'interval_switch', credits_granted: 226,
      invoice: { lines, total_cents: 19614, balance_applied_cents: 0, amount_due_cents: 19614 },
    });
    const made = await customer.post('/v1/subscription/change', { interval: 'year', expected_amount_due_cents: 19614 });
    expect(made.status).toBe(200);
    const [switched] = await invoices(customer);
    expect(switched).toMatchObject({ kind: 'interval_switch', status: 'paid', lines, total_cents: 19614, amount_due_cents: 19614 });
    // Paid 2900 + 19614, refunded 1000: the old month kept 2900 − 1000 − 1266 = 634, its 10 used days at the
    // discounted price (2900 × 10 ÷ 30 × 1900 ÷ 2900 = 633.3, within the rounding of two half-up figures).
    expect(await money(workspaceId)).toEqual({ balance: 0, net: 21514, lots: [['monthly', 400, 262], ['monthly', 226, 226]] });
    expect(Math.abs(2900 - 1000 - 1266 - (2900 * 10 / 30) * (1900 / 2900))).toBeLessThan(1);
  });

  it('Max yearly, 5000 refunded on 01-10, switch to monthly on 07-02: each refresh gave its share and the credit is 10469 × 15880 ÷ 20880', async () => {
    const clockId = (await operator().post('/v1/test-clocks', { frozen_time: '2026-01-01T00:00:00Z' })).body.id as string;
    const ws = await operator().post('/v1/workspaces', { name: 'refund before switch yearly', test_clock_id: clockId });
    const customer = stack.api(ws.body.api_key);
    const workspaceId = ws.body.id as string;
    expect((await customer.put('/v1/payment-method', { payment_method: 'pm_card_visa' })).status).toBe(200);
    expect((await customer.post('/v1/subscription', { plan: 'max', interval: 'year' })).status).toBe(201);
    await advanceClock(operator(), clockId, '2026-01-10T00:00:00Z');
    const [yearly] = await invoices(customer);
    expect((await refund(yearly!.id, { amount_cents: 5000, reason: 'requested_by_customer' })).body).toMatchObject({ amount_cents: 5000, credits_clawed_back: 96 });
    for (const month of ['02', '03', '04', '05', '06', '07']) await advanceClock(operator(), clockId, `2026-${month}-01T12:00:00Z`);
    await advanceClock(operator(), clockId, '2026-07-02T00:00:00Z');

    const lines = [{ description: 'Unused time on Max (yearly), less 2507 refunded', amount_cents: -7962 }, { description: 'Max (monthly)', amount_cents: 2900 }];
    const preview = await customer.post('/v1/subscription/change/preview', { interval: 'month' });
    expect(preview.status).toBe(200);
    expect(preview.body).toMatchObject({ kind: 'interval_switch', invoice: { lines, total_cents: -5062 } });
    expect((await customer.post('/v1/subscription/change', { interval: 'month', expected_amount_due_cents: 0 })).status).toBe(200);
    const [switched] = await invoices(customer);
    expect(switched).toMatchObject({ kind: 'interval_switch', status: 'paid', lines, total_cents: -5062 });
    // Paid 20880, refunded 5000, 7962 credited (5062 of it left as customer balance after July's 2900): the half
    // year used cost 20880 − 5000 − 7962 = 7918, its full price 10411 at the 15880 ÷ 20880 kept (7917.6) ...
    const after = await money(workspaceId);
    expect(after.balance).toBe(5062);
    expect(20880 - 5000 - 7962).toBe(Math.round(10411 * 15880 / 20880));
    // ... and each of its seven refreshes gave the same share of its 400 credits (96 or 95: ceil(N × R ÷ T) as N grows).
    const [clawed] = await stack.sql<{ credits: number }[]>`
      SELECT coalesce(-sum(remaining_delta), 0)::int AS credits FROM ledger_entries WHERE workspace_id = ${workspaceId} AND kind = 'clawback'`;
    expect(clawed!.credits).toBe(Math.ceil(7 * 400 * 5000 / 20880));
  });

  it('Plus monthly refunded in full on 01-11, then upgrade to Max: no unused-time credit, 1933 due', async () => {
    const { customer, clockId, workspaceId } = await subscribedMonthly('plus');
    await advanceClock(operator(), clockId, '2026-01-11T00:00:00Z');
    const [first] = await invoices(customer);
    expect((await refund(first!.id, { reason: 'requested_by_customer' })).body).toMatchObject({ amount_cents: 1200, credits_clawed_back: 150 });

    const lines = [{ description: 'Unused time on Plus (monthly), less 800 refunded', amount_cents: 0 }, { description: 'Remaining time on Max (monthly)', amount_cents: 1933 }];
    const preview = await customer.post('/v1/subscription/change/preview', { plan: 'max' });
    expect(preview.body).toMatchObject({ kind: 'upgrade', credits_granted: 166, invoice: { lines, total_cents: 1933, amount_due_cents: 1933 } });
    expect((await customer.post('/v1/subscription/change', { plan: 'max', expected_amount_due_cents: 1933 })).status).toBe(200);
    const [upgrade] = await invoices(customer);
    expect(upgrade).toMatchObject({ kind: 'upgrade', status: 'paid', lines, total_cents: 1933, amount_due_cents: 1933 });
    // Paid 1200 + 1933, refunded 1200: what stays is the remaining time on Max, nothing of Plus.
    expect(await money(workspaceId)).toEqual({ balance: 0, net: 1933, lots: [['monthly', 150, 0], ['upgrade', 166, 166]] });
    // Nothing is left to refund on the Plus invoice (the upgrade took none of it).
    expect((await refund(first!.id, { amount_cents: 1, reason: 'requested_by_customer' })).body).toMatchObject({ code: 'refund_exceeds_paid', refundable_cents: 0 });
  });

  it('Max monthly refunded in full, then switch to yearly: no credit, no deduction, no "already used" line', async () => {
    const { customer, clockId, workspaceId } = await subscribedMonthly('max');
    await advanceClock(operator(), clockId, '2026-01-11T00:00:00Z');
    const [first] = await invoices(customer);
    expect((await refund(first!.id, { reason: 'requested_by_customer' })).body).toMatchObject({ amount_cents: 2900, credits_clawed_back: 400 });

    const lines = [{ description: 'Unused time on Max (monthly), less 1933 refunded', amount_cents: 0 }, { description: 'Max (yearly)', amount_cents: 20880 }];
    const preview = await customer.post('/v1/subscription/change/preview', { interval: 'year' });
    expect(preview.body).toMatchObject({ credits_granted: 400, invoice: { lines, amount_due_cents: 20880 } });
    expect((await customer.post('/v1/subscription/change', { interval: 'year', expected_amount_due_cents: 20880 })).status).toBe(200);
    const [switched] = await invoices(customer);
    expect(switched).toMatchObject({ kind: 'interval_switch', status: 'paid', lines, total_cents: 20880, amount_due_cents: 20880 });
    expect(await money(workspaceId)).toEqual({ balance: 0, net: 20880, lots: [['monthly', 400, 0], ['monthly', 400, 400]] });
  });

  it('no refund: the switch credits the full unused time as before (example 4)', async () => {
    const { customer, clockId } = await subscribedMonthly('max');
    await advanceClock(operator(), clockId, '2026-01-11T00:00:00Z');
    expect((await customer.post('/v1/subscription/change', { interval: 'year', expected_amount_due_cents: 18947 })).status).toBe(200);
    const [switched] = await invoices(customer);
    expect(switched!.lines).toEqual([{ description: 'Unused time on Max (monthly)', amount_cents: -1933 }, { description: 'Max (yearly)', amount_cents: 20880 }]);
  });
});
