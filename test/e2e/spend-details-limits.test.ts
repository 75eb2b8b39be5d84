import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/temporal.js';
import { ADMIN_KEY, advanceClock, startStack } from '../helpers/stack.js';

/**
 * SPEC §11's spend path over HTTP on the whole stack (the worker's hold sweeper included), on test clocks:
 * creations remember what they were and which key made them (API and /billing), named keys with daily
 * budgets (402 spending_limit_reached, 403 key_restricted), and long jobs that extend their hold.
 */
describe('creation details, key budgets and hold extensions', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => stack?.stop());

  /** A Max monthly workspace (400 credits) on its own clock at 2026-01-01T00:00Z. */
  async function subscribed(name: string) {
    const operator = stack.api(ADMIN_KEY);
    const clock = (await operator.post('/v1/test-clocks', { frozen_time: '2026-01-01T00:00:00Z' })).body;
    const ws = await operator.post('/v1/workspaces', { name, test_clock_id: clock.id });
    const admin = stack.api(ws.body.api_key);
    expect((await admin.put('/v1/payment-method', { payment_method: 'pm_card_visa' })).status).toBe(200);
    expect((await admin.post('/v1/subscription', { plan: 'max', interval: 'month' })).status).toBe(201);
    return { operator, clockId: clock.id as string, workspaceId: ws.body.id as string, admin, adminKey: ws.body.api_key as string };
  }

  const patchKey = async (key: string, id: string, body: unknown) => {
    const response = await fetch(`${stack.baseUrl}/v1/api-keys/${id}`, {
      method: 'PATCH', body: JSON.stringify(body), headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    });
    return { status: response.status, body: await response.json() };
  };

  /** /billing's HTML for the workspace, signed in through a billing session URL. */
  async function billingPage(api: ReturnType<typeof stack.api>): Promise<string> {
    const session = await api.post('/v1/billing-sessions', {});
    const signIn = await fetch(session.body.url, { redirect: 'manual' });
    const cookie = signIn.headers.getSetCookie().find((c) => c.startsWith('billing_session='))!.split(';')[0]!;
    const page = await fetch(`${stack.baseUrl}/billing`, { headers: { cookie } });
    expect(page.status).toBe(200);
    return (await page.text()).replaceAll('&quot;', '"').replaceAll('&#34;', '"');
  }

  it('a named key with a daily budget: its creations say what they were and who made them, beyond the budget 402, and it cannot manage keys', async () => {
    const { admin, adminKey } = await subscribed('Keyed studio');
    const made = await admin.post('/v1/api-keys', { name: 'Ana', daily_credit_limit: 10 });
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({ name: 'Ana', daily_credit_limit: 10, api_key: expect.stringMatching(/^sk_ws_/) });
    const ana = stack.api(made.body.api_key);

    const quote = await ana.post('/v1/credits/estimate', { model: 'imagen-3', resolution: 'high', count: 2 });
    expect(quote.body.credits).toBe(6);
    const creation = await ana.post('/v1/creations', { quote_id: quote.body.quote_id, external_id: 'shot-42', metadata: { scene: 'intro' } });
    expect(creation.status).toBe(201);
    expect(creation.body).toMatchObject({
      status: 'running', quoted: 6, held: 6, model: 'imagen-3', request: { model: 'imagen-3', resolution: 'high', count: 2 },
      api_key: { id: made.body.id, name: 'Ana' }, external_id: 'shot-42', metadata: { scene: 'intro' }, expires_at: '2026-01-01T01:00:00.000Z',
    });
    // 6 of 10 used today: the next 6 is refused, before the balance (400 available) is even looked at.
    const second = await ana.post('/v1/credits/estimate', { model: 'imagen-3', resolution: 'high', count: 2 });
    const refused = await ana.post('/v1/creations', { quote_id: second.body.quote_id });
    expect(refused.status).toBe(402);
    expect(refused.body).toMatchObject({ code: 'spending_limit_reached', daily_credit_limit: 10, used: 6, required: 6, resets_at: '2026-01-02T00:00:00.000Z' });
    expect(refused.body.top_up_pending).toBeUndefined();

    // The workspace's own key has no budget: its creation names it (no name), and it sees Ana's use.
    const own = await admin.post('/v1/creations', { quote_id: (await admin.post('/v1/credits/estimate', { model: 'veo-2', duration_s: 5 })).body.quote_id });
    expect(own.body).toMatchObject({ model: 'veo-2', request: { model: 'veo-2', duration_s: 5 }, api_key: { name: null }, external_id: null, metadata: {} });
    const keys = (await admin.get('/v1/api-keys')).body.data as { id: string; name: string | null; used: number }[];
    expect(keys.find((k) => k.id === made.body.id)).toMatchObject({ name: 'Ana', daily_credit_limit: 10, used: 6 });
    const byExternalId = (await admin.get('/v1/creations?external_id=shot-42')).body;
    expect(byExternalId.data.map((c: { id: string }) => c.id)).toEqual([creation.body.id]);
    expect((await admin.get('/v1/creations?external_id=nothing-like-it')).body.data).toEqual([]);

    // A key with a limit cannot create, change or revoke keys (it could lift its own limit otherwise).
    expect((await ana.post('/v1/api-keys', {})).body.code).toBe('key_restricted');
    expect(await patchKey(made.body.api_key, made.body.id, { daily_credit_limit: null })).toMatchObject({ status: 403, body: { code: 'key_restricted' } });
    const revoke = await ana.delete(`/v1/api-keys/${made.body.id}`);
    expect([revoke.status, revoke.body.code]).toEqual([403, 'key_restricted']);

    // The billing page says what each creation was.
    const html = await billingPage(admin);
    expect(html).toContain('Image · high · ×2 · key "Ana"');
    expect(html).toContain('Video · veo-2 · 5 s · key ');

    // The workspace's key lifts the limit: Ana's quote now starts.
    expect((await patchKey(adminKey, made.body.id, { daily_credit_limit: null })).body).toMatchObject({ name: 'Ana', daily_credit_limit: null, used: 6 });
    expect((await ana.post('/v1/creations', { quote_id: second.body.quote_id })).status).toBe(201);
  });

  it('a long video extended past the first hour is captured in full; one not extended is released by the sweep and cannot be revived', async () => {
    const { operator, clockId, admin } = await subscribed('Long jobs');
    const video = async () => (await admin.post('/v1/credits/estimate', { model: 'veo-2', duration_s: 10 })).body.quote_id as string;
    const long = (await admin.post('/v1/creations', { quote_id: await video() })).body;
    const lapsing = (await admin.post('/v1/creations', { quote_id: await video() })).body;
    expect([long.quoted, lapsing.quoted]).toEqual([20, 20]);

    await advanceClock(operator, clockId, '2026-01-01T00:50:00Z');
    const extended = await admin.post(`/v1/creations/${long.id}/extend`, { extend_by_s: 3600 });
    expect([extended.status, extended.body.expires_at]).toEqual([200, '2026-01-01T01:50:00.000Z']);
    // Beyond 24 hours from its creation: refused with the latest possible expiry, nothing changes.
    const tooLong = await admin.post(`/v1/creations/${long.id}/extend`, { extend_by_s: 86_400 });
    expect(tooLong.body).toMatchObject({ status: 409, code: 'hold_extension_limit', latest_expires_at: '2026-01-02T00:00:00.000Z' });

    await advanceClock(operator, clockId, '2026-01-01T01:40:00Z');
    const listed = await eventually(
      () => admin.get('/v1/creations?limit=10'),
      (r) => r.body.data.find((c: { id: string }) => c.id === lapsing.id)?.status === 'expired',
    );
    expect(listed.body.data.find((c: { id: string }) => c.id === long.id)).toMatchObject({ status: 'running', expires_at: '2026-01-01T01:50:00.000Z' });
    const revived = await admin.post(`/v1/creations/${lapsing.id}/extend`, { extend_by_s: 600 });
    expect([revived.status, revived.body.code]).toEqual([409, 'creation_not_running']);

    const done = await admin.post(`/v1/creations/${long.id}/complete`, { credits: 20 });
    expect(done.body).toMatchObject({ status: 'succeeded', charged: 20, released: 0, expires_at: null });
    expect((await admin.get('/v1/credits')).body).toMatchObject({ available: 380, held: 0 });
  });
});
