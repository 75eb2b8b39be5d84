import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, advanceClock, apiClient, startStack } from '../helpers/stack.js';
import { eventually } from '../helpers/temporal.js';

/**
 * SPEC §10 operator tools over HTTP: adjustments (up, down, refused), operator keys, the audit log, the
 * operator's views of any workspace, the journal export that reconciles, and subscription actions on a
 * customer's behalf. Every /v1/admin route of the OpenAPI document refuses a workspace key.
 */
describe('operator tools', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  const operator = () => stack.api(ADMIN_KEY);
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => stack?.stop());

  /** A workspace on its own test clock at 2026-01-01, subscribed to Max monthly (a lot of 400). */
  async function subscribedWorkspace(name: string, plan = 'max') {
    const clockId = (await operator().post('/v1/test-clocks', { frozen_time: '2026-01-01T00:00:00Z' })).body.id as string;
    const ws = await operator().post('/v1/workspaces', { name, test_clock_id: clockId });
    expect(ws.status).toBe(201);
    const customer = apiClient(stack.baseUrl, ws.body.api_key);
    expect((await customer.put('/v1/payment-method', { payment_method: 'pm_card_visa' })).status).toBe(200);
    expect((await customer.post('/v1/subscription', { plan, interval: 'month' })).body.status).toBe('active');
    return { customer, clockId, workspaceId: ws.body.id as string, apiKey: ws.body.api_key as string };
  }

  async function footprint(workspaceId: string) {
    const [lots, entries, operations] = await Promise.all([
      stack.sql`SELECT id, source, granted, remaining, held, frozen, expires_at FROM lots WHERE workspace_id = ${workspaceId} ORDER BY id`,
      stack.sql`SELECT id, kind, amount, reason FROM ledger_entries WHERE workspace_id = ${workspaceId} ORDER BY id`,
      stack.sql`SELECT key FROM ledger_operations WHERE workspace_id = ${workspaceId} ORDER BY key`,
    ]);
    return { lots: [...lots], entries: [...entries], operations: [...operations] };
  }

  /** RFC 4180 rows (quoted fields may hold commas, quotes and line breaks). */
  function parseCsv(text: string): string[][] {
    const rows: string[][] = [];
    let row: string[] = [];
    let field = '';
    let quoted = false;
    for (let i = 0; i < text.length; i++) {
      const ch = text[i]!;
      if (quoted) {
        if (ch === '"' && text[i + 1] === '"') { field += '"'; i++; } else if (ch === '"') quoted = false; else field += ch;
      } else if (ch === '"') quoted = true;
      else if (ch === ',') { row.push(field); field = ''; } else if (ch === '\n') { row.push(field); rows.push(row); row = []; field = ''; } else if (ch !== '\r') field += ch;
    }
    if (field !== '' || row.length > 0) { row.push(field); rows.push(row); }
    return rows;
  }

  it('adjusts credits up and down: lots, burn order, balances and a journal with the reason', async () => {
    const { customer, workspaceId } = await subscribedWorkspace('adjust up and down');
    expect((await customer.post('/v1/credit-packs', { size: 100 })).status).toBe(201);

    const up = await operator().post(`/v1/admin/workspaces/${workspaceId}/credit-adjustments`, { credits: 50, reason: 'Goodwill: outage, ticket #4512' });
    expect(up.status).toBe(201);
    expect(up.body).toMatchObject({ workspace_id: workspaceId, credits: 50, reason: 'Goodwill: outage, ticket #4512', expires_at: null, balance_after: 550, frozen: false, at: '2026-01-01T00:00:00.000Z' });
    const credits = (await customer.get('/v1/credits')).body;
    expect(credits.available).toBe(550);
    // Burn order: the expiring monthly lot, then the adjustment (no expiry), then the pack.
    expect(credits.lots.map((l: { source: string; remaining: number; expires_at: string | null }) => [l.source, l.remaining, l.expires_at]))
      .toEqual([['monthly', 400, '2026-03-02T00:00:00.000Z'], ['adjustment', 50, null], ['pack', 100, null]]);

    const down = await operator().post(`/v1/admin/workspaces/${workspaceId}/credit-adjustments`, { credits: -420, reason: 'Duplicate grant' });
    expect(down.status).toBe(201);
    expect(down.body.lots.map((l: { credits: number }) => l.credits)).toEqual([-400, -20]);
    expect(down.body.balance_after).toBe(130);
    const after = (await customer.get('/v1/credits')).body;
    expect(after.available).toBe(130);
    expect(after.lots.map((l: { source: string; remaining: number }) => [l.source, l.remaining])).toEqual([['monthly', 0], ['adjustment', 30], ['pack', 100]]);

    // The customer's own journal shows the adjust entries with their reason.
    const ledger = (await customer.get('/v1/ledger?limit=100')).body.data;
    const adjusts = ledger.filter((e: { kind: string }) => e.kind === 'adjust').reverse();
    expect(adjusts.map((e: { amount: number; reason: string; balance_after: number }) => [e.amount, e.reason, e.balance_after])).toEqual([
      [50, 'Goodwill: outage, ticket #4512', 550], [-400, 'Duplicate grant', 150], [-20, 'Duplicate grant', 130],
    ]);
    expect(ledger.filter((e: { kind: string }) => e.kind !== 'adjust').every((e: { reason: unknown }) => e.reason === null)).toBe(true);
  });

  it('an adjustment with an expiry burns by its date; the same Idempotency-Key adjusts once', async () => {
    const { customer, workspaceId } = await subscribedWorkspace('adjust with expiry');
    const body = { credits: 25, reason: 'Trial extension', expires_at: '2026-01-20T00:00:00Z' };
    const headers = { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json', 'idempotency-key': 'adj-once-1' };
    const first = await fetch(`${stack.baseUrl}/v1/admin/workspaces/${workspaceId}/credit-adjustments`, { method: 'POST', headers, body: JSON.stringify(body) });
    const second = await fetch(`${stack.baseUrl}/v1/admin/workspaces/${workspaceId}/credit-adjustments`, { method: 'POST', headers, body: JSON.stringify(body) });
    expect([first.status, second.status]).toEqual([201, 201]);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    const credits = (await customer.get('/v1/credits')).body;
    expect(credits.available).toBe(425);
    // Expiring on 01-20, before the monthly lot (03-02): it burns first.
    expect(credits.lots.map((l: { source: string }) => l.source)).toEqual(['adjustment', 'monthly']);
    expect((await stack.sql`SELECT count(*)::int AS n FROM lots WHERE workspace_id = ${workspaceId} AND source = 'adjustment'`)[0]!.n).toBe(1);
  });

  it('refuses a negative adjustment above the available credits (409 insufficient_credits) and bad input (400), changing nothing', async () => {
    const { customer, workspaceId } = await subscribedWorkspace('adjust refused');
    // Hold 100 of the 400: held credits cannot be taken.
    const quote = await customer.post('/v1/credits/estimate', { model: 'veo-2', duration_s: 50 });
    expect(quote.status).toBe(201);
    expect((await customer.post('/v1/creations', { quote_id: quote.body.quote_id })).status).toBe(201);
    const available = (await customer.get('/v1/credits')).body.available as number;
    const before = await footprint(workspaceId);

    const tooMuch = await operator().post(`/v1/admin/workspaces/${workspaceId}/credit-adjustments`, { credits: -(available + 1), reason: 'too much' });
    expect(tooMuch.status).toBe(409);
    expect(tooMuch.contentType).toMatch(/^application\/problem\+json/);
    expect(tooMuch.body).toMatchObject({ code: 'insufficient_credits', required: available + 1, available });

    const bad: [unknown, string][] = [
      [{ credits: 0, reason: 'zero' }, 'credits'],
      [{ credits: 1.5, reason: 'fraction' }, 'credits'],
      [{ credits: '10', reason: 'string' }, 'credits'],
      [{ credits: 10 }, 'reason'],
      [{ credits: 10, reason: '   ' }, 'reason'],
      [{ credits: -5, reason: 'neg with expiry', expires_at: '2026-02-01T00:00:00Z' }, 'expires_at'],
      [{ credits: 5, reason: 'past expiry', expires_at: '2025-12-31T00:00:00Z' }, 'expires_at'],
      [{ credits: 5, reason: 'extra', extra: true }, 'body'],
    ];
    for (const [body, field] of bad) {
      const refused = await operator().post(`/v1/admin/workspaces/${workspaceId}/credit-adjustments`, body);
      expect(refused.status, JSON.stringify(body)).toBe(400);
      expect(refused.body.code).toBe('invalid_request');
      if (field !== 'body') expect(refused.body.errors.map((e: { field: string }) => e.field), JSON.stringify(body)).toContain(field);
    }
    expect((await operator().post('/v1/admin/workspaces/ws_nope/credit-adjustments', { credits: 5, reason: 'x' })).status).toBe(404);
    expect(await footprint(workspaceId)).toEqual(before);
    expect((await customer.get('/v1/credits')).body.available).toBe(available);
  });

  it('refuses a workspace key (403) on every /v1/admin route of the OpenAPI document', async () => {
    const { apiKey } = await subscribedWorkspace('not an operator');
    const doc = (await operator().get('/openapi.json')).body as { paths: Record<string, Record<string, { security?: unknown }>> };
    const adminPaths = Object.keys(doc.paths).filter((p) => p.startsWith('/v1/admin/'));
    expect(adminPaths.length).toBeGreaterThanOrEqual(14);
    let checked = 0;
    for (const path of adminPaths) {
      for (const method of Object.keys(doc.paths[path]!)) {
        const url = stack.baseUrl + path.replace(/\{[^}]+\}/g, 'x_1');
        const response = await fetch(url, {
          method: method.toUpperCase(), headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
          body: ['get', 'delete'].includes(method) ? undefined : '{}',
        });
        expect(response.status, `${method.toUpperCase()} ${path}`).toBe(403);
        expect((await response.json()).code).toBe('forbidden');
        checked++;
      }
      expect(doc.paths[path]![Object.keys(doc.paths[path]!)[0]!]!.security, path).toBeDefined();
    }
    expect(checked).toBeGreaterThanOrEqual(adminPaths.length);
  });

  it('operator keys: created, listed, used (audited under their id), revoked (401 at once); the root key cannot be revoked', async () => {
    const created = await operator().post('/v1/admin/operator-keys', { name: 'Support: Ana' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'Support: Ana', revoked_at: null });
    expect(created.body.api_key).toMatch(/^sk_op_/);
    const ana = apiClient(stack.baseUrl, created.body.api_key);

    const listed = (await ana.get('/v1/admin/operator-keys')).body.data;
    expect(listed[0]).toMatchObject({ id: 'opk_root', name: 'ADMIN_API_KEY', hint: ADMIN_KEY.slice(-4), revoked_at: null });
    expect(listed.map((k: { id: string }) => k.id)).toContain(created.body.id);
    expect(JSON.stringify(listed)).not.toContain(created.body.api_key);

    // An operator key is an operator everywhere (clocks, workspaces), and its actions carry its id.
    const clock = await ana.post('/v1/test-clocks', { frozen_time: '2026-01-01T00:00:00Z' });
    expect(clock.status).toBe(201);
    const audit = (await operator().get('/v1/admin/audit?limit=5')).body.data;
    expect(audit[0]).toMatchObject({ operator_key_id: created.body.id, method: 'POST', path: '/v1/test-clocks', target: clock.body.id, status: 201, outcome: 'ok' });

    expect((await operator().delete('/v1/admin/operator-keys/opk_root')).body).toMatchObject({ status: 409, code: 'root_key_not_revocable' });
    expect((await operator().delete('/v1/admin/operator-keys/opk_nope')).status).toBe(404);
    const revoked = await operator().delete(`/v1/admin/operator-keys/${created.body.id}`);
    expect(revoked.status).toBe(200);
    expect(revoked.body.revoked_at).not.toBeNull();
    const refused = await ana.get('/v1/admin/workspaces');
    expect([refused.status, refused.body.code]).toEqual([401, 'unauthorized']);
    expect((await ana.post('/v1/test-clocks', { frozen_time: '2026-01-01T00:00:00Z' })).status).toBe(401);
    expect((await operator().get('/v1/admin/workspaces?limit=1')).status).toBe(200);
  });

  it('records every operator action in the audit log (no secrets), newest first, by workspace', async () => {
    const startedAt = Date.now();
    const { workspaceId, apiKey, clockId } = await subscribedWorkspace('audited');
    await operator().post(`/v1/admin/workspaces/${workspaceId}/credit-adjustments`, { credits: 10, reason: 'audit me' });
    await operator().post(`/v1/admin/workspaces/${workspaceId}/credit-adjustments`, { credits: -100000, reason: 'refused' });
    await operator().post(`/v1/admin/workspaces/${workspaceId}/credit-adjustments`, { credits: 0, reason: 'bad' });
    await operator().post(`/v1/admin/workspaces/${workspaceId}/subscription/pause`, { cycles: 1 });
    await operator().post(`/v1/admin/workspaces/${workspaceId}/subscription/resume`);
    await advanceClock(operator(), clockId, '2026-01-02T00:00:00Z');

    const page = (await operator().get(`/v1/admin/audit?workspace_id=${workspaceId}&limit=100`)).body;
    const actions = page.data.map((e: { method: string; path: string; status: number; outcome: string }) => [e.method, e.path, e.status, e.outcome]);
    expect(actions).toEqual([
      ['POST', `/v1/admin/workspaces/${workspaceId}/subscription/resume`, 200, 'ok'],
      ['POST', `/v1/admin/workspaces/${workspaceId}/subscription/pause`, 200, 'ok'],
      ['POST', `/v1/admin/workspaces/${workspaceId}/credit-adjustments`, 400, 'invalid_request'],
      ['POST', `/v1/admin/workspaces/${workspaceId}/credit-adjustments`, 409, 'insufficient_credits'],
      ['POST', `/v1/admin/workspaces/${workspaceId}/credit-adjustments`, 201, 'ok'],
      ['POST', '/v1/workspaces', 201, 'ok'],
    ]);
    const [resume, pause, , , adjustment, creation] = page.data;
    expect(pause).toMatchObject({ operator_key_id: 'opk_root', workspace_id: workspaceId, target: workspaceId, request: { cycles: 1 } });
    expect(resume.request).toBeNull();
    expect(adjustment.request).toEqual({ credits: 10, reason: 'audit me' });
    expect(creation).toMatchObject({ workspace_id: workspaceId, target: workspaceId, request: { name: 'audited' } });
    // Real time, not the test clock's.
    expect(new Date(creation.at).getTime()).toBeGreaterThanOrEqual(startedAt - 1000);
    // The new workspace's API key (in the response) is never stored.
    const all = JSON.stringify((await stack.sql`SELECT * FROM audit_log`).map((r) => r));
    expect(all).not.toContain(apiKey);
    // The clock advance is audited with the clock as its target (no workspace).
    const everything = (await operator().get('/v1/admin/audit?limit=100')).body.data;
    expect(everything.find((e: { path: string }) => e.path === `/v1/test-clocks/${clockId}/advance`)).toMatchObject({ target: clockId, request: { frozen_time: '2026-01-02T00:00:00Z' }, outcome: 'ok' });
    // Reads are not actions; pages follow the cursor.
    expect(everything.some((e: { method: string }) => e.method === 'GET')).toBe(false);
    const first = (await operator().get(`/v1/admin/audit?workspace_id=${workspaceId}&limit=2`)).body;
    const second = (await operator().get(`/v1/admin/audit?workspace_id=${workspaceId}&limit=2&cursor=${first.next_cursor}`)).body;
    expect([...first.data, ...second.data].map((e: { id: string }) => e.id)).toEqual(page.data.slice(0, 4).map((e: { id: string }) => e.id));
    expect((await operator().get('/v1/admin/audit?cursor=nope')).status).toBe(400);

    // Whatever a request carries is recorded: NUL and lone surrogates (which jsonb refuses) as U+FFFD, a path
    // that is not valid percent-encoding as sent.
    const odd = await operator().post(`/v1/admin/workspaces/${workspaceId}/credit-adjustments`, { credits: 1, reason: 'nul \u0000 and \ud800', '\udc00': 1 });
    expect(odd.status).toBe(400);
    const malformed = await operator().post('/v1/admin/workspaces/%FF%FE/credit-adjustments', { credits: 1, reason: 'x' });
    expect(malformed.status).toBe(404);
    const latest = (await operator().get('/v1/admin/audit?limit=2')).body.data;
    expect(latest.map((e: { path: string; outcome: string }) => [e.path, e.outcome])).toEqual([
      ['/v1/admin/workspaces/%FF%FE/credit-adjustments', 'not_found'], [`/v1/admin/workspaces/${workspaceId}/credit-adjustments`, 'invalid_request'],
    ]);
    expect(latest[1].request).toEqual({ credits: 1, reason: 'nul \ufffd and \ufffd', '\ufffd': 1 });
  });

  it('searches workspaces and shows one as its owner sees it; reads everything the workspace reads', async () => {
    const { customer, workspaceId } = await subscribedWorkspace('Searchable Studio Lumen', 'plus');
    const byName = (await operator().get('/v1/admin/workspaces?q=studio%20LUMEN')).body.data;
    expect(byName.map((w: { id: string }) => w.id)).toEqual([workspaceId]);
    expect(byName[0]).toMatchObject({ name: 'Searchable Studio Lumen', subscription: { status: 'active', plan: 'plus', interval: 'month' } });
    expect((await operator().get(`/v1/admin/workspaces?q=${workspaceId}`)).body.data.map((w: { id: string }) => w.id)).toEqual([workspaceId]);
    const external = await operator().post('/v1/workspaces', { name: 'Known by the studio', external_id: `studio-user-${workspaceId}` });
    expect((await operator().get(`/v1/admin/workspaces?q=studio-user-${workspaceId}`)).body.data.map((w: { id: string; external_id: string }) => [w.id, w.external_id]))
      .toEqual([[external.body.id, `studio-user-${workspaceId}`]]);
    const plus = (await operator().get('/v1/admin/workspaces?plan=plus&status=active&limit=100')).body.data;
    expect(plus.map((w: { id: string }) => w.id)).toContain(workspaceId);
    expect(plus.every((w: { subscription: { plan: string } }) => w.subscription.plan === 'plus')).toBe(true);
    expect((await operator().get('/v1/admin/workspaces?plan=max&q=Lumen')).body.data).toEqual([]);
    expect((await operator().get('/v1/admin/workspaces?status=bogus')).status).toBe(400);
    // Pages: newest first, following next_cursor.
    const one = (await operator().get('/v1/admin/workspaces?limit=1')).body;
    const two = (await operator().get(`/v1/admin/workspaces?limit=1&cursor=${one.next_cursor}`)).body;
    expect(one.has_more).toBe(true);
    expect(two.data[0].id).not.toBe(one.data[0].id);

    const view = await operator().get(`/v1/admin/workspaces/${workspaceId}`);
    expect(view.status).toBe(200);
    expect(view.body.subscription).toEqual((await customer.get('/v1/subscription')).body);
    expect(view.body.credits).toEqual((await customer.get('/v1/credits')).body);
    expect(view.body.customer_balance_cents).toBe(0);
    expect((await operator().get('/v1/admin/workspaces/ws_missing')).status).toBe(404);

    // A refunded pack: the operator's read of the invoices shows its credit note as the customer's does.
    const pack = await customer.post('/v1/credit-packs', { size: 100 });
    expect(pack.status).toBe(201);
    expect((await operator().post(`/v1/admin/invoices/${pack.body.invoice.id}/refund`, { amount_cents: 100, reason: 'partial' })).status).toBe(201);
    for (const read of ['credits', 'ledger', 'invoices', 'creations', 'notifications']) {
      const mine = await customer.get(`/v1/${read}`);
      const theirs = await operator().get(`/v1/admin/workspaces/${workspaceId}/${read}`);
      expect([theirs.status, theirs.body], read).toEqual([200, mine.body]);
      expect((await operator().get(`/v1/admin/workspaces/ws_missing/${read}`)).status, read).toBe(404);
    }
  });

  it('retries a past-due renewal now with the card on file (202), paid at once', async () => {
    const { customer, workspaceId, clockId } = await subscribedWorkspace('retry on behalf');
    expect((await customer.put('/v1/payment-method', { payment_method: 'pm_card_chargeDeclined' })).status).toBe(200);
    await advanceClock(operator(), clockId, '2026-01-31T00:00:00Z');
    expect((await customer.get('/v1/subscription')).body.status).toBe('past_due');
    // The bank now accepts the card on file (no new card: nothing else would retry before 02-01).
    await stack.sql`UPDATE workspaces SET payment_method = 'pm_card_visa' WHERE id = ${workspaceId}`;
    const retry = await operator().post(`/v1/admin/workspaces/${workspaceId}/subscription/retry-payment`);
    expect([retry.status, retry.body.status]).toEqual([202, 'past_due']);
    await eventually(() => customer.get('/v1/subscription'), (r) => r.body.status === 'active');
    const [renewal] = (await customer.get('/v1/invoices')).body.data;
    expect(renewal).toMatchObject({ kind: 'subscription', status: 'paid', total_cents: 2900, created_at: '2026-01-31T00:00:00.000Z' });
    expect((await customer.get('/v1/credits')).body.available).toBe(800);
  });

  it('exports the journal as CSV whose balance changes add up to the available balance', async () => {
    const { customer, workspaceId, clockId } = await subscribedWorkspace('export');
    expect((await customer.post('/v1/credit-packs', { size: 100 })).status).toBe(201);
    await operator().post(`/v1/admin/workspaces/${workspaceId}/credit-adjustments`, { credits: 30, reason: 'Goodwill, with "quotes", commas\nand a line break', expires_at: '2026-01-10T00:00:00Z' });
    // Spend: one creation completed (a capture), one failed (a release), one left running (held).
    for (const outcome of ['complete', 'fail', null] as const) {
      const quote = await customer.post('/v1/credits/estimate', { model: 'veo-2', duration_s: 10 });
      const creation = await customer.post('/v1/creations', { quote_id: quote.body.quote_id });
      if (outcome === 'complete') expect((await customer.post(`/v1/creations/${creation.body.id}/complete`, { credits: 15 })).status).toBe(200);
      if (outcome === 'fail') expect((await customer.post(`/v1/creations/${creation.body.id}/fail`)).status).toBe(200);
    }
    await operator().post(`/v1/admin/workspaces/${workspaceId}/credit-adjustments`, { credits: -7, reason: 'Correction' });
    // The adjustment lot expires on 01-10 with credits left (no workflow timer: journaled by the read).
    await advanceClock(operator(), clockId, '2026-01-11T00:00:00Z');

    const response = await fetch(`${stack.baseUrl}/v1/admin/workspaces/${workspaceId}/ledger/export`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/csv/);
    const [header, ...rows] = parseCsv(await response.text());
    expect(header).toEqual(['id', 'at', 'kind', 'lot', 'amount', 'balance_change', 'balance_after', 'operation', 'reason']);
    const column = (name: string) => header!.indexOf(name);
    const kinds = new Set(rows.map((r) => r[column('kind')]));
    for (const kind of ['grant', 'hold', 'capture', 'release', 'adjust', 'expire']) expect(kinds, kind).toContain(kind);
    expect(rows.map((r) => r[column('reason')])).toContain('Goodwill, with "quotes", commas\nand a line break');
    const total = rows.reduce((sum, r) => sum + Number(r[column('balance_change')]), 0);
    const credits = (await customer.get('/v1/credits')).body;
    expect(total).toBe(credits.available);
    expect(Number(rows[rows.length - 1]![column('balance_after')])).toBe(credits.available);
    // The same entries as GET /v1/ledger, oldest first.
    const ledger = (await customer.get('/v1/ledger?limit=100')).body.data;
    expect(rows.map((r) => r[column('id')])).toEqual(ledger.map((e: { id: string }) => e.id).reverse());
  });

  it('acts on a customer\'s subscription: pause, resume, cancel at period end and now, retry refused when nothing is due', async () => {
    const { customer, workspaceId } = await subscribedWorkspace('on behalf');
    await operator().post(`/v1/admin/workspaces/${workspaceId}/credit-adjustments`, { credits: 40, reason: 'Kept after cancel' });
    const base = `/v1/admin/workspaces/${workspaceId}/subscription`;

    const paused = await operator().post(`${base}/pause`, { cycles: 2 });
    expect(paused.status).toBe(200);
    expect(paused.body.pause).toMatchObject({ cycles: 2 });
    expect((await operator().post(`${base}/pause`, { cycles: 7 })).status).toBe(400);
    const resumed = await operator().post(`${base}/resume`);
    expect([resumed.status, resumed.body.pause]).toEqual([200, null]);

    const retry = await operator().post(`${base}/retry-payment`);
    expect([retry.status, retry.body.code]).toEqual([409, 'nothing_to_retry']);

    const canceling = await operator().post(`${base}/cancel`, {});
    expect([canceling.status, canceling.body.status, canceling.body.cancel_at_period_end]).toEqual([200, 'active', true]);
    expect((await customer.get('/v1/subscription')).body.cancel_at_period_end).toBe(true);
    expect((await operator().post(`${base}/resume`)).body.cancel_at_period_end).toBe(false);

    const now = await operator().post(`${base}/cancel`, { at_period_end: false });
    expect(now.status).toBe(200);
    await eventually(() => customer.get('/v1/subscription'), (r) => r.body.status === 'canceled');
    // Plan credits forfeited; the adjustment is kept, frozen, like a pack.
    const credits = await eventually(() => customer.get('/v1/credits'), (r) => r.body.lots.every((l: { source: string }) => l.source === 'adjustment'));
    expect(credits.body.available).toBe(0);
    expect(credits.body.lots.map((l: { source: string; remaining: number; frozen: boolean }) => [l.source, l.remaining, l.frozen])).toEqual([['adjustment', 40, true]]);
    expect((await operator().post('/v1/admin/workspaces/ws_missing/subscription/resume')).status).toBe(404);
  });
});
