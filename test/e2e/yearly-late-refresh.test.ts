import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, advanceClock, startStack } from '../helpers/stack.js';
import { eventually } from '../helpers/temporal.js';

/**
 * SPEC §10 on the whole stack: a refund claws back, and a dispute freezes, the credits its invoice granted, and
 * a yearly invoice grants its monthly refreshes as they come, so the refreshes granted afterwards follow:
 * - refunded in full on 01-10, the 02-01 refresh is clawed back whole (it grants nothing);
 * - paid with `pm_card_createDispute` (the sandbox opens a dispute after the payment), the 02-01 refresh arrives
 *   frozen with the same freeze key; the dispute won, both lots count again.
 */
describe('a yearly refresh granted after its invoice was refunded or disputed', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  const operator = () => stack.api(ADMIN_KEY);
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => stack?.stop());

  it('refunded in full: the next refresh is granted and clawed back whole', async () => {
    const clockId = (await operator().post('/v1/test-clocks', { frozen_time: '2026-01-01T00:00:00Z' })).body.id as string;
    const ws = await operator().post('/v1/workspaces', { name: 'yearly refresh refunded', test_clock_id: clockId });
    const workspaceId = ws.body.id as string;
    const customer = stack.api(ws.body.api_key);
    expect((await customer.put('/v1/payment-method', { payment_method: 'pm_card_visa' })).status).toBe(200);
    expect((await customer.post('/v1/subscription', { plan: 'max', interval: 'year' })).status).toBe(201);
    await advanceClock(operator(), clockId, '2026-01-10T00:00:00Z');
    const [yearly] = (await customer.get('/v1/invoices')).body.data as { id: string }[];
    expect((await operator().post(`/v1/admin/invoices/${yearly!.id}/refund`, { reason: 'requested_by_customer' })).body)
      .toMatchObject({ amount_cents: 20880, credits_clawed_back: 400 });
    const lots = () => stack.sql`SELECT granted, remaining FROM lots WHERE workspace_id = ${workspaceId} ORDER BY id`;

    await advanceClock(operator(), clockId, '2026-02-01T00:00:00Z');
    expect((await eventually(lots, (rows) => rows.length === 2 && rows[1]!.remaining === 0)).map((l) => [l.granted, l.remaining])).toEqual([[400, 0], [400, 0]]);
    expect((await customer.get('/v1/credits')).body.available).toBe(0);
    const journal = await stack.sql`SELECT kind, amount FROM ledger_entries WHERE workspace_id = ${workspaceId} ORDER BY id`;
    expect(journal.map((e) => [e.kind, Number(e.amount)])).toEqual([['grant', 400], ['clawback', -400], ['grant', 400], ['clawback', -400]]);
    // A refund does not change the subscription.
    expect((await customer.get('/v1/subscription')).body).toMatchObject({ status: 'active', plan: 'max', interval: 'year' });
  });

  it('disputed: the next refresh is frozen with the dispute, and thawed when it is won', async () => {
    const clockId = (await operator().post('/v1/test-clocks', { frozen_time: '2026-01-01T00:00:00Z' })).body.id as string;
    const ws = await operator().post('/v1/workspaces', { name: 'yearly refresh disputed', test_clock_id: clockId });
    const workspaceId = ws.body.id as string;
    const customer = stack.api(ws.body.api_key);
    expect((await customer.put('/v1/payment-method', { payment_method: 'pm_card_createDispute' })).status).toBe(200);
    expect((await customer.post('/v1/subscription', { plan: 'max', interval: 'year' })).status).toBe(201);
    const invoice = async () => ((await customer.get('/v1/invoices')).body.data as { id: string; dispute: { id: string; status: string } | null }[])[0]!;
    const disputeId = (await eventually(invoice, (i) => i.dispute !== null)).dispute!.id;
    const freezeKey = `dispute:${disputeId}:freeze`;
    const lots = () => stack.sql`SELECT granted, remaining, dispute_freeze_key FROM lots WHERE workspace_id = ${workspaceId} ORDER BY id`;
    const available = async () => (await customer.get('/v1/credits')).body.available as number;
    await eventually(lots, (rows) => rows.length === 1 && rows[0]!.dispute_freeze_key === freezeKey);
    expect(await available()).toBe(0);

    await advanceClock(operator(), clockId, '2026-02-01T00:00:00Z');
    expect((await eventually(lots, (rows) => rows.length === 2)).map((l) => [l.granted, l.remaining, l.dispute_freeze_key]))
      .toEqual([[400, 400, freezeKey], [400, 400, freezeKey]]);
    expect(await available()).toBe(0);
    const journal = await stack.sql`SELECT kind, amount FROM ledger_entries WHERE workspace_id = ${workspaceId} ORDER BY id`;
    expect(journal.map((e) => [e.kind, Number(e.amount)])).toEqual([['grant', 400], ['freeze', -400], ['grant', 400], ['freeze', -400]]);

    expect((await operator().post(`/v1/admin/sandbox/disputes/${disputeId}/close`, { outcome: 'won' })).status).toBe(200);
    await eventually(lots, (rows) => rows.every((l) => l.dispute_freeze_key === null));
    expect(await available()).toBe(800);
  });
});
