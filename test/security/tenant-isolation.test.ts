import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, apiClient, startStack } from '../helpers/stack.js';

/**
 * Issue 16, "what held" (keep it so): tenant isolation on every id-taking route. Invariant: a workspace key
 * given another workspace's id, on any route of the OpenAPI document that takes an id in its path (or a quote id
 * in its body), gets 404, exactly as for an id that does not exist, and the other workspace is left unchanged.
 * The routes are enumerated from /openapi.json: a new id-taking route fails this test until it is listed here.
 */
describe('tenant isolation on every id-taking route', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => stack?.stop());

  /** Operator-only routes (403 to a workspace key: test/security/operator-routes.test.ts), not tenant-scoped. */
  const operatorOnly = (path: string, method: string, security: unknown) =>
    path.startsWith('/v1/admin/') || path.startsWith('/v1/test-clocks') || (path === '/v1/workspaces/{id}' && method === 'patch')
    || JSON.stringify(security ?? []).includes('operatorKey');

  it('answers 404 to another workspace\'s id on each of them, changing nothing of the owner', async () => {
    const operator = stack.api(ADMIN_KEY);
    const clockId = (await operator.post('/v1/test-clocks', { frozen_time: '2026-01-01T00:00:00Z' })).body.id as string;
    const owner = await operator.post('/v1/workspaces', { name: 'owner', test_clock_id: clockId });
    const intruder = await operator.post('/v1/workspaces', { name: 'intruder', test_clock_id: clockId });
    const ownerApi = apiClient(stack.baseUrl, owner.body.api_key);
    const intruderApi = apiClient(stack.baseUrl, intruder.body.api_key);

    // The owner's objects, one of each kind an id names.
    await ownerApi.put('/v1/payment-method', { payment_method: 'pm_card_visa' });
    await ownerApi.put('/v1/webhook-events', { enabled_events: ['*'] });
    expect((await ownerApi.post('/v1/subscription', { plan: 'generative', interval: 'month' })).status).toBe(201);
    const [invoice] = (await ownerApi.get('/v1/invoices')).body.data as { id: string }[];
    const key = (await ownerApi.post('/v1/api-keys', { name: 'second' })).body as { id: string };
    const model = (await ownerApi.post('/v1/custom-models', { name: 'owner model' })).body as { id: string };
    const quote = (await ownerApi.post('/v1/credits/estimate', { model: 'imagen-3', resolution: 'standard', count: 1 })).body as { quote_id: string };
    const spareQuote = (await ownerApi.post('/v1/credits/estimate', { model: 'imagen-3', resolution: 'standard', count: 1 })).body as { quote_id: string };
    const creation = (await ownerApi.post('/v1/creations', { quote_id: quote.quote_id })).body as { id: string };
    expect([invoice?.id, key.id, model.id, creation.id, spareQuote.quote_id].every(Boolean)).toBe(true);
    const [event] = await stack.sql<{ id: string; event_id: string }[]>`
      SELECT id, event_id FROM notifications WHERE workspace_id = ${owner.body.id} AND event_id IS NOT NULL ORDER BY id LIMIT 1`;
    const [delivery] = await stack.sql<{ id: string }[]>`
      INSERT INTO webhook_deliveries (notification_id, workspace_id, attempt, trigger, url, status_code, error, duration_ms, at)
      VALUES (${event!.id}, ${owner.body.id}, 1, 'automatic', 'https://owner.example/hooks', 500, 'HTTP 500', 12, now()) RETURNING id`;

    /** Per documented operation: the owner's ids to try and a valid body (so validation cannot answer first). */
    const cases: Record<string, { ids: string[]; body?: unknown }> = {
      'get /v1/invoices/{id}': { ids: [invoice!.id] },
      'get /v1/workspaces/{id}': { ids: [owner.body.id] },
      'delete /v1/api-keys/{id}': { ids: [key.id] },
      'patch /v1/api-keys/{id}': { ids: [key.id], body: { name: 'taken over' } },
      'delete /v1/custom-models/{id}': { ids: [model.id] },
      'post /v1/custom-models/{id}/activate': { ids: [model.id] },
      'post /v1/creations/{id}/complete': { ids: [creation.id], body: { credits: 1 } },
      'post /v1/creations/{id}/fail': { ids: [creation.id] },
      'post /v1/creations/{id}/extend': { ids: [creation.id], body: { extend_by_s: 60 } },
      'post /v1/webhook-deliveries/{id}/retry': { ids: [`whd_${delivery!.id}`, event!.event_id] },
    };

    const doc = (await (await fetch(`${stack.baseUrl}/openapi.json`)).json()) as { paths: Record<string, Record<string, { security?: unknown }>> };
    const idTaking = Object.entries(doc.paths).filter(([path]) => path.includes('{'))
      .flatMap(([path, operations]) => Object.entries(operations).filter(([method, op]) => !operatorOnly(path, method, op.security))
        .map(([method]) => `${method} ${path}`));
    expect(idTaking.filter((op) => !(op in cases))).toEqual([]); // every id-taking route is tried below
    expect(idTaking.length).toBeGreaterThanOrEqual(Object.keys(cases).length);

    const ownerState = async () => ({
      credits: (await ownerApi.get('/v1/credits')).body,
      invoices: (await ownerApi.get('/v1/invoices')).body.data,
      keys: (await ownerApi.get('/v1/api-keys')).body.data.map((k: { id: string; name: string | null }) => [k.id, k.name]),
      models: (await ownerApi.get('/v1/custom-models')).body,
      creations: (await ownerApi.get('/v1/creations')).body.data.map((c: { id: string; status: string }) => [c.id, c.status]),
      deliveries: (await stack.sql`SELECT id FROM webhook_deliveries WHERE workspace_id = ${owner.body.id}`).length,
    });
    const before = await ownerState();

    const answers: [string, string, number, string][] = [];
    for (const op of idTaking) {
      const [method, path] = op.split(' ') as [string, string];
      for (const id of cases[op]!.ids) {
        const response = await fetch(stack.baseUrl + path.replace('{id}', encodeURIComponent(id)), {
          method: method.toUpperCase(),
          headers: { authorization: `Bearer ${intruder.body.api_key}`, 'content-type': 'application/json' },
          body: method === 'get' || method === 'delete' ? undefined : JSON.stringify(cases[op]!.body ?? {}),
        });
        answers.push([op, id, response.status, ((await response.json()) as { code?: string }).code ?? '']);
      }
    }
    expect(answers.filter(([, , status]) => status !== 404)).toEqual([]);

    // A quote id in a body: starting a creation on another workspace's quote.
    const onForeignQuote = await intruderApi.post('/v1/creations', { quote_id: spareQuote.quote_id });
    expect(onForeignQuote.status).toBe(404);

    expect(await ownerState()).toEqual(before);
    // The owner still uses its own objects (the intruder's calls touched none of them).
    expect((await ownerApi.post(`/v1/creations/${creation.id}/complete`, { credits: 1 })).status).toBe(200);
    expect((await ownerApi.post('/v1/creations', { quote_id: spareQuote.quote_id })).status).toBe(201);
  });
});
