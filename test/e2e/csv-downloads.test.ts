import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, apiClient, startStack } from '../helpers/stack.js';

/**
 * CSV downloads (SPEC §11): `Accept: text/csv` on GET /v1/ledger, /v1/creations and /v1/invoices streams the
 * whole list (every page, not one), newest first, RFC 4180 with a header row, as an attachment. Each download
 * is parsed back and compared value for value with the JSON list read page by page: integers stay exact,
 * instants are ISO UTC, a reason with a comma, quotes and a line break survives.
 */
describe('CSV downloads', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  let customer: ReturnType<typeof apiClient>;
  let key: string;
  let workspaceId: string;
  const CREATIONS = 600; // hold + capture each: over 1,000 journal entries, so the ledger download spans pages
  const awkwardReason = 'launch, "day one"\nthanks';

  async function download(path: string) {
    const res = await fetch(stack.baseUrl + path, { headers: { authorization: `Bearer ${key}`, accept: 'text/csv' } });
    const text = await res.text();
    return { res, text, rows: parse(text, { columns: true }) as Record<string, string>[] };
  }

  /** The whole JSON list, page by page (limit 100, following next_cursor). */
  async function wholeList<T>(path: string): Promise<T[]> {
    const all: T[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { data: T[]; next_cursor: string | null } } = await customer.get(`${path}?limit=100${cursor ? `&starting_after=${cursor}` : ''}`);
      all.push(...page.body.data);
      cursor = page.body.next_cursor;
    } while (cursor);
    return all;
  }

  beforeAll(async () => {
    // Seeding 600 creations as fast as the stack answers is a bulk load, not a test of the rate limits (tested in
    // test/security/limits.test.ts and spec-example-10): lift them so a fast machine never sees a 429 here.
    const unlimited = { perSecond: 1_000_000, burst: 1_000_000 };
    stack = await startStack({ spendRateLimit: unlimited, rateLimit: unlimited });
    const operator = stack.api(ADMIN_KEY);
    const clockId = (await operator.post('/v1/test-clocks', { frozen_time: '2026-01-01T00:00:00Z' })).body.id;
    const ws = await operator.post('/v1/workspaces', { name: 'csv', test_clock_id: clockId });
    [workspaceId, key] = [ws.body.id, ws.body.api_key];
    customer = apiClient(stack.baseUrl, key);
    expect((await customer.put('/v1/payment-method', { payment_method: 'pm_card_visa' })).status).toBe(200);
    expect((await customer.post('/v1/subscription', { plan: 'team', interval: 'month' })).body.status).toBe('active');
    for (const size of [100, 500, 100]) expect((await customer.post('/v1/credit-packs', { size })).status).toBe(201);
    expect((await customer.put('/v1/payment-method', { payment_method: 'pm_card_chargeDeclined' })).status).toBe(200);
    expect((await customer.post('/v1/credit-packs', { size: 500 })).status).toBe(402); // a void invoice
    const adjusted = await operator.post(`/v1/admin/workspaces/${workspaceId}/credit-adjustments`, { credits: 7, reason: awkwardReason });
    expect(adjusted.status).toBe(201);
    const models = [{ model: 'imagen-3', count: 1 }, { model: 'veo-2', duration_s: 3 }, { model: 'kling-2', duration_s: 2 }];
    for (let batch = 0; batch < CREATIONS; batch += 20) {
      await Promise.all(Array.from({ length: Math.min(20, CREATIONS - batch) }, async (_, k) => {
        const i = batch + k;
        const quote = await customer.post('/v1/credits/estimate', models[i % 3]);
        const started = await customer.post('/v1/creations', { quote_id: quote.body.quote_id });
        expect(started.status).toBe(201);
        if (i % 10 === 0) await customer.post(`/v1/creations/${started.body.id}/fail`);
        else if (i % 10 !== 1) await customer.post(`/v1/creations/${started.body.id}/complete`, { credits: started.body.held });
        // i % 10 === 1: left running
      }));
    }
  }, 300_000);
  afterAll(async () => stack?.stop());

  it('the ledger: every entry, newest first, equal to the JSON list; RFC 4180 attachment with a header row', async () => {
    const { res, text, rows } = await download('/v1/ledger');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/csv; charset=utf-8/);
    expect(res.headers.get('content-disposition')).toMatch(new RegExp(`^attachment; filename="ledger-${workspaceId}-\\d{4}-\\d{2}-\\d{2}\\.csv"$`));
    expect(text.split('\r\n')[0]).toBe('id,at,kind,lot,amount,balance_change,balance_after,operation,reason');
    expect(text.endsWith('\r\n')).toBe(true);
    const entries = await wholeList<Record<string, string | number | null>>('/v1/ledger');
    expect(entries.length).toBeGreaterThan(1000);
    expect(rows).toEqual(entries.map((e) => ({
      id: e.id, at: e.at, kind: e.kind, lot: e.lot, amount: String(e.amount), balance_change: String(e.balance_change),
      balance_after: String(e.balance_after), operation: e.operation, reason: e.reason ?? '',
    })));
    expect(rows.filter((r) => r.kind === 'adjust').map((r) => r.reason)).toEqual([awkwardReason]);
    // The newest entry's balance is the balance now (the journal reconciles).
    expect(Number(rows[0]!.balance_after)).toBe((await customer.get('/v1/credits')).body.available);
  });

  it('the creations: every one (six pages of the JSON list), with model, charged credits and receipt', async () => {
    const { res, rows } = await download('/v1/creations');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toContain(`filename="creations-${workspaceId}-`);
    const creations = await wholeList<Record<string, unknown> & { api_key: { id: string; name: string | null } | null }>('/v1/creations');
    expect(creations).toHaveLength(CREATIONS);
    const cell = (v: unknown) => (v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));
    expect(rows).toEqual(creations.map((x) => ({
      id: x.id, created_at: x.created_at, status: x.status, model: cell(x.model), quoted: cell(x.quoted), held: cell(x.held),
      charged: cell(x.charged), released: cell(x.released), variance: cell(x.variance), expires_at: cell(x.expires_at),
      api_key_id: cell(x.api_key?.id), api_key_name: cell(x.api_key?.name), external_id: cell(x.external_id),
      request: cell(x.request), metadata: cell(x.metadata), lots: cell(x.lots),
    })));
    const counts = (status: string) => rows.filter((r) => r.status === status).length;
    expect([counts('succeeded'), counts('failed'), counts('running')]).toEqual([480, 60, 60]);
    expect(rows.filter((r) => r.status === 'succeeded').reduce((t, r) => t + Number(r.charged), 0))
      .toBe(creations.filter((x) => x.status === 'succeeded').reduce((t, x) => t + (x.charged as number), 0));
  });

  it('the invoices: every one with its amounts in integer cents, void included', async () => {
    const { res, rows } = await download('/v1/invoices');
    expect(res.status).toBe(200);
    const invoices = (await customer.get('/v1/invoices')).body.data as Record<string, unknown>[];
    // Team's packs (20% off): 100 → 800, 500 → 3280; the declined one is void.
    expect(rows.map((r) => [r.kind, r.status, r.total_cents])).toEqual([
      ['pack', 'void', '3280'], ['pack', 'paid', '800'], ['pack', 'paid', '3280'], ['pack', 'paid', '800'], ['subscription', 'paid', '29900'],
    ]);
    expect(rows).toEqual(invoices.map((i) => ({
      id: i.id, number: i.number ?? '', created_at: i.created_at, kind: i.kind, status: i.status,
      subtotal_cents: String(i.subtotal_cents), tax_cents: String(i.tax_cents), total_cents: String(i.total_cents),
      amount_due_cents: String(i.amount_due_cents), paid_at: i.paid_at ?? '', refunded_cents: '0', dispute_status: '',
      hosted_url: i.hosted_url ?? '', pdf_url: i.pdf_url ?? '', lines: JSON.stringify(i.lines),
    })));
  });

  it('without Accept: text/csv the lists stay JSON pages', async () => {
    const page = await customer.get('/v1/ledger?limit=5');
    expect(page.contentType).toMatch(/^application\/json/);
    expect(page.body.data).toHaveLength(5);
    const jsonPreferred = await fetch(`${stack.baseUrl}/v1/invoices`, { headers: { authorization: `Bearer ${key}`, accept: 'application/json, text/csv;q=0' } });
    expect(jsonPreferred.headers.get('content-type')).toMatch(/^application\/json/);
  });
});
