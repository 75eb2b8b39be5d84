import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, startStack } from '../helpers/stack.js';
import { advanceTestClock } from '../helpers/typed-client.js';

/** SPEC §9 example 10 (and the §3 hold timeout), over HTTP on the whole stack with a test clock. */
describe('SPEC example 10: holds', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => stack?.stop());

  it('20 concurrent creations on 150 credits: 15 start, 5 get 402; capture 7, fail 14; a stale hold is released after an hour', async () => {
    const operator = stack.client(ADMIN_KEY);
    const clock = (await operator.POST('/v1/test-clocks', { body: { frozen_time: '2026-01-01T00:00:00Z' } })).data!;
    const ws = await operator.POST('/v1/workspaces', { body: { name: 'Busy studio', test_clock_id: clock.id } });
    expect(ws.response.status).toBe(201);
    const customer = stack.client(ws.data!.api_key);
    expect((await customer.PUT('/v1/payment-method', { body: { payment_method: 'pm_card_visa' } })).response.status).toBe(200);
    const sub = await customer.POST('/v1/subscription', { body: { plan: 'plus', interval: 'month' } });
    expect(sub.response.status).toBe(201);
    expect(sub.data!.status).toBe('active');
    const balance = async () => (await customer.GET('/v1/credits')).data!;
    let credits = await balance();
    expect(credits).toMatchObject({ available: 150, held: 0 });
    expect(credits.lots).toHaveLength(1);
    const lot = credits.lots[0]!;
    expect(lot).toMatchObject({ source: 'monthly', granted: 150, remaining: 150, held: 0 });

    // imagen-3, standard resolution: 2 credits an image, 5 images.
    const estimate = () => customer.POST('/v1/credits/estimate', { body: { model: 'imagen-3', resolution: 'standard', count: 5 } });
    const quotes = await Promise.all(Array.from({ length: 20 }, estimate));
    for (const quote of quotes) {
      expect(quote.response.status).toBe(201);
      expect(quote.data).toMatchObject({ credits: 10, expires_at: '2026-01-01T00:15:00.000Z' });
    }
    expect(new Set(quotes.map((q) => q.data!.quote_id)).size).toBe(20);

    const attempts = await Promise.all(quotes.map((q) => customer.POST('/v1/creations', { body: { quote_id: q.data!.quote_id } })));
    const started = attempts.filter((a) => a.response.status === 201);
    const refused = attempts.filter((a) => a.response.status === 402);
    expect(attempts.map((a) => a.response.status).sort()).toEqual([...Array(15).fill(201), ...Array(5).fill(402)]);
    for (const creation of started) {
      expect(creation.data).toMatchObject({ status: 'running', quoted: 10, held: 10, charged: null, lots: [{ lot: lot.id, credits: 10 }] });
    }
    for (const refusal of refused) {
      expect(refusal.response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      // The refusal's detail is in the problem: what the creation needs and what is available (all held).
      expect(refusal.error).toMatchObject({ status: 402, code: 'insufficient_credits', required: 10, available: 0 });
    }
    credits = await balance();
    expect(credits).toMatchObject({ available: 0, held: 150 });
    expect(credits.lots).toMatchObject([{ id: lot.id, remaining: 150, held: 150 }]);

    const [first, ...rest] = started.map((c) => c.data!.id);
    const completed = await customer.POST('/v1/creations/{id}/complete', { params: { path: { id: first! } }, body: { credits: 7 } });
    expect(completed.response.status).toBe(200);
    expect(completed.data).toMatchObject({ id: first, status: 'succeeded', charged: 7, released: 3, held: 0, variance: null });
    expect(completed.data!.lots).toEqual([{ lot: lot.id, credits: 7 }]);
    credits = await balance();
    expect(credits).toMatchObject({ available: 3, held: 140 });

    const failed = await Promise.all(rest.map((id) => customer.POST('/v1/creations/{id}/fail', { params: { path: { id } } })));
    expect(failed).toHaveLength(14);
    for (const response of failed) {
      expect(response.response.status).toBe(200);
      expect(response.data).toMatchObject({ status: 'failed', released: 10, charged: 0, held: 0, lots: [] });
    }
    credits = await balance();
    expect(credits).toMatchObject({ available: 143, held: 0 });
    expect(credits.lots).toMatchObject([{ id: lot.id, granted: 150, remaining: 143, held: 0 }]);

    // The journal, newest first: the grant, 15 holds, one capture, 15 releases; the refusals left no trace.
    const ledger = (await customer.GET('/v1/ledger', { params: { query: { limit: 100 } } })).data!;
    expect(ledger.has_more).toBe(false);
    const entries = ledger.data;
    const ids = entries.map((e) => Number(e.id.replace('le_', '')));
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    const ofKind = (kind: string) => entries.filter((e) => e.kind === kind);
    expect(entries).toHaveLength(32);
    expect(entries.every((e) => e.lot === lot.id)).toBe(true);
    expect(ofKind('grant').map((e) => [e.amount, e.balance_after])).toEqual([[150, 150]]);
    expect(entries.at(-1)!.kind).toBe('grant');
    const holds = ofKind('hold');
    expect(holds).toHaveLength(15);
    expect(holds.every((e) => e.amount === -10)).toBe(true);
    // The holds ran one after another: each left 10 fewer available.
    expect(holds.map((e) => e.balance_after)).toEqual([0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140]);
    expect(ofKind('capture').map((e) => e.amount)).toEqual([-7]);
    const releases = ofKind('release');
    expect(releases).toHaveLength(15);
    expect(releases.map((e) => e.amount).sort((a, b) => a - b)).toEqual([3, ...Array(14).fill(10)]);
    expect(entries[0]).toMatchObject({ kind: 'release', balance_after: 143 });

    const listCreations = async () => (await customer.GET('/v1/creations', { params: { query: { limit: 100 } } })).data!.data;
    const creations = await listCreations();
    expect(creations).toHaveLength(15);
    // Newest first (all 15 started at the same instant of the frozen clock).
    const createdAt = creations.map((c) => c.created_at);
    expect(createdAt).toEqual([...createdAt].sort().reverse());
    expect(new Set(creations.map((c) => c.id))).toEqual(new Set(started.map((c) => c.data!.id)));
    expect(creations.filter((c) => c.status === 'succeeded').map((c) => [c.id, c.charged])).toEqual([[first, 7]]);
    expect(creations.filter((c) => c.status === 'failed')).toHaveLength(14);

    // A hold not completed within an hour is released: still held after 59 minutes, released after 61.
    const quote = await estimate();
    const abandoned = await customer.POST('/v1/creations', { body: { quote_id: quote.data!.quote_id } });
    expect(abandoned.response.status).toBe(201);
    expect(abandoned.data).toMatchObject({ status: 'running', held: 10 });
    expect(await balance()).toMatchObject({ available: 133, held: 10 });

    await advanceTestClock(operator, clock.id, '2026-01-01T00:59:00Z');
    expect(await balance()).toMatchObject({ available: 133, held: 10 });

    await advanceTestClock(operator, clock.id, '2026-01-01T01:01:00Z');
    credits = await balance();
    expect(credits).toMatchObject({ available: 143, held: 0, as_of: '2026-01-01T01:01:00.000Z' });
    const listed = await listCreations();
    expect(listed).toHaveLength(16);
    expect(listed.find((c) => c.id === abandoned.data!.id)).toMatchObject({ status: 'expired', charged: 0, released: 10, held: 0 });
    expect(listed.filter((c) => c.status === 'expired')).toHaveLength(1);
    const [newest] = (await customer.GET('/v1/ledger', { params: { query: { limit: 1 } } })).data!.data;
    expect(newest).toMatchObject({ kind: 'release', amount: 10, balance_after: 143, lot: lot.id });
    // Ending it now is refused: it already expired.
    const late = await customer.POST('/v1/creations/{id}/complete', { params: { path: { id: abandoned.data!.id } }, body: { credits: 10 } });
    expect(late.response.status).toBe(409);
    expect(late.error!.code).toBe('creation_not_running');
  });
});
