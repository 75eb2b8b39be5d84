import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, startStack } from '../helpers/stack.js';
import { eventually } from '../helpers/temporal.js';

/** `Idempotency-Key` on POSTs: same key + same body → same response; same key + other body → 422. */
describe('Idempotency-Key', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => stack?.stop());

  const post = (key: string, path: string, body: unknown, idempotencyKey?: string) =>
    fetch(stack.baseUrl + path, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...(idempotencyKey ? { 'idempotency-key': idempotencyKey } : {}) },
      body: JSON.stringify(body),
    });

  it('replays the first response for a retried request and changes nothing more', async () => {
    const first = await post(ADMIN_KEY, '/v1/workspaces', { name: 'Retry studio' }, 'create-ws-1');
    const retry = await post(ADMIN_KEY, '/v1/workspaces', { name: 'Retry studio' }, 'create-ws-1');
    expect(first.status).toBe(201);
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    const [a, b] = [await first.json(), await retry.json()];
    expect(b).toEqual(a);
    const rows = await stack.sql`SELECT count(*)::int AS n FROM workspaces WHERE name = 'Retry studio'`;
    expect(rows[0]!.n).toBe(1);

    // Subscribing twice with one key charges once and answers the same.
    const key = a.api_key as string;
    await fetch(`${stack.baseUrl}/v1/payment-method`, {
      method: 'PUT', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ payment_method: 'pm_card_visa' }),
    });
    const subscribe = () => post(key, '/v1/subscription', { plan: 'plus', interval: 'month' }, 'subscribe-1');
    const [s1, s2] = [await subscribe(), await subscribe()];
    expect([s1.status, s2.status]).toEqual([201, 201]);
    expect(await s2.json()).toEqual(await s1.json());
    const invoices = await stack.sql`SELECT count(*)::int AS n FROM invoices WHERE workspace_id = ${a.id}`;
    expect(invoices[0]!.n).toBe(1);
  });

  it('refuses the same key with another body (422), and keeps keys of different callers apart', async () => {
    expect((await post(ADMIN_KEY, '/v1/workspaces', { name: 'One' }, 'reused')).status).toBe(201);
    const other = await post(ADMIN_KEY, '/v1/workspaces', { name: 'Two' }, 'reused');
    expect(other.status).toBe(422);
    expect((await other.json()).code).toBe('idempotency_key_reused');
    const ws = await (await post(ADMIN_KEY, '/v1/workspaces', { name: 'Three' })).json();
    // The same key from a workspace is a different key.
    const quote = await post(ws.api_key, '/v1/credits/estimate', { model: 'imagen-3' }, 'reused');
    expect(quote.status).toBe(201);
  });

  it('replays a refusal too: a 4xx is the answer to that request', async () => {
    const bad = await post(ADMIN_KEY, '/v1/workspaces', { name: '' }, 'bad-1');
    const again = await post(ADMIN_KEY, '/v1/workspaces', { name: '' }, 'bad-1');
    expect([bad.status, again.status]).toEqual([400, 400]);
    expect(again.headers.get('content-type')).toContain('application/problem+json');
    // Replayed from the store, not refused afresh by validation.
    expect([bad.headers.get('idempotent-replayed'), again.headers.get('idempotent-replayed')]).toEqual([null, 'true']);
    expect(await again.json()).toEqual(await bad.json());
  });
});

