import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, startStack } from '../helpers/stack.js';

/**
 * Issue 16, "what held" (keep it so): operator routes are 403 to workspace keys. Invariant: every operation
 * of the OpenAPI document under /v1/admin or secured by the operator scheme, and the operator-only ones of the
 * bearer scheme (test clocks, creating, listing and patching workspaces), answers 403 `forbidden` to a workspace
 * key, with a valid body (so validation cannot answer first), and changes nothing: no clock, workspace,
 * adjustment, operator key or audit entry is made, no subscription touched.
 */
describe('operator routes refuse workspace keys', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => stack?.stop());

  /** The bearer-scheme routes only an operator may use, with a valid body or id for each. */
  const operatorOnlyBearer = (ids: { clock: string; workspace: string }): Record<string, { path: string; body?: unknown }> => ({
    'post /v1/test-clocks': { path: '/v1/test-clocks', body: { frozen_time: '2026-02-01T00:00:00Z' } },
    'get /v1/test-clocks/{id}': { path: `/v1/test-clocks/${ids.clock}` },
    'post /v1/test-clocks/{id}/advance': { path: `/v1/test-clocks/${ids.clock}/advance`, body: { frozen_time: '2030-01-01T00:00:00Z' } },
    'post /v1/workspaces': { path: '/v1/workspaces', body: { name: 'made by a workspace key' } },
    'get /v1/workspaces': { path: '/v1/workspaces?external_id=someone' },
    'patch /v1/workspaces/{id}': { path: `/v1/workspaces/${ids.workspace}`, body: { external_id: 'stolen' } },
  });

  it('answers 403 forbidden to a workspace key on each, changing nothing', async () => {
    const operator = stack.api(ADMIN_KEY);
    const clock = (await operator.post('/v1/test-clocks', { frozen_time: '2026-01-01T00:00:00Z' })).body as { id: string };
    const ws = (await operator.post('/v1/workspaces', { name: 'tenant', test_clock_id: clock.id })).body as { id: string; api_key: string };
    const tenant = stack.api(ws.api_key);
    await tenant.put('/v1/payment-method', { payment_method: 'pm_card_visa' });
    await tenant.post('/v1/subscription', { plan: 'plus', interval: 'month' });
    const [invoice] = (await tenant.get('/v1/invoices')).body.data as { id: string }[];

    const doc = (await (await fetch(`${stack.baseUrl}/openapi.json`)).json()) as { paths: Record<string, Record<string, { security?: unknown }>> };
    const bearerOnes = operatorOnlyBearer({ clock: clock.id, workspace: ws.id });
    const operations = Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ method, path, op })));
    const operatorOps = operations.filter(({ method, path, op }) =>
      path.startsWith('/v1/admin/') || JSON.stringify(op.security ?? []).includes('operatorKey') || `${method} ${path}` in bearerOnes);
    expect(operatorOps.length).toBeGreaterThan(Object.keys(bearerOnes).length);
    for (const name of Object.keys(bearerOnes)) expect(operatorOps.map(({ method, path }) => `${method} ${path}`)).toContain(name);

    const counts = async () => (await stack.sql<{ n: string }[]>`
      SELECT concat_ws(',', (SELECT count(*) FROM test_clocks), (SELECT count(*) FROM workspaces), (SELECT count(*) FROM operator_keys),
        (SELECT count(*) FROM ledger_entries), (SELECT count(*) FROM invoices), (SELECT count(*) FROM audit_log WHERE workspace_id IS DISTINCT FROM ${ws.id}),
        (SELECT max(frozen_time)::text FROM test_clocks), (SELECT external_id FROM workspaces WHERE id = ${ws.id})) AS n`)[0]!.n;
    const before = await counts();

    // Path ids: this tenant's own workspace and invoice (an operator route stays closed even for its own objects).
    const fill = (path: string) => path.replace('{id}', path.includes('invoices') ? invoice!.id : path.includes('operator-keys') ? 'opk_root' : ws.id);
    const refused: [string, number, string][] = [];
    for (const { method, path } of operatorOps) {
      const given = bearerOnes[`${method} ${path}`];
      const response = await fetch(stack.baseUrl + (given?.path ?? fill(path)), {
        method: method.toUpperCase(),
        headers: { authorization: `Bearer ${ws.api_key}`, 'content-type': 'application/json' },
        body: method === 'get' || method === 'delete' ? undefined : JSON.stringify(given?.body ?? {}),
      });
      refused.push([`${method} ${path}`, response.status, ((await response.json()) as { code?: string }).code ?? '']);
    }
    expect(refused.filter(([, status, code]) => status !== 403 || code !== 'forbidden')).toEqual([]);
    expect(await counts()).toBe(before);
    expect((await tenant.get('/v1/subscription')).body.status).toBe('active');
  });
});
