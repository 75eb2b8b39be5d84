import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, advanceClock, startStack } from '../helpers/stack.js';

/** SPEC §9 example 10 (and the §3 hold timeout), over HTTP on the whole stack with a test clock. */
describe('SPEC example 10: holds', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => stack?.stop());

  it('20 concurrent creations on 150 credits: 15 start, 5 get 402; capture 7, fail 14; a stale hold is released after an hour', async () => {
    const operator = stack.api(ADMIN_KEY);
    const clock = (await operator.post('/v1/test-clocks', { frozen_time: '2026-01-01T00:00:00Z' })).body;
    const ws = await operator.post('/v1/workspaces', { name: 'Busy studio', test_clock_id: clock.id });
    expect(ws.status).toBe(201);
    const customer = stack.api(ws.body.api_key);
    expect((await customer.put('/v1/payment-method', { payment_method: 'pm_card_visa' })).status).toBe(200);
    const sub = await customer.post('/v1/subscription', { plan: 'plus', interval: 'month' });
    expect(sub.status).toBe(201);
    expect(sub.body.status).toBe('active');
    let credits = (await customer.get('/v1/credits')).body;
    expect(credits).toMatchObject({ available: 150, held: 0 });
    expect(credits.lots).toHaveLength(1);
    const lot = credits.lots[0];
    expect(lot).toMatchObject({ source: 'monthly', granted: 150, remaining: 150, held: 0 });

    // imagen-3, standard resolution: 2 credits an image, 5 images.
    const estimate = () => customer.post('/v1/credits/estimate', { model: 'imagen-3', resolution: 'standard', count: 5 });
    const quotes = await Promise.all(Array.from({ length: 20 }, estimate));
    for (const quote of quotes) {
      expect(quote.status).toBe(201);
      expect(quote.body).toMatchObject({ credits: 10, expires_at: '2026-01-01T00:15:00.000Z' });
    }
    expect(new Set(quotes.map((q) => q.body.quote_id)).size).toBe(20);

    const attempts = await Promise.all(quotes.map((q) => customer.post('/v1/creations', { quote_id: q.body.quote_id })));
    const started = attempts.filter((a) => a.status === 201);
    const refused = attempts.filter((a) => a.status === 402);
    expect(attempts.map((a) => a.status).sort()).toEqual([...Array(15).fill(201), ...Array(5).fill(402)]);
    for (const creation of started) {
      expect(creation.body).toMatchObject({ status: 'running', quoted: 10, held: 10, charged: null, lots: [{ lot: lot.id, credits: 10 }] });
    }
    for (const refusal of refused) {
      expect(refusal.contentType).toMatch(/^application\/problem\+json/);
      // The refusal's detail is in the problem: what the creation needs and what is available (all held).
      expect(refusal.body).toMatchObject({ status: 402, code: 'insufficient_credits', required: 10, available: 0 });
    }
    credits = (await customer.get('/v1/credits')).body;
    expect(credits).toMatchObject({ available: 0, held: 150 });
    expect(credits.lots).toMatchObject([{ id: lot.id, remaining: 150, held: 150 }]);

    const [first, ...rest] = started.map((c) => c.body.id as string);
    const completed = await customer.post(`/v1/creations/${first}/complete`, { credits: 7 });
    expect(completed.status).toBe(200);
    expect(completed.body).toMatchObject({ id: first, status: 'succeeded', charged: 7, released: 3, held: 0, variance: null });
    expect(completed.body.lots).toEqual([{ lot: lot.id, credits: 7 }]);
    credits = (await customer.get('/v1/credits')).body;
    expect(credits).toMatchObject({ available: 3, held: 140 });

    const failed = await Promise.all(rest.map((id) => customer.post(`/v1/creations/${id}/fail`)));
    expect(failed).toHaveLength(14);
    for (const response of failed) {
      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({ status: 'failed', released: 10, charged: 0, held: 0, lots: [] });
    }
    credits = (await customer.get('/v1/credits')).body;
    expect(credits).toMatchObject({ available: 143, held: 0 });
    expect(credits.lots).toMatchObject([{ id: lot.id, granted: 150, remaining: 143, held: 0 }]);

    // The journal, newest first: the grant, 15 holds, one capture, 15 releases; the refusals left no trace.
    const ledger = (await customer.get('/v1/ledger?limit=100')).body;
    expect(ledger.has_more).toBe(false);
    const entries: { id: string; kind: string; lot: string; amount: number; balance_after: number }[] = ledger.data;
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

    const creations = (await customer.get('/v1/creations?limit=100')).body;
    expect(creations.data).toHaveLength(15);
    // Newest first (all 15 started at the same instant of the frozen clock).
    const createdAt = creations.data.map((c: any) => c.created_at as string);
    expect(createdAt).toEqual([...createdAt].sort().reverse());
    expect(new Set(creations.data.map((c: any) => c.id))).toEqual(new Set(started.map((c) => c.body.id)));
    expect(creations.data.filter((c: any) => c.status === 'succeeded').map((c: any) => [c.id, c.charged])).toEqual([[first, 7]]);
    expect(creations.data.filter((c: any) => c.status === 'failed')).toHaveLength(14);

    // A hold not completed within an hour is released: still held after 59 minutes, released after 61.
    const quote = await estimate();
    const abandoned = await customer.post('/v1/creations', { quote_id: quote.body.quote_id });
    expect(abandoned.status).toBe(201);
    expect(abandoned.body).toMatchObject({ status: 'running', held: 10 });
    expect((await customer.get('/v1/credits')).body).toMatchObject({ available: 133, held: 10 });

    await advanceClock(operator, clock.id, '2026-01-01T00:59:00Z');
    expect((await customer.get('/v1/credits')).body).toMatchObject({ available: 133, held: 10 });

    await advanceClock(operator, clock.id, '2026-01-01T01:01:00Z');
    credits = (await customer.get('/v1/credits')).body;
    expect(credits).toMatchObject({ available: 143, held: 0, as_of: '2026-01-01T01:01:00.000Z' });
    const listed: { id: string; status: string; created_at: string }[] = (await customer.get('/v1/creations?limit=100')).body.data;
    expect(listed).toHaveLength(16);
    expect(listed.find((c) => c.id === abandoned.body.id)).toMatchObject({ status: 'expired', charged: 0, released: 10, held: 0 });
    expect(listed.filter((c) => c.status === 'expired')).toHaveLength(1);
    const [newest] = (await customer.get('/v1/ledger?limit=1')).body.data;
    expect(newest).toMatchObject({ kind: 'release', amount: 10, balance_after: 143, lot: lot.id });
    // Ending it now is refused: it already expired.
    const late = await customer.post(`/v1/creations/${abandoned.body.id}/complete`, { credits: 10 });
    expect(late.status).toBe(409);
    expect(late.body.code).toBe('creation_not_running');
  });
});
