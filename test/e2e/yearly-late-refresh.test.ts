import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clawbackTarget } from '../../domain/billing/invoice-grants.js';
import { signStripePayload } from '../../payments/webhooks.js';
import { ADMIN_KEY, advanceClock, startStack, WEBHOOK_SECRET } from '../helpers/stack.js';
import { eventually } from '../helpers/temporal.js';

/**
 * SPEC §10 on the whole stack: a refund claws back, and a dispute freezes, the credits its invoice granted, and
 * a yearly invoice grants its monthly refreshes as they come, so the refreshes granted afterwards follow:
 * - refunded in full on 01-10, the 02-01 refresh is clawed back whole (it grants nothing);
 * - paid with `pm_card_createDispute` (the sandbox opens a dispute after the payment), the 02-01 refresh arrives
 *   frozen with the same freeze key; the dispute won, both lots count again;
 * - refunded in part (or a dispute lost in part), each later refresh gives its share as it is granted: the
 *   invoice's credits clawed back stay ceil(N × R / T), N the credits granted so far, and a second refund takes
 *   only the difference; the credit note shows what its refund took when applied.
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

  /** The workspace's journal in credits: granted, clawed back, spent (captured) and expired. */
  async function ledgerOf(workspaceId: string) {
    const [row] = await stack.sql<{ granted: number; clawed: number; spent: number; expired: number }[]>`
      SELECT coalesce(sum(remaining_delta) FILTER (WHERE kind = 'grant'), 0)::int AS granted,
        coalesce(-sum(remaining_delta) FILTER (WHERE kind = 'clawback'), 0)::int AS clawed,
        coalesce(-sum(remaining_delta) FILTER (WHERE kind = 'capture'), 0)::int AS spent,
        coalesce(-sum(remaining_delta) FILTER (WHERE kind = 'expire'), 0)::int AS expired
      FROM ledger_entries WHERE workspace_id = ${workspaceId}`;
    return row!;
  }

  it('refunded in part: each refresh gives its share, ceil(N × R / T) with N granted so far; a second refund takes only the difference', async () => {
    const clockId = (await operator().post('/v1/test-clocks', { frozen_time: '2026-01-01T00:00:00Z' })).body.id as string;
    const ws = await operator().post('/v1/workspaces', { name: 'yearly refresh refunded in part', test_clock_id: clockId });
    const workspaceId = ws.body.id as string;
    const customer = stack.api(ws.body.api_key);
    expect((await customer.put('/v1/payment-method', { payment_method: 'pm_card_visa' })).status).toBe(200);
    expect((await customer.post('/v1/subscription', { plan: 'max', interval: 'year' })).status).toBe(201);
    // 100 credits spent in January (five creations of ten 2-credit images).
    await eventually(async () => (await customer.get('/v1/credits')).body.available as number, (n) => n === 400);
    for (let i = 0; i < 5; i++) {
      const quote = await customer.post('/v1/credits/estimate', { model: 'imagen-3', resolution: 'standard', count: 10 });
      const creation = await customer.post('/v1/creations', { quote_id: quote.body.quote_id });
      expect((await customer.post(`/v1/creations/${creation.body.id}/complete`, { credits: 20 })).status).toBe(200);
    }
    await advanceClock(operator(), clockId, '2026-01-10T00:00:00Z');
    const [yearly] = (await customer.get('/v1/invoices')).body.data as { id: string; total_cents: number }[];
    expect(yearly!.total_cents).toBe(20880);
    // ceil(400 × 5000 / 20880) = 96 of the one lot granted so far.
    expect((await operator().post(`/v1/admin/invoices/${yearly!.id}/refund`, { amount_cents: 5000, reason: 'requested_by_customer' })).body)
      .toMatchObject({ amount_cents: 5000, credits_clawed_back: 96, shortfall: 0 });
    const lots = () => stack.sql<{ granted: number; remaining: number }[]>`SELECT granted, remaining FROM lots WHERE workspace_id = ${workspaceId} ORDER BY id`;
    const settledLots = (n: number) => eventually(lots, (rows) => rows.length === n && rows[n - 1]!.remaining < 400);
    const available = async () => (await customer.get('/v1/credits')).body.available as number;

    await advanceClock(operator(), clockId, '2026-02-01T00:00:00Z');
    expect((await settledLots(2)).map((l) => [l.granted, l.remaining])).toEqual([[400, 204], [400, 304]]);
    expect(await ledgerOf(workspaceId)).toEqual({ granted: 800, clawed: clawbackTarget(800, 5000, 20880), spent: 100, expired: 0 });
    expect(await available()).toBe(800 - 192 - 100);

    await advanceClock(operator(), clockId, '2026-03-01T00:00:00Z');
    expect((await settledLots(3)).map((l) => l.remaining)).toEqual([204, 304, 304]);
    expect((await ledgerOf(workspaceId)).clawed).toBe(clawbackTarget(1200, 5000, 20880));
    expect(await available()).toBe(1200 - 288 - 100);
    // 3000 more: ceil(1200 × 8000 / 20880) = 460, the difference 172 from the lot expiring latest.
    const second = await operator().post(`/v1/admin/invoices/${yearly!.id}/refund`, { amount_cents: 3000, reason: 'goodwill' });
    expect(second.body).toMatchObject({ amount_cents: 3000, credits_clawed_back: 172, shortfall: 0 });
    expect((await lots()).map((l) => l.remaining)).toEqual([204, 304, 132]);
    expect(await available()).toBe(1200 - 460 - 100);

    // April: the January and February lots expired unused (204 + 304); the new refresh gives ceil(1600 × 8000 / 20880) − 460 = 154.
    await advanceClock(operator(), clockId, '2026-04-01T00:00:00Z');
    expect((await settledLots(4)).map((l) => l.remaining)[3]).toBe(246);
    const books = await eventually(() => ledgerOf(workspaceId), (b) => b.expired === 508);
    expect(books).toEqual({ granted: 1600, clawed: clawbackTarget(1600, 8000, 20880), spent: 100, expired: 508 });
    expect(await available()).toBe(books.granted - books.clawed - books.spent - books.expired);
    const clawbacks = await stack.sql<{ amount: number; operation_key: string }[]>`
      SELECT amount::int, operation_key FROM ledger_entries WHERE workspace_id = ${workspaceId} AND kind = 'clawback' ORDER BY id`;
    expect(clawbacks.map((e) => e.amount)).toEqual([-96, -96, -96, -172, -154]);
    expect(clawbacks.filter((e) => e.operation_key.includes(':late-clawback:'))).toHaveLength(3);
    // The credit notes keep what each refund took when it was applied; the refreshes' shares are journaled on their own.
    const invoice = ((await customer.get('/v1/invoices')).body.data as { id: string; credit_notes: { amount_cents: number; credits_clawed_back: number; shortfall: number }[] }[])
      .find((i) => i.id === yearly!.id)!;
    expect(invoice.credit_notes.map((n) => [n.amount_cents, n.credits_clawed_back, n.shortfall])).toEqual([[5000, 96, 0], [3000, 172, 0]]);
  });

  it('a dispute lost in part (3000 of Plus yearly 8640): the same shares, once whatever the duplicates', async () => {
    const clockId = (await operator().post('/v1/test-clocks', { frozen_time: '2026-01-01T00:00:00Z' })).body.id as string;
    const ws = await operator().post('/v1/workspaces', { name: 'yearly refresh disputed in part', test_clock_id: clockId });
    const workspaceId = ws.body.id as string;
    const customer = stack.api(ws.body.api_key);
    expect((await customer.put('/v1/payment-method', { payment_method: 'pm_card_visa' })).status).toBe(200);
    expect((await customer.post('/v1/subscription', { plan: 'plus', interval: 'year' })).status).toBe(201);
    await advanceClock(operator(), clockId, '2026-01-10T00:00:00Z');
    const [yearly] = (await customer.get('/v1/invoices')).body.data as { id: string; total_cents: number }[];
    expect(yearly!.total_cents).toBe(8640);
    // A dispute of 3000 of the charge, as Stripe reports one (the sandbox's pm_card_createDispute disputes all the card paid).
    const deliver = async (eventId: string, type: string, status: string) => {
      const body = JSON.stringify({
        id: eventId, object: 'event', type, created: Math.floor(Date.now() / 1000),
        data: { object: { id: 'dp_yearly_part', object: 'dispute', amount: 3000, currency: 'usd', status, charge: `ch_${yearly!.id}`,
          payment_intent: `pi_${yearly!.id}`, metadata: { invoice_id: yearly!.id, workspace_id: workspaceId } } },
      });
      const response = await fetch(`${stack.baseUrl}/webhooks/stripe`, {
        method: 'POST', body, headers: { 'content-type': 'application/json', 'stripe-signature': signStripePayload(body, WEBHOOK_SECRET) },
      });
      expect(response.status).toBe(200);
    };
    const settled = () => eventually(() => stack.sql`SELECT id FROM webhook_events WHERE forwarded_at IS NULL`, (rows) => rows.length === 0);
    const lots = () => stack.sql<{ remaining: number; dispute_freeze_key: string | null }[]>`
      SELECT remaining, dispute_freeze_key FROM lots WHERE workspace_id = ${workspaceId} ORDER BY id`;
    await deliver('evt_yearly_part_created', 'charge.dispute.created', 'needs_response');
    await eventually(lots, (rows) => rows[0]!.dispute_freeze_key !== null);
    await deliver('evt_yearly_part_lost', 'charge.dispute.closed', 'lost');
    // ceil(150 × 3000 / 8640) = 53.
    expect(await eventually(lots, (rows) => rows[0]!.dispute_freeze_key === null && rows[0]!.remaining < 150)).toEqual([{ remaining: 97, dispute_freeze_key: null }]);
    const notes = async () => ((await customer.get('/v1/invoices')).body.data as { id: string; credit_notes: { source: string; amount_cents: number; credits_clawed_back: number }[] }[])
      .find((i) => i.id === yearly!.id)!.credit_notes.map((n) => [n.source, n.amount_cents, n.credits_clawed_back]);
    expect(await notes()).toEqual([['dispute_lost', 3000, 53]]);

    await advanceClock(operator(), clockId, '2026-02-01T00:00:00Z');
    expect((await eventually(lots, (rows) => rows.length === 2 && rows[1]!.remaining < 150)).map((l) => l.remaining)).toEqual([97, 98]);
    await deliver('evt_yearly_part_lost_again', 'charge.dispute.closed', 'lost');
    await settled();
    await advanceClock(operator(), clockId, '2026-03-01T00:00:00Z');
    // ceil(300 × 3000 / 8640) − 53 = 52, then ceil(450 × 3000 / 8640) − 105 = 52.
    expect((await eventually(lots, (rows) => rows.length === 3 && rows[2]!.remaining < 150)).map((l) => l.remaining)).toEqual([97, 98, 98]);
    expect((await ledgerOf(workspaceId)).clawed).toBe(clawbackTarget(450, 3000, 8640));
    expect(await notes()).toEqual([['dispute_lost', 3000, 53]]);
    expect((await customer.get('/v1/credits')).body.available).toBe(97 + 98 + 98);
    const refused = await operator().post(`/v1/admin/invoices/${yearly!.id}/refund`, { amount_cents: 100, reason: 'after a lost dispute' });
    expect([refused.status, refused.body.code]).toEqual([409, 'invoice_disputed']);
  });
});
