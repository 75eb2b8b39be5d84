import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, apiClient, startStack } from '../helpers/stack.js';

/** Every route of the first slice: bad input is a 400 problem naming the field and changes nothing. */
describe('bad input and authentication', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  let operator: ReturnType<typeof apiClient>;
  let customer: ReturnType<typeof apiClient>;
  let clockId: string;

  beforeAll(async () => {
    stack = await startStack();
    operator = stack.api(ADMIN_KEY);
    clockId = (await operator.post('/v1/test-clocks', { frozen_time: '2026-01-01T00:00:00Z' })).body.id;
    customer = stack.api((await operator.post('/v1/workspaces', { name: 'probe', test_clock_id: clockId })).body.api_key);
  });
  afterAll(async () => stack?.stop());

  const counts = async () => (await stack.sql`
    SELECT (SELECT count(*) FROM test_clocks)::int AS clocks, (SELECT count(*) FROM workspaces)::int AS workspaces,
           (SELECT count(*) FROM subscriptions)::int AS subscriptions, (SELECT count(*) FROM quotes)::int AS quotes,
           (SELECT max(frozen_time) FROM test_clocks) AS clock_time,
           (SELECT count(*) FROM workspaces WHERE payment_method IS NOT NULL)::int AS payment_methods`)[0];

  it.each([
    ['operator', 'POST', '/v1/test-clocks', {}, ['frozen_time']],
    ['operator', 'POST', '/v1/test-clocks', { frozen_time: 'next tuesday' }, ['frozen_time']],
    ['operator', 'POST', '/v1/test-clocks', { frozen_time: 1767225600 }, ['frozen_time']],
    ['operator', 'POST', '/v1/test-clocks/:clock/advance', { frozen_time: '2025-12-31T00:00:00Z' }, ['frozen_time']],
    ['operator', 'POST', '/v1/test-clocks/:clock/advance', {}, ['frozen_time']],
    ['operator', 'POST', '/v1/workspaces', { name: '' }, ['name']],
    ['operator', 'POST', '/v1/workspaces', { name: 'x', test_clock_id: 'clock_missing' }, ['test_clock_id']],
    ['operator', 'POST', '/v1/workspaces', { name: 'x', admin: true }, ['body']],
    ['operator', 'POST', '/v1/workspaces', '{"name": ', ['body']],
    ['customer', 'PUT', '/v1/payment-method', { payment_method: '4242424242424242' }, ['payment_method']],
    ['customer', 'PUT', '/v1/payment-method', {}, ['payment_method']],
    ['customer', 'POST', '/v1/subscription', { plan: 'gold', interval: 'week' }, ['plan', 'interval']],
    ['customer', 'POST', '/v1/subscription', { plan: 'max' }, ['interval']],
    ['customer', 'POST', '/v1/subscription', 'not json', ['body']],
    ['customer', 'POST', '/v1/credits/estimate', { model: 'veo-2' }, ['duration_s']],
    ['customer', 'POST', '/v1/credits/estimate', { model: 'imagen-3', count: -1 }, ['count']],
    ['customer', 'POST', '/v1/creations', {}, ['quote_id']],
  ] as const)('%s %s %s %j → 400 naming %j', async (who, method, path, body, fields) => {
    const before = await counts();
    const client = who === 'operator' ? operator : customer;
    const url = path.replace(':clock', clockId);
    const response = method === 'PUT' ? await client.put(url, body) : await client.post(url, body);
    expect(response.status).toBe(400);
    expect(response.contentType).toContain('application/problem+json');
    expect(response.body.code).toBe('invalid_request');
    if (fields.includes('body' as never) && typeof body === 'string') {
      expect(response.body.detail).toMatch(/json/i);
    } else {
      expect(response.body.errors.map((e: { field: string }) => e.field)).toEqual(expect.arrayContaining([...fields]));
    }
    expect(await counts()).toEqual(before);
  });

  it.each([
    ['GET', '/v1/test-clocks/:clock'], ['POST', '/v1/test-clocks'], ['POST', '/v1/test-clocks/:clock/advance'],
    ['POST', '/v1/workspaces'], ['PUT', '/v1/payment-method'], ['POST', '/v1/subscription'], ['GET', '/v1/subscription'],
    ['GET', '/v1/credits'], ['GET', '/v1/invoices'], ['POST', '/v1/credits/estimate'], ['POST', '/v1/creations'],
  ])('%s %s with an unknown key → 401, without one → 401', async (method, path) => {
    const url = path.replace(':clock', clockId);
    for (const headers of [{ authorization: 'Bearer sk_ws_not_a_key' }, {}] as Record<string, string>[]) {
      const response = await fetch(stack.baseUrl + url, { method, headers: { ...headers, 'content-type': 'application/json' }, body: method === 'GET' ? undefined : '{}' });
      expect(response.status).toBe(401);
      expect(response.headers.get('content-type')).toContain('application/problem+json');
      expect((await response.json()).code).toBe('unauthorized');
    }
  });

  it('keeps operator routes from workspace keys and workspace routes from the operator key', async () => {
    expect((await customer.post('/v1/workspaces', { name: 'sneaky' })).status).toBe(403);
    expect((await customer.get(`/v1/test-clocks/${clockId}`)).status).toBe(403);
    expect((await operator.get('/v1/credits')).status).toBe(403);
  });

  it('answers 404 for unknown clocks and a workspace without a subscription, 409 for a second subscription', async () => {
    expect((await operator.get('/v1/test-clocks/clock_nope')).status).toBe(404);
    expect((await operator.post('/v1/test-clocks/clock_nope/advance', { frozen_time: '2027-01-01T00:00:00Z' })).status).toBe(404);
    const none = await customer.get('/v1/subscription');
    expect([none.status, none.body.code]).toEqual([404, 'no_subscription']);
    await customer.put('/v1/payment-method', { payment_method: 'pm_card_visa' });
    expect((await customer.post('/v1/subscription', { plan: 'plus', interval: 'month' })).status).toBe(201);
    const second = await customer.post('/v1/subscription', { plan: 'max', interval: 'month' });
    expect([second.status, second.body.code]).toEqual([409, 'subscription_exists']);
    expect((await stack.sql`SELECT count(*)::int AS n FROM subscriptions`)[0]!.n).toBe(1);
  });
});
