import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliverNotifications } from '../../worker/alerts.js';
import { ADMIN_KEY, apiClient, startStack } from '../helpers/stack.js';

// The API's retry route sends through the SSRF-guarded client: the receiver here is on 127.0.0.1.
process.env.ALLOW_PRIVATE_WEBHOOK_TARGETS = 'true';

type Api = ReturnType<typeof apiClient>;

/**
 * SPEC §11 "Events", the HTTP side: which event types a workspace receives (PUT /v1/webhook-events), the
 * delivery log (GET /v1/webhook-deliveries, cursor pages) and manual retries
 * (POST /v1/webhook-deliveries/{id}/retry): another workspace's ids are 404, a retry needs a webhook URL and
 * an event whose first attempt has ended (first attempts go in sequence order).
 */
describe('webhook deliveries', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  let server: Server;
  let url: string;
  const received: string[] = [];
  let operator: Api;

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push(Buffer.concat(chunks).toString('utf8'));
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    stack = await startStack();
    operator = stack.api(ADMIN_KEY);
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    await stack?.stop();
  });

  async function workspace(name: string) {
    const clockId = (await operator.post('/v1/test-clocks', { frozen_time: '2026-01-01T00:00:00Z' })).body.id as string;
    const ws = await operator.post('/v1/workspaces', { name, test_clock_id: clockId });
    const customer = stack.api(ws.body.api_key);
    expect((await customer.put('/v1/payment-method', { payment_method: 'pm_card_visa' })).status).toBe(200);
    return { id: ws.body.id as string, customer };
  }
  const events = async (workspaceId: string) => stack.sql<{ kind: string; event_id: string; sequence: string }[]>`
    SELECT kind, event_id, sequence FROM notifications WHERE workspace_id = ${workspaceId} AND event_id IS NOT NULL ORDER BY sequence`;
  const deliver = () => deliverNotifications({ sql: stack.sql, fetchImpl: fetch });

  it('no events unless enabled; only the enabled types are recorded, numbered 1, 2, … without gaps', async () => {
    const { id, customer } = await workspace('types');
    expect((await customer.get('/v1/webhook-events')).body).toEqual({
      enabled_events: [],
      available_events: ['subscription.updated', 'invoice.paid', 'invoice.payment_failed', 'credits.granted', 'credits.expired',
        'credit_note.created', 'dispute.updated', 'top_up.succeeded', 'top_up.failed'],
    });
    expect((await customer.post('/v1/subscription', { plan: 'plus', interval: 'month' })).status).toBe(201);
    expect(await events(id)).toEqual([]);

    for (const [body, field] of [
      [{ enabled_events: ['invoice.created'] }, 'enabled_events.0'], [{ enabled_events: 'invoice.paid' }, 'enabled_events'],
      [{}, 'enabled_events'], [{ enabled_events: [], extra: 1 }, 'body'],
    ] as const) {
      const response = await customer.put('/v1/webhook-events', body);
      expect(response.status).toBe(400);
      expect(response.body.errors.map((e: { field: string }) => e.field)).toContain(field);
    }
    expect((await customer.get('/v1/webhook-events')).body.enabled_events).toEqual([]);
    expect((await operator.put('/v1/webhook-events', { enabled_events: ['*'] })).status).toBe(403);

    const enabled = await customer.put('/v1/webhook-events', { enabled_events: ['invoice.paid', 'credits.granted', 'invoice.paid'] });
    expect(enabled.body.enabled_events).toEqual(['credits.granted', 'invoice.paid']);
    expect((await customer.post('/v1/credit-packs', { size: 100 })).status).toBe(201);
    await operator.post(`/v1/admin/workspaces/${id}/credit-adjustments`, { credits: 5, reason: 'goodwill' });
    expect((await customer.post('/v1/subscription/cancel', { at_period_end: true })).status).toBe(200); // subscription.updated: not enabled
    expect((await events(id)).map((e) => [Number(e.sequence), e.kind])).toEqual([[1, 'invoice.paid'], [2, 'credits.granted'], [3, 'credits.granted']]);
  });

  it('the log pages newest first by cursor; retries need a URL and a first attempt; another workspace\'s ids are 404', async () => {
    const a = await workspace('log a');
    const b = await workspace('log b');
    for (const { customer } of [a, b]) expect((await customer.put('/v1/webhook-events', { enabled_events: ['*'] })).status).toBe(200);
    for (const { customer } of [a, b]) expect((await customer.post('/v1/subscription', { plan: 'plus', interval: 'month' })).status).toBe(201);
    const [firstOfA] = await events(a.id);

    // Not configured: nothing sent, nothing logged; a retry says why.
    expect((await a.customer.post(`/v1/webhook-deliveries/${firstOfA!.event_id}/retry`)).body.code).toBe('webhook_not_configured');
    expect((await a.customer.put('/v1/alerts', { webhook_url: url })).status).toBe(200);
    // Configured, but its first attempt has not been made: a retry would overtake it (first attempts go in order).
    const early = await a.customer.post(`/v1/webhook-deliveries/${firstOfA!.event_id}/retry`);
    expect([early.status, early.body.code, early.body.sequence]).toEqual([409, 'event_not_yet_sent', 1]);

    await deliver();
    const page1 = (await a.customer.get('/v1/webhook-deliveries?limit=3')).body;
    expect(page1.data.map((d: { sequence: number }) => d.sequence)).toEqual([4, 3, 2]);
    expect(page1).toMatchObject({ has_more: true, next_cursor: page1.data[2].id });
    const page2 = (await a.customer.get(`/v1/webhook-deliveries?limit=3&starting_after=${page1.next_cursor}`)).body;
    expect(page2).toEqual({ data: [expect.objectContaining({ sequence: 1, event_id: firstOfA!.event_id, attempt: 1, status_code: 200 })], has_more: false, next_cursor: null });
    expect((await b.customer.get('/v1/webhook-deliveries')).body.data).toEqual([]);

    // Another workspace's delivery and event ids are not told apart from unknown ones.
    for (const id of [page1.data[0].id, firstOfA!.event_id, 'whd_0', 'evt_unknown', 'ntf_1']) {
      const response = await b.customer.post(`/v1/webhook-deliveries/${id}/retry`);
      expect([response.status, response.body.code]).toEqual([404, 'not_found']);
    }
    expect((await b.customer.get(`/v1/webhook-deliveries?starting_after=${page1.data[0].id}`)).status).toBe(400);
    expect((await b.customer.get('/v1/webhook-deliveries?limit=0')).body.errors[0].field).toBe('limit');
    expect((await operator.get('/v1/webhook-deliveries')).status).toBe(403);

    // A's retry: logged as attempt 2 (manual), the same body sent again.
    const before = received.length;
    const retried = await a.customer.post(`/v1/webhook-deliveries/${firstOfA!.event_id}/retry`);
    expect(retried.body).toMatchObject({ event_id: firstOfA!.event_id, attempt: 2, trigger: 'manual', status_code: 200, event_status: 'delivered' });
    expect(received.slice(before)).toEqual([received.find((r) => r.includes(firstOfA!.event_id))]);
  });

  it('alerts are in the log too and can be retried by their ntf_ id', async () => {
    const { customer } = await workspace('alert retry');
    expect((await customer.post('/v1/subscription', { plan: 'plus', interval: 'month' })).status).toBe(201);
    expect((await customer.put('/v1/alerts', { webhook_url: url, low_balance_threshold: 149 })).status).toBe(200);
    const quote = await customer.post('/v1/credits/estimate', { model: 'imagen-3', resolution: 'standard', count: 1 });
    const creation = await customer.post('/v1/creations', { quote_id: quote.body.quote_id });
    expect((await customer.post(`/v1/creations/${creation.body.id}/complete`, { credits: 2 })).status).toBe(200);
    const [alert] = (await customer.get('/v1/notifications')).body.data;
    expect(alert.kind).toBe('low_balance');
    await deliver();
    const [logged] = (await customer.get('/v1/webhook-deliveries')).body.data;
    expect(logged).toMatchObject({ event_id: alert.id, event_type: 'low_balance', sequence: null, attempt: 1, status_code: 200 });
    expect((await customer.post(`/v1/webhook-deliveries/${alert.id}/retry`)).body).toMatchObject({ event_id: alert.id, attempt: 2, trigger: 'manual' });
  });
});
