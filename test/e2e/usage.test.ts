import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, advanceClock, apiClient, startStack } from '../helpers/stack.js';
import { eventually } from '../helpers/temporal.js';

/**
 * GET /v1/usage (SPEC §11) on the real stack: a month of varied use on a test clock (a plan grant, an adjustment
 * that expires partly spent, captures by two keys and three models, a failure, a lapsed hold, a negative
 * adjustment, a cancellation that forfeits the plan lot), then every figure checked exactly: groups by day,
 * model and key sum to the totals; expiries and forfeits land in their window; the reconciliation goes from the
 * available balance at `from` to the one at `to`.
 */
describe('GET /v1/usage', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  const operator = () => stack.api(ADMIN_KEY);
  let customer: ReturnType<typeof apiClient>;
  let producer: ReturnType<typeof apiClient>;
  let clockId: string;
  let workspaceId: string;
  let mainKeyId: string;
  let producerKeyId: string;

  const usage = async (query: string) => {
    const res = await customer.get(`/v1/usage?${query}`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body;
  };

  /** Estimates, starts and (optionally) ends one creation with `client` at the clock's current time. */
  async function creation(client: ReturnType<typeof apiClient>, estimate: object, end: { complete: number } | 'fail' | 'leave') {
    const quote = await client.post('/v1/credits/estimate', estimate);
    expect(quote.status, JSON.stringify(quote.body)).toBe(201);
    const started = await client.post('/v1/creations', { quote_id: quote.body.quote_id });
    expect(started.status, JSON.stringify(started.body)).toBe(201);
    const id = started.body.id as string;
    if (end === 'fail') expect((await client.post(`/v1/creations/${id}/fail`)).status).toBe(200);
    else if (end !== 'leave') expect((await client.post(`/v1/creations/${id}/complete`, { credits: end.complete })).body.status).toBe('succeeded');
    return id;
  }

  beforeAll(async () => {
    stack = await startStack();
    clockId = (await operator().post('/v1/test-clocks', { frozen_time: '2026-01-01T00:00:00Z' })).body.id;
    const ws = await operator().post('/v1/workspaces', { name: 'usage', test_clock_id: clockId });
    workspaceId = ws.body.id;
    customer = apiClient(stack.baseUrl, ws.body.api_key);
    mainKeyId = (await stack.sql<{ id: string }[]>`SELECT id FROM api_keys WHERE workspace_id = ${workspaceId}`)[0]!.id;
    const key = await customer.post('/v1/api-keys', {});
    expect(key.status).toBe(201);
    producerKeyId = key.body.id;
    // Naming keys is another route's business (SPEC §11); set the name directly so the group carries it.
    await stack.sql`UPDATE api_keys SET name = 'producer-a' WHERE id = ${producerKeyId}`;
    producer = apiClient(stack.baseUrl, key.body.api_key);
    expect((await customer.put('/v1/payment-method', { payment_method: 'pm_card_visa' })).status).toBe(200);

    // 01-01 00:00: Max monthly, lot A of 400 (expires 03-02); +50 by adjustment, expiring 01-05 (burns first).
    expect((await customer.post('/v1/subscription', { plan: 'max', interval: 'month' })).body.status).toBe('active');
    const plus = await operator().post(`/v1/admin/workspaces/${workspaceId}/credit-adjustments`, { credits: 50, reason: 'goodwill', expires_at: '2026-01-05T00:00:00Z' });
    expect(plus.status, JSON.stringify(plus.body)).toBe(201);

    // 01-02 10:00: imagen-3 ×2 (4) by the producer, captured 4; veo-2 10 s (20) by the main key, captured 15;
    // kling-2 5 s (6) fails.
    await advanceClock(operator(), clockId, '2026-01-02T10:00:00Z');
    await creation(producer, { model: 'imagen-3', count: 2 }, { complete: 4 });
    await creation(customer, { model: 'veo-2', duration_s: 10 }, { complete: 15 });
    await creation(customer, { model: 'kling-2', duration_s: 5 }, 'fail');

    // 01-03 00:00: an imagen-3 high (3) left running: its hold lapses at 01:00 and is released.
    await advanceClock(operator(), clockId, '2026-01-03T00:00:00Z');
    const lapsing = await creation(customer, { model: 'imagen-3', resolution: 'high' }, 'leave');
    await advanceClock(operator(), clockId, '2026-01-03T02:00:00Z');
    await eventually(() => stack.sql<{ status: string }[]>`SELECT status FROM creations WHERE id = ${lapsing}`, (rows) => rows[0]?.status === 'expired');

    // 01-06: the adjustment lot's 31 unspent credits expired at 01-05; −10 by adjustment (from lot A).
    await advanceClock(operator(), clockId, '2026-01-06T00:00:00Z');
    const minus = await operator().post(`/v1/admin/workspaces/${workspaceId}/credit-adjustments`, { credits: -10, reason: 'correction' });
    expect(minus.status, JSON.stringify(minus.body)).toBe(201);
    expect((await customer.get('/v1/credits')).body.available).toBe(390);
  }, 180_000);
  afterAll(async () => stack?.stop());

  it('groups by UTC day: every day of the window, captures on the day of capture, failures and lapses apart; they sum to the totals', async () => {
    const body = await usage('from=2026-01-01T00:00:00Z&to=2026-01-07T00:00:00Z&group_by=day');
    const zero = { credits_captured: 0, creations: 0, creations_failed: 0, creations_expired: 0 };
    expect(body.groups).toEqual([
      { key: '2026-01-01', ...zero },
      { key: '2026-01-02', credits_captured: 19, creations: 2, creations_failed: 1, creations_expired: 0 },
      { key: '2026-01-03', ...zero, creations_expired: 1 },
      { key: '2026-01-04', ...zero },
      { key: '2026-01-05', ...zero },
      { key: '2026-01-06', ...zero },
    ]);
    expect(body.totals).toEqual({ credits_captured: 19, creations: 2, creations_failed: 1, creations_expired: 1 });
    expect([body.credits_expired, body.credits_forfeited]).toEqual([31, 0]);
  });

  it('groups by model and by API key (with its name), each summing to the same totals', async () => {
    const byModel = await usage('from=2026-01-01T00:00:00Z&to=2026-01-07T00:00:00Z&group_by=model');
    expect(byModel.groups).toEqual([
      { key: 'veo-2', credits_captured: 15, creations: 1, creations_failed: 0, creations_expired: 0 },
      { key: 'imagen-3', credits_captured: 4, creations: 1, creations_failed: 0, creations_expired: 1 },
      { key: 'kling-2', credits_captured: 0, creations: 0, creations_failed: 1, creations_expired: 0 },
    ]);
    const byKey = await usage('from=2026-01-01T00:00:00Z&to=2026-01-07T00:00:00Z&group_by=api_key');
    expect(byKey.groups).toEqual([
      { key: mainKeyId, api_key_name: null, credits_captured: 15, creations: 1, creations_failed: 1, creations_expired: 1 },
      { key: producerKeyId, api_key_name: 'producer-a', credits_captured: 4, creations: 1, creations_failed: 0, creations_expired: 0 },
    ]);
    expect(byModel.totals).toEqual(byKey.totals);
  });

  it('reconciles the window\'s journal to the change of available balance: grants, adjustments, captures, expiries', async () => {
    const body = await usage('from=2026-01-01T00:00:00Z&to=2026-01-07T00:00:00Z&group_by=day');
    expect(body.reconciliation).toEqual({
      opening_available: 0, granted: 400, adjusted: 40, thawed: 0, frozen: 0, captured: -19, expired: -31, forfeited: 0,
      clawed_back: 0, held_change: 0, net_change: 390, closing_available: 390,
    });
  });

  it('a window that cuts a hold counts it as held_change; one day alone starts from the balance before it', async () => {
    // 01-03 00:00–00:30: the 3 credits went on hold and were not yet released.
    const cut = await usage('from=2026-01-03T00:00:00Z&to=2026-01-03T00:30:00Z&group_by=model');
    expect(cut.reconciliation).toMatchObject({ opening_available: 431, held_change: -3, net_change: -3, closing_available: 428 });
    expect(cut.groups).toEqual([]);
    // 01-02: the captures (19) and the failure's release; the adjustment's 50 and the plan's 400 came before.
    const day2 = await usage('from=2026-01-02T00:00:00Z&to=2026-01-03T00:00:00Z&group_by=day');
    expect(day2.groups).toHaveLength(1);
    expect(day2.reconciliation).toEqual({
      opening_available: 450, granted: 0, adjusted: 0, thawed: 0, frozen: 0, captured: -19, expired: 0, forfeited: 0,
      clawed_back: 0, held_change: 0, net_change: -19, closing_available: 431,
    });
  });

  it('a cancellation forfeits the plan lot at the period end: forfeited in that window, reconciled to 0', async () => {
    expect((await customer.post('/v1/subscription/cancel')).body.cancel_at_period_end).toBe(true);
    await advanceClock(operator(), clockId, '2026-02-01T00:00:00Z');
    await eventually(() => customer.get('/v1/subscription'), (r) => r.body.status === 'canceled');
    await eventually(() => customer.get('/v1/credits'), (r) => r.body.available === 0);
    const body = await usage('from=2026-01-25T00:00:00Z&to=2026-02-01T00:00:00Z&group_by=model');
    expect(body.credits_forfeited).toBe(390);
    expect(body.reconciliation).toMatchObject({ opening_available: 390, forfeited: -390, net_change: -390, closing_available: 0 });
    // The default window: the 30 days up to the workspace's (test clock's) time.
    const recent = await usage('group_by=day');
    expect([recent.from, recent.to]).toEqual(['2026-01-02T00:00:00.000Z', '2026-02-01T00:00:00.000Z']);
    expect(recent.groups).toHaveLength(30);
  }, 120_000);

  it('refuses bad windows with a 400 naming the field, and answers only the workspace\'s own usage', async () => {
    for (const [query, field] of [
      ['from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z', 'to'],
      ['from=2026-01-01T00:00:00Z&to=2026-01-01T00:00:00Z', 'to'],
      ['from=2025-01-01T00:00:00Z&to=2026-02-06T00:00:00Z', 'to'],
      ['group_by=week', 'group_by'],
      ['from=tomorrow', 'from'],
    ] as const) {
      const res = await customer.get(`/v1/usage?${query}`);
      expect(res.status, query).toBe(400);
      expect(JSON.stringify(res.body), query).toContain(field);
    }
    const other = await operator().post('/v1/workspaces', { name: 'other', test_clock_id: clockId });
    const otherUsage = await apiClient(stack.baseUrl, other.body.api_key).get('/v1/usage?from=2026-01-01T00:00:00Z&to=2026-01-07T00:00:00Z&group_by=api_key');
    expect([otherUsage.body.groups, otherUsage.body.totals.creations]).toEqual([[], 0]);
  });
});
