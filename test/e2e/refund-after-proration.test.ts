import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, advanceClock, startStack } from '../helpers/stack.js';

type Api = ReturnType<Awaited<ReturnType<typeof startStack>>['api']>;
interface Invoice { id: string; number: string | null; kind: string; status: string; total_cents: number; amount_due_cents: number; lines: { amount_cents: number }[] }

/**
 * SPEC §4/§10 on the whole stack: a refund never pays back unused time a later upgrade or interval switch
 * already credited. Max yearly paid 20880; a switch to monthly on 2026-07-02 (183 of 365 days left) credits
 * 10469 of it (the switch's −7569 total becomes customer balance), so the yearly invoice has 20880 − 10469
 * left to refund: one cent more is 409 refund_exceeds_paid naming the switch invoice, changing nothing. The
 * same for an upgrade's unused-time credit (Plus yearly 8640, 4332 credited by the upgrade to Max).
 */
describe('refund after a proration credit', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  const operator = () => stack.api(ADMIN_KEY);
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => stack?.stop());

  async function subscribedYearly(plan: string) {
    const clockId = (await operator().post('/v1/test-clocks', { frozen_time: '2026-01-01T00:00:00Z' })).body.id as string;
    const ws = await operator().post('/v1/workspaces', { name: `refund after proration ${plan}`, test_clock_id: clockId });
    const customer = stack.api(ws.body.api_key);
    expect((await customer.put('/v1/payment-method', { payment_method: 'pm_card_visa' })).status).toBe(200);
    expect((await customer.post('/v1/subscription', { plan, interval: 'year' })).status).toBe(201);
    return { customer, clockId, workspaceId: ws.body.id as string };
  }
  const invoices = async (customer: Api) => (await customer.get('/v1/invoices')).body.data as Invoice[];
  const refund = (invoiceId: string, body: unknown) => operator().post(`/v1/admin/invoices/${invoiceId}/refund`, body);
  async function footprint(workspaceId: string) {
    const [balance, notes, lots] = await Promise.all([
      stack.sql`SELECT customer_balance_cents FROM workspaces WHERE id = ${workspaceId}`,
      stack.sql`SELECT id, status, amount_cents FROM credit_notes WHERE workspace_id = ${workspaceId} ORDER BY seq`,
      stack.sql`SELECT id, remaining, held FROM lots WHERE workspace_id = ${workspaceId} ORDER BY id`,
    ]);
    return { balance: Number(balance[0]!.customer_balance_cents), notes, lots };
  }

  it('Max yearly → monthly: the yearly invoice refunds 20880 − 10469 = 10411; 10412 is 409 and changes nothing', async () => {
    const { customer, clockId, workspaceId } = await subscribedYearly('max');
    await advanceClock(operator(), clockId, '2026-07-02T00:00:00Z');
    expect((await customer.post('/v1/subscription/change', { interval: 'month' })).status).toBe(200);
    const [switched, yearly] = await invoices(customer);
    expect([yearly!.kind, yearly!.status, yearly!.total_cents]).toEqual(['subscription', 'paid', 20880]);
    expect([switched!.kind, switched!.status, switched!.lines.map((l) => l.amount_cents), switched!.total_cents]).toEqual(['interval_switch', 'paid', [-10469, 2900], -7569]);
    const before = await footprint(workspaceId);
    expect(before.balance).toBe(7569);

    const tooMuch = await refund(yearly!.id, { amount_cents: 10412, reason: 'requested_by_customer' });
    expect(tooMuch.status).toBe(409);
    expect(tooMuch.body).toMatchObject({
      code: 'refund_exceeds_paid', refundable_cents: 10411, prorated_cents: 10469,
      prorated_by: [{ invoice_id: switched!.id, number: switched!.number, amount_cents: 10469 }],
    });
    expect(tooMuch.body.detail).toContain(`10469 cents by invoice ${switched!.number}`);
    expect(await footprint(workspaceId)).toEqual(before);

    const all = await refund(yearly!.id, { reason: 'requested_by_customer' });
    expect(all.status).toBe(201);
    expect(all.body).toMatchObject({ amount_cents: 10411, refunded_to_card_cents: 10411, credited_to_balance_cents: 0 });
    expect((await footprint(workspaceId)).balance).toBe(7569);
    // Card refunds + balance credits for the yearly invoice: exactly what it was paid.
    expect(all.body.amount_cents + 10469).toBe(20880);
    expect((await refund(yearly!.id, { amount_cents: 1, reason: 'requested_by_customer' })).body).toMatchObject({ code: 'refund_exceeds_paid', refundable_cents: 0 });
  });

  it('Plus yearly → Max: the Plus invoice refunds 8640 − 4332 = 4308; the upgrade invoice its own total', async () => {
    const { customer, clockId, workspaceId } = await subscribedYearly('plus');
    await advanceClock(operator(), clockId, '2026-07-02T00:00:00Z');
    expect((await customer.post('/v1/subscription/change', { plan: 'max' })).status).toBe(200);
    const [upgrade, plus] = await invoices(customer);
    expect([plus!.kind, plus!.total_cents]).toEqual(['subscription', 8640]);
    expect([upgrade!.kind, upgrade!.status, upgrade!.lines.map((l) => l.amount_cents), upgrade!.total_cents]).toEqual(['upgrade', 'paid', [-4332, 10469], 6137]);
    const before = await footprint(workspaceId);

    const tooMuch = await refund(plus!.id, { amount_cents: 4309, reason: 'requested_by_customer' });
    expect(tooMuch.status).toBe(409);
    expect(tooMuch.body).toMatchObject({ code: 'refund_exceeds_paid', refundable_cents: 4308, prorated_cents: 4332 });
    expect(await footprint(workspaceId)).toEqual(before);

    expect((await refund(plus!.id, { reason: 'requested_by_customer' })).body).toMatchObject({ amount_cents: 4308, refunded_to_card_cents: 4308 });
    // Nothing later credited the upgrade's time: all of it is left.
    expect((await refund(upgrade!.id, { reason: 'requested_by_customer' })).body).toMatchObject({ amount_cents: 6137, refunded_to_card_cents: 6137 });
    expect((await footprint(workspaceId)).balance).toBe(0);
  });
});
