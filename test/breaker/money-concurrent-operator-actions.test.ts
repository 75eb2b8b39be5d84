import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, apiClient, startStack } from '../helpers/stack.js';

/**
 * Breaker (money), SPEC §8 Idempotency-Key, §10 refunds and operator tools: operator actions and purchases sent
 * concurrently over HTTP, as a double-clicked console or a client retrying on a timeout does.
 *  - refunds_never_exceed_paid_concurrently: six refunds of 400 cents of a 1000-cent pack at once (no key, distinct
 *    reasons) give back at most 1000 in all: two made, the rest 409 refund_exceeds_paid; the sandbox refunded the same.
 *  - same_key_refund_once: five identical refunds with one Idempotency-Key at once: one credit note, one provider
 *    refund, every answer the same note or 409 idempotency_key_in_use (no 5xx).
 *  - same_key_adjustment_once: five identical +50 credit adjustments with one Idempotency-Key at once: one lot of 50.
 *  - same_key_pack_once: five identical pack purchases with one Idempotency-Key at once: one invoice, one payment.
 */
describe('breaker money: concurrent operator actions and purchases', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  const operator = () => stack.api(ADMIN_KEY);
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => stack?.stop());

  async function subscribed(name: string) {
    const clockId = (await operator().post('/v1/test-clocks', { frozen_time: '2026-01-01T00:00:00Z' })).body.id as string;
    const ws = await operator().post('/v1/workspaces', { name, test_clock_id: clockId });
    const customer = apiClient(stack.baseUrl, ws.body.api_key);
    expect((await customer.put('/v1/payment-method', { payment_method: 'pm_card_visa' })).status).toBe(200);
    expect((await customer.post('/v1/subscription', { plan: 'plus', interval: 'month' })).status).toBe(201);
    return { customer, workspaceId: ws.body.id as string, apiKey: ws.body.api_key as string };
  }

  const post = (path: string, key: string, body: unknown, idempotencyKey?: string) =>
    fetch(`${stack.baseUrl}${path}`, {
      method: 'POST', body: JSON.stringify(body),
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...(idempotencyKey ? { 'idempotency-key': idempotencyKey } : {}) },
    }).then(async (r) => ({ status: r.status, body: await r.json() as Record<string, any> }));

  /** Each answer is the first request's (`status`, same id) or 409 idempotency_key_in_use while it ran; never a 5xx. */
  function expectOneAnswer(answers: { status: number; body: Record<string, any> }[], status: number) {
    for (const a of answers) expect(a.status === status || (a.status === 409 && a.body.code === 'idempotency_key_in_use'), JSON.stringify(a)).toBe(true);
    const made = answers.filter((a) => a.status === status);
    expect(made.length).toBeGreaterThan(0);
    expect(new Set(made.map((a) => a.body.id ?? a.body.invoice?.id)).size).toBe(1);
  }

  it('refunds_never_exceed_paid_concurrently: six 400-cent refunds of a 1000-cent pack at once give back 800', async () => {
    const { customer, workspaceId } = await subscribed('refund race');
    const pack = await customer.post('/v1/credit-packs', { size: 100 });
    expect(pack.body.invoice).toMatchObject({ status: 'paid', total_cents: 1000, amount_due_cents: 1000 });
    const answers = await Promise.all(Array.from({ length: 6 }, (_, i) =>
      post(`/v1/admin/invoices/${pack.body.invoice.id}/refund`, ADMIN_KEY, { amount_cents: 400, reason: `race ${i}` })));
    expect(answers.map((a) => a.status).sort()).toEqual([201, 201, 409, 409, 409, 409]);
    expect(answers.filter((a) => a.status === 409).map((a) => a.body.code)).toEqual(Array(4).fill('refund_exceeds_paid'));
    const [notes] = await stack.sql`SELECT coalesce(sum(amount_cents), 0)::int AS cents, count(*)::int AS n FROM credit_notes WHERE workspace_id = ${workspaceId}`;
    const [refunds] = await stack.sql`SELECT coalesce(sum(amount_cents), 0)::int AS cents FROM sandbox_refunds WHERE invoice_id = ${pack.body.invoice.id}`;
    expect([notes!.cents, notes!.n, refunds!.cents]).toEqual([800, 2, 800]);
    const [lot] = await stack.sql`SELECT remaining FROM lots WHERE id = ${Number(String(pack.body.lot).replace('lot_', ''))}`;
    expect(lot!.remaining).toBe(20);
  });

  it('same_key_refund_once: five identical refunds with one Idempotency-Key at once make one note and one provider refund', async () => {
    const { customer, workspaceId } = await subscribed('refund same key');
    const pack = await customer.post('/v1/credit-packs', { size: 100 });
    const answers = await Promise.all(Array.from({ length: 5 }, () =>
      post(`/v1/admin/invoices/${pack.body.invoice.id}/refund`, ADMIN_KEY, { amount_cents: 300, reason: 'double click' }, 'refund-double-click')));
    console.log('same-key refunds', JSON.stringify(answers.map((a) => [a.status, a.body.id ?? a.body.code])));
    const [notes] = await stack.sql`SELECT coalesce(sum(amount_cents), 0)::int AS cents, count(*)::int AS n FROM credit_notes WHERE workspace_id = ${workspaceId}`;
    const [refunds] = await stack.sql`SELECT coalesce(sum(amount_cents), 0)::int AS cents, count(*)::int AS n FROM sandbox_refunds WHERE invoice_id = ${pack.body.invoice.id}`;
    expect([notes!.cents, notes!.n, refunds!.cents, refunds!.n]).toEqual([300, 1, 300, 1]);
    expectOneAnswer(answers, 201);
  });

  it('same_key_adjustment_once: five identical +50 adjustments with one Idempotency-Key at once grant one lot of 50', async () => {
    const { customer, workspaceId } = await subscribed('adjust same key');
    const answers = await Promise.all(Array.from({ length: 5 }, () =>
      post(`/v1/admin/workspaces/${workspaceId}/credit-adjustments`, ADMIN_KEY, { credits: 50, reason: 'goodwill' }, 'adjust-double-click')));
    console.log('same-key adjustments', JSON.stringify(answers.map((a) => [a.status, a.body.id ?? a.body.code])));
    const lots = await stack.sql`SELECT granted FROM lots WHERE workspace_id = ${workspaceId} AND source = 'adjustment'`;
    expect(lots.map((l) => l.granted)).toEqual([50]);
    expect((await customer.get('/v1/credits')).body.available).toBe(200);
    expectOneAnswer(answers, 201);
  });

  it('same_key_pack_once: five identical pack purchases with one Idempotency-Key at once pay one invoice once', async () => {
    const { customer, workspaceId, apiKey } = await subscribed('pack same key');
    const answers = await Promise.all(Array.from({ length: 5 }, () => post('/v1/credit-packs', apiKey, { size: 100 }, 'pack-double-click')));
    console.log('same-key packs', JSON.stringify(answers.map((a) => [a.status, a.body.invoice?.id ?? a.body.code])));
    const packs = await stack.sql`SELECT id, status FROM invoices WHERE workspace_id = ${workspaceId} AND kind = 'pack'`;
    const paidEvents = await stack.sql`SELECT count(*)::int AS n FROM sandbox_outbox WHERE payload->>'type' = 'invoice.paid'
      AND payload->'data'->'object'->'metadata'->>'invoice_id' IN (SELECT id FROM invoices WHERE workspace_id = ${workspaceId} AND kind = 'pack')`;
    const lots = await stack.sql`SELECT granted FROM lots WHERE workspace_id = ${workspaceId} AND source = 'pack'`;
    expect([packs.length, paidEvents[0]!.n, lots.length]).toEqual([1, 1, 1]);
    expect((await customer.get('/v1/credits')).body.available).toBe(250);
    expectOneAnswer(answers, 201);
  });
});
