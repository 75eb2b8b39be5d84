import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, startStack } from '../helpers/stack.js';

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
