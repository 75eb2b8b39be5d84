import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, apiClient, type ApiResponse, startStack } from '../helpers/stack.js';

/**
 * Every list pages alike (issue 14): `limit` (1..100) and `starting_after` (the previous page's `next_cursor`) in,
 * `{ data, has_more, next_cursor }` out. For each list, paging with limit 1 and 2 visits every item exactly once,
 * in the order of the one-page answer; an unknown cursor is a 400 naming `starting_after`.
 */
describe('pagination of every list', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  let operator: ReturnType<typeof apiClient>;
  let studio: ReturnType<typeof apiClient>;
  let workspaceId: string;

  beforeAll(async () => {
    stack = await startStack();
    operator = apiClient(stack.baseUrl, ADMIN_KEY);
    const clock = await operator.post('/v1/test-clocks', { frozen_time: '2026-01-01T00:00:00Z' });
    const ws = await operator.post('/v1/workspaces', { name: 'pages', test_clock_id: clock.body.id, external_id: 'pages-1' });
    expect(ws.status).toBe(201);
    workspaceId = ws.body.id;
    studio = apiClient(stack.baseUrl, ws.body.api_key);
    expect((await studio.put('/v1/payment-method', { payment_method: 'pm_card_visa' })).status).toBe(200);
    expect((await studio.post('/v1/subscription', { plan: 'max', interval: 'month' })).body.status).toBe('active');
    for (const size of [100, 100]) expect((await studio.post('/v1/credit-packs', { size })).status).toBe(201); // 3 invoices
    for (const name of ['a', 'b']) expect((await studio.post('/v1/api-keys', { name })).status).toBe(201); // 3 keys
    for (const name of ['m1', 'm2', 'm3']) expect((await studio.post('/v1/custom-models', { name })).status).toBe(201);
    for (const name of ['ops-1', 'ops-2']) expect((await operator.post('/v1/admin/operator-keys', { name })).status).toBe(201);
    for (const name of ['other-1', 'other-2']) expect((await operator.post('/v1/workspaces', { name })).status).toBe(201);
    // Alerts are written by the worker's checks; three are seeded here as it would write them.
    for (const n of [1, 2, 3]) {
      await stack.sql`INSERT INTO notifications (workspace_id, kind, dedupe_key, payload, at)
        VALUES (${workspaceId}, 'low_balance', ${`pages-${n}`}, ${stack.sql.json({ available: n })}, now())`;
    }
  });
  afterAll(async () => stack?.stop());

  /** Every page of `path` at `limit`, following next_cursor with `cursorName`; the ids in the order met. */
  async function pageThrough(client: ReturnType<typeof apiClient>, path: string, limit: number, cursorName = 'starting_after'): Promise<string[]> {
    const ids: string[] = [];
    let cursor: string | null = null;
    for (let pages = 0; pages < 50; pages++) {
      const sep = path.includes('?') ? '&' : '?';
      const page: ApiResponse = await client.get(`${path}${sep}limit=${limit}${cursor ? `&${cursorName}=${encodeURIComponent(cursor)}` : ''}`);
      expect(page.status, `${path} limit ${limit}`).toBe(200);
      expect(page.body.data.length).toBeLessThanOrEqual(limit);
      ids.push(...page.body.data.map((item: { id: string }) => item.id));
      expect(page.body.next_cursor).toBe(page.body.has_more ? page.body.data.at(-1).id : null);
      if (!page.body.has_more) return ids;
      cursor = page.body.next_cursor;
    }
    throw new Error(`${path}: more than 50 pages`);
  }

  const lists: [string, () => ReturnType<typeof apiClient>, number][] = [
    ['/v1/invoices', () => studio, 3],
    ['/v1/api-keys', () => studio, 3],
    ['/v1/custom-models', () => studio, 3],
    ['/v1/notifications', () => studio, 3],
    ['/v1/ledger', () => studio, 3],
    ['/v1/admin/operator-keys', () => operator, 3],
    ['/v1/admin/workspaces', () => operator, 3],
    ['/v1/admin/audit', () => operator, 3],
    ['/v1/workspaces?external_id=pages-1', () => operator, 1],
  ];

  for (const [path, client, atLeast] of lists) {
    it(`${path}: limit 1 and 2 visit every item once, in order`, async () => {
      const whole = await client().get(`${path}${path.includes('?') ? '&' : '?'}limit=100`);
      expect(whole.status).toBe(200);
      expect(whole.body.has_more).toBe(false);
      const all = whole.body.data.map((item: { id: string }) => item.id);
      expect(all.length).toBeGreaterThanOrEqual(atLeast);
      expect(new Set(all).size).toBe(all.length);
      for (const limit of [1, 2]) expect(await pageThrough(client(), path, limit)).toEqual(all);

      const sep = path.includes('?') ? '&' : '?';
      const unknown = await client().get(`${path}${sep}starting_after=nope_unknown`);
      expect([unknown.status, unknown.body.code, unknown.body.errors?.[0]?.field]).toEqual([400, 'invalid_request', 'starting_after']);
      const tooMany = await client().get(`${path}${sep}limit=101`);
      expect([tooMany.status, tooMany.body.errors?.[0]?.field]).toEqual([400, 'limit']);
    });
  }

  it('keeps the deprecated cursor name of the operator lists, paging the same way', async () => {
    for (const path of ['/v1/admin/audit', '/v1/admin/workspaces']) {
      const all = (await operator.get(`${path}?limit=100`)).body.data.map((item: { id: string }) => item.id);
      expect(await pageThrough(operator, path, 2, 'cursor')).toEqual(all);
    }
  });

  it('answers a plan change and a pack purchase with the same invoice fields', async () => {
    const pack = await studio.post('/v1/credit-packs', { size: 100 });
    expect(pack.body.invoice_id).toBe(pack.body.invoice.id);
    const change = await studio.post('/v1/subscription/change', { plan: 'generative' });
    expect(change.status).toBe(200);
    expect(change.body).toMatchObject({ kind: 'upgrade', invoice_id: change.body.invoice, latest_invoice: { id: change.body.invoice, kind: 'upgrade', status: 'paid' } });
    const invoice = await studio.get(`/v1/invoices/${change.body.invoice_id}`);
    expect(change.body.latest_invoice).toEqual(invoice.body);
    expect(Object.keys(change.body.latest_invoice).sort()).toEqual(Object.keys(pack.body.invoice).sort());
  });
});