describe('observability', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => stack?.stop());

  it('echoes request ids and exposes Prometheus metrics labelled by route', async () => {
    const response = await fetch(`${stack.baseUrl}/v1/plans`, { headers: { 'x-request-id': 'req-123' } });
    expect(response.headers.get('x-request-id')).toBe('req-123');
    expect((await fetch(`${stack.baseUrl}/healthz`)).headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    // Problems carry it too (they are made by the error handler, not the route).
    const refused = await fetch(`${stack.baseUrl}/v1/credits`, { headers: { 'x-request-id': 'req-401' } });
    expect([refused.status, refused.headers.get('x-request-id')]).toEqual([401, 'req-401']);
    const metrics = await (await fetch(`${stack.baseUrl}/metrics`)).text();
    expect(metrics).toMatch(/http_requests_total\{method="GET",route="\/v1\/plans",status="200"\} 1/);
    expect(metrics).toContain('http_request_duration_seconds_bucket');
    expect(metrics).toContain('process_cpu_user_seconds_total');
  });

  it('reports readiness of Postgres and Temporal', async () => {
    const ready = await fetch(`${stack.baseUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', postgres: 'ok', temporal: 'ok' });
  });
});

describe('API keys and the spend rate limit', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  beforeAll(async () => {
    stack = await startStack({ spendRateLimit: { perSecond: 5, burst: 5 } });
  });
  afterAll(async () => stack?.stop());

  it('stores keys hashed, shows a new key once, and refuses a revoked key', async () => {
    const ws = (await stack.api(ADMIN_KEY).post('/v1/workspaces', { name: 'Keys' })).body;
    const first = stack.api(ws.api_key);
    const created = await first.post('/v1/api-keys');
    expect(created.status).toBe(201);
    expect(created.body.api_key).toMatch(/^sk_ws_/);
    const listed = (await first.get('/v1/api-keys')).body.data;
    expect(listed).toHaveLength(2);
    expect(JSON.stringify(listed)).not.toContain(created.body.api_key);
    expect(listed.map((k: { hint: string }) => k.hint)).toContain(created.body.api_key.slice(-4));
    const stored = await stack.sql`SELECT key_hash FROM api_keys WHERE workspace_id = ${ws.id}`;
    expect(stored.map((r) => r.key_hash)).not.toContain(created.body.api_key);

    const second = stack.api(created.body.api_key);
    expect((await second.get('/v1/credits')).status).toBe(200);
    const revoked = await first.delete(`/v1/api-keys/${created.body.id}`);
    expect([revoked.status, typeof revoked.body.revoked_at]).toEqual([200, 'string']);
    expect((await second.get('/v1/credits')).status).toBe(401);
    const other = (await stack.api(ADMIN_KEY).post('/v1/workspaces', { name: 'Other' })).body;
    expect((await stack.api(other.api_key).delete(`/v1/api-keys/${listed[0].id}`)).status).toBe(404);
  });

  it('limits the spend path per workspace with 429 and Retry-After', async () => {
    const ws = (await stack.api(ADMIN_KEY).post('/v1/workspaces', { name: 'Busy' })).body;
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 8; i++) {
      const response = await fetch(`${stack.baseUrl}/v1/credits/estimate`, {
        method: 'POST', headers: { authorization: `Bearer ${ws.api_key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'imagen-3' }),
      });
      statuses.push(response.status);
      if (response.status === 429) retryAfter = response.headers.get('retry-after');
    }
    expect(statuses.filter((s) => s === 201).length).toBeGreaterThanOrEqual(5);
    expect(statuses).toContain(429);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    // Another workspace has its own bucket.
    const other = (await stack.api(ADMIN_KEY).post('/v1/workspaces', { name: 'Calm' })).body;
    expect((await stack.api(other.api_key).post('/v1/credits/estimate', { model: 'imagen-3' })).status).toBe(201);
  });

  it('counts one token per creations request, and never replays a 429 for its Idempotency-Key', async () => {
    const ws = (await stack.api(ADMIN_KEY).post('/v1/workspaces', { name: 'Careful' })).body;
    const post = (path: string, body: object, key?: string) => fetch(`${stack.baseUrl}${path}`, {
      method: 'POST', body: JSON.stringify(body),
      headers: { authorization: `Bearer ${ws.api_key}`, 'content-type': 'application/json', ...(key ? { 'idempotency-key': key } : {}) },
    });
    // Burst 5: five starts from unknown quotes are five refusals of the ledger (404), none of the limiter.
    const starts = [];
    for (let i = 0; i < 5; i++) starts.push((await post('/v1/creations', { quote_id: `quote_missing_${i}` })).status);
    expect(starts).toEqual([404, 404, 404, 404, 404]);

    const limited = await post('/v1/credits/estimate', { model: 'imagen-3' }, 'estimate-after-limit');
    expect(limited.status).toBe(429);
    // Once the bucket refills, the same key runs the request instead of answering the stored 429.
    const retried = await eventually(() => post('/v1/credits/estimate', { model: 'imagen-3' }, 'estimate-after-limit'), (r) => r.status !== 429, 10_000);
    expect([retried.status, retried.headers.get('idempotent-replayed')]).toEqual([201, null]);
  });
});
