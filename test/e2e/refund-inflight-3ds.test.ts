import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authenticateOnHostedPage } from '../helpers/hosted-page.js';
import { ADMIN_KEY, advanceClock, startStack } from '../helpers/stack.js';
import { eventually } from '../helpers/temporal.js';

interface Line { description: string; amount_cents: number }
interface Invoice { id: string; number: string | null; kind: string; status: string; total_cents: number; amount_due_cents: number; lines: Line[] }

/**
 * SPEC §4/§10 on the whole stack: an upgrade waiting for 3-D Secure holds its invoice open (for hours, in real
 * life), and the operator refunds the invoice in force meanwhile. The open upgrade's "Unused time on …" credit
 * already counts for that refund (as a paid one's does: refund after a proration), so the unused time is paid
 * back once. Plus monthly (1200) from 2026-01-01; upgrade to Max on 01-11 (20 of 30 days left): −800 + 1933 =
 * 1133, open. A refund of the whole 1200 is 409 refund_exceeds_paid (400 left, 800 credited by the open upgrade);
 * all that is left, 400, is refunded. 3-D Secure then completes: the upgrade is paid and applied. Money in −
 * money out = 1200 + 1133 − 400 = 1933: the price of Max's 20 days, plus Plus's 10 used days (400) less the 400
 * the operator gave back of them. Before the fix: 1200 refunded as well, 1133 net, the unused 800 paid back twice.
 */
describe('a refund of the invoice in force while an upgrade waits for 3-D Secure', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  const operator = () => stack.api(ADMIN_KEY);
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => stack?.stop());

  /** Money in (amount due of paid invoices: the card) − out (card refunds), the customer balance, and the lots. */
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

  it('Plus → Max pending on 01-11: the Plus invoice refunds 1200 − 800 = 400; paid, net 1933', async () => {
    const clockId = (await operator().post('/v1/test-clocks', { frozen_time: '2026-01-01T00:00:00Z' })).body.id as string;
    const ws = await operator().post('/v1/workspaces', { name: 'refund while 3ds', test_clock_id: clockId });
    const workspaceId = ws.body.id as string;
    const customer = stack.api(ws.body.api_key);
    const setCard = async (pm: string) => expect((await customer.put('/v1/payment-method', { payment_method: pm })).status).toBe(200);
    const invoices = async () => (await customer.get('/v1/invoices')).body.data as Invoice[];
    await setCard('pm_card_visa');
    expect((await customer.post('/v1/subscription', { plan: 'plus', interval: 'month' })).status).toBe(201);
    await setCard('pm_card_authenticationRequired');
    await advanceClock(operator(), clockId, '2026-01-11T00:00:00Z');

    const change = await customer.post('/v1/subscription/change', { plan: 'max' });
    expect(change.status).toBe(200);
    expect(change.body).toMatchObject({ kind: 'upgrade', pending: true });
    const [upgrade, plus] = await invoices();
    expect(plus).toMatchObject({ kind: 'subscription', status: 'paid', total_cents: 1200, amount_due_cents: 1200 });
    expect(upgrade).toMatchObject({
      kind: 'upgrade', status: 'open', total_cents: 1133, amount_due_cents: 1133,
      lines: [{ description: 'Unused time on Plus (monthly)', amount_cents: -800 }, { description: 'Remaining time on Max (monthly)', amount_cents: 1933 }],
    });

    // The operator refunds the Plus invoice while the upgrade waits: its credit of Plus's unused time counts.
    const refund = (body: unknown) => operator().post(`/v1/admin/invoices/${plus!.id}/refund`, body);
    const whole = await refund({ amount_cents: 1200, reason: 'requested_by_customer' });
    expect(whole.status).toBe(409);
    expect(whole.body).toMatchObject({
      code: 'refund_exceeds_paid', refundable_cents: 400, prorated_cents: 800,
      prorated_by: [{ invoice_id: upgrade!.id, number: upgrade!.number, amount_cents: 800 }],
    });
    const rest = await refund({ reason: 'requested_by_customer' });
    expect(rest.status).toBe(201);
    // ceil(150 × 400 / 1200) = 50 credits of the Plus lot back.
    expect(rest.body).toMatchObject({ amount_cents: 400, refunded_to_card_cents: 400, credited_to_balance_cents: 0, credits_clawed_back: 50 });

    // 3-D Secure completes: the upgrade is paid at the amount it was opened with, and applied.
    expect((await authenticateOnHostedPage(`${stack.baseUrl}/sandbox/invoices/${upgrade!.id}`)).status).toBe(303);
    await eventually(() => customer.get('/v1/subscription'), (r) => r.body.plan === 'max' && r.body.pending_upgrade === null);
    const [paidUpgrade] = await invoices();
    expect(paidUpgrade).toMatchObject({ id: upgrade!.id, status: 'paid', total_cents: 1133, amount_due_cents: 1133 });
    const after = await eventually(() => money(workspaceId), (m) => m.lots.length === 2);

    // Plus: paid 1200, 800 credited as unused time, 400 refunded of its 10 used days. Max: 1933 for its 20 days.
    const plusKept = 1200 - 800 - 400;
    expect(after).toEqual({ balance: 0, net: plusKept + 1933, lots: [['monthly', 150, 100], ['upgrade', 166, 166]] });
    expect(400 + 800).toBeLessThanOrEqual(1200);
    expect((await refund({ amount_cents: 1, reason: 'requested_by_customer' })).body).toMatchObject({ code: 'refund_exceeds_paid', refundable_cents: 0 });
  });
});
