import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordExpiringLots } from '../../ledger/alerts.js';
import {
  deliverNotifications, MAX_DELIVERY_ATTEMPTS, retryDelayMs, SIGNATURE_HEADER, startAlertLoops, verifyAlertSignature,
} from '../../worker/alerts.js';
import { eventually } from '../helpers/temporal.js';
import { ADMIN_KEY, advanceClock, apiClient, startStack } from '../helpers/stack.js';

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A webhook receiver on 127.0.0.1: `/ok` answers 200; `/flaky` answers 500 to its first request, then 200. */
async function startReceiver(): Promise<{ url: (path: string) => string; received: Received[]; close: () => Promise<void> }> {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = req.url ?? '/';
      received.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const failFirst = path === '/flaky' && received.filter((r) => r.path === '/flaky').length === 1;
      res.writeHead(failFirst ? 500 : 200, { 'content-type': 'text/plain' }).end(failFirst ? 'try later' : 'ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    received,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** SPEC §6 alerts: low balance once per crossing, expiry 7 days ahead, delivered as signed, retried webhooks. */
describe('alerts', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let operator: ReturnType<typeof apiClient>;

  beforeAll(async () => {
    [stack, receiver] = await Promise.all([startStack(), startReceiver()]);
    operator = stack.api(ADMIN_KEY);
  });
  afterAll(async () => {
    await receiver?.close();
    await stack?.stop();
  });

  /** A Plus monthly workspace (150 credits) on its own test clock from 2026-01-01. */
  async function plusWorkspace(name: string) {
    const clock = (await operator.post('/v1/test-clocks', { frozen_time: '2026-01-01T00:00:00Z' })).body;
    const ws = await operator.post('/v1/workspaces', { name, test_clock_id: clock.id });
    const customer = stack.api(ws.body.api_key);
    expect((await customer.put('/v1/payment-method', { payment_method: 'pm_card_visa' })).status).toBe(200);
    expect((await customer.post('/v1/subscription', { plan: 'plus', interval: 'month' })).body.status).toBe('active');
    expect((await customer.get('/v1/credits')).body.available).toBe(150);
    return { id: ws.body.id as string, clockId: clock.id as string, customer };
  }

  /** Spends `images` imagen-3 standard images (2 credits each, at most 10 a creation) through the API; returns the available balance. */
  async function spend(customer: ReturnType<typeof apiClient>, images: number): Promise<number> {
    for (let left = images; left > 0; left -= 10) {
      const count = Math.min(left, 10);
      const quote = await customer.post('/v1/credits/estimate', { model: 'imagen-3', resolution: 'standard', count });
      expect(quote.body.credits).toBe(count * 2);
      const creation = await customer.post('/v1/creations', { quote_id: quote.body.quote_id });
      expect(creation.status).toBe(201);
      const done = await customer.post(`/v1/creations/${creation.body.id}/complete`, { credits: count * 2 });
      expect(done.body).toMatchObject({ status: 'succeeded', charged: count * 2 });
    }
    return (await customer.get('/v1/credits')).body.available;
  }

  const notificationsOf = async (customer: ReturnType<typeof apiClient>, kind: string) =>
    ((await customer.get('/v1/notifications?limit=100')).body.data as { id: string; kind: string; payload: any; at: string }[])
      .filter((n) => n.kind === kind);
  const deliveryState = async (notificationId: string) => (await stack.sql<{
    delivered_at: Date | null; delivery_attempts: number; next_attempt_at: Date | null; last_error: string | null;
  }[]>`SELECT delivered_at, delivery_attempts, next_attempt_at, last_error FROM notifications
       WHERE id = ${Number(notificationId.replace('ntf_', ''))}`)[0]!;

  it('settings: default threshold, validation, the signing secret shown once', async () => {
    const { customer } = await plusWorkspace('settings');
    expect((await customer.get('/v1/alerts')).body).toEqual({ low_balance_threshold: null, effective_low_balance_threshold: 15, webhook_url: null });
    for (const [body, field] of [
      [{ webhook_url: 'ftp://example.com/hook' }, 'webhook_url'], [{ webhook_url: 'not a url' }, 'webhook_url'],
      [{ low_balance_threshold: -1 }, 'low_balance_threshold'], [{ low_balance_threshold: 1.5 }, 'low_balance_threshold'],
      [{ low_balance_threshold: '100' }, 'low_balance_threshold'], [{ webhook: 'https://example.com' }, 'body'],
    ] as const) {
      const response = await customer.put('/v1/alerts', body);
      expect(response.status).toBe(400);
      expect(response.contentType).toMatch(/^application\/problem\+json/);
      expect(response.body.errors.map((e: { field: string }) => e.field)).toContain(field);
    }
    expect((await customer.put('/v1/alerts', { low_balance_threshold: 40 })).body)
      .toEqual({ low_balance_threshold: 40, effective_low_balance_threshold: 40, webhook_url: null });
    const first = await customer.put('/v1/alerts', { webhook_url: 'https://hooks.example.com/credits' });
    expect(first.status).toBe(200);
    expect(first.body).toEqual({
      low_balance_threshold: 40, effective_low_balance_threshold: 40, webhook_url: 'https://hooks.example.com/credits',
      signing_secret: expect.stringMatching(/^whsec_[0-9a-f]{64}$/),
    });
    // Changing or removing the URL keeps the secret (not shown again).
    const changed = await customer.put('/v1/alerts', { webhook_url: 'https://hooks.example.com/v2', low_balance_threshold: null });
    expect(changed.body).toEqual({ low_balance_threshold: null, effective_low_balance_threshold: 15, webhook_url: 'https://hooks.example.com/v2' });
    expect((await customer.put('/v1/alerts', { webhook_url: null })).body.webhook_url).toBeNull();
    expect((await customer.put('/v1/alerts', { webhook_url: 'https://hooks.example.com/v3' })).body.signing_secret).toBeUndefined();
    expect((await customer.put('/v1/alerts', {})).body.webhook_url).toBe('https://hooks.example.com/v3');
    expect((await operator.put('/v1/alerts', {})).status).toBe(403);
    // Only this one's URL points anywhere; the later passes must not reach it.
    expect((await customer.put('/v1/alerts', { webhook_url: null })).status).toBe(200);
  });

  it('low balance: one signed webhook per crossing below the threshold', async () => {
    const { customer } = await plusWorkspace('low balance');
    const settings = await customer.put('/v1/alerts', { webhook_url: receiver.url('/ok'), low_balance_threshold: 100 });
    expect(settings.status).toBe(200);
    const secret: string = settings.body.signing_secret;
    expect(secret).toBeTruthy();

    // 150 → 100: not below the threshold yet.
    expect(await spend(customer, 25)).toBe(100);
    expect(await notificationsOf(customer, 'low_balance')).toEqual([]);
    await deliverNotifications({ sql: stack.sql });
    expect(receiver.received.filter((r) => r.path === '/ok')).toEqual([]);

    // 100 → 98: crosses.
    expect(await spend(customer, 1)).toBe(98);
    const [alert] = await notificationsOf(customer, 'low_balance');
    expect(alert).toMatchObject({ payload: { available: 98, threshold: 100 }, at: '2026-01-01T00:00:00.000Z' });
    expect(await deliverNotifications({ sql: stack.sql })).toEqual({ delivered: 1, failed: 0 });
    const requests = receiver.received.filter((r) => r.path === '/ok');
    expect(requests).toHaveLength(1);
    const [request] = requests;
    expect(request!.headers['content-type']).toBe('application/json');
    const signature = request!.headers[SIGNATURE_HEADER] as string;
    expect(signature).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(verifyAlertSignature(request!.body, signature, secret, 300)).toBe(true);
    expect(verifyAlertSignature(request!.body, signature, 'whsec_wrong', 300)).toBe(false);
    expect(verifyAlertSignature(request!.body.replace('98', '99'), signature, secret, 300)).toBe(false);
    expect(verifyAlertSignature(request!.body, signature, secret, 300, new Date(Date.now() + 600_000))).toBe(false);
    expect(JSON.parse(request!.body)).toEqual({
      id: alert!.id, type: 'low_balance', created_at: '2026-01-01T00:00:00.000Z', data: { available: 98, threshold: 100 },
    });
    expect(await deliveryState(alert!.id)).toMatchObject({ delivered_at: expect.any(Date), delivery_attempts: 1, last_error: null });

    // Further spending below the threshold is the same crossing: no new alert, nothing sent.
    expect(await spend(customer, 1)).toBe(96);
    expect(await notificationsOf(customer, 'low_balance')).toHaveLength(1);
    expect(await deliverNotifications({ sql: stack.sql })).toEqual({ delivered: 0, failed: 0 });
    expect(receiver.received.filter((r) => r.path === '/ok')).toHaveLength(1);
  });

  it('a failing endpoint is retried with backoff and the alert delivered once', async () => {
    const { customer } = await plusWorkspace('flaky receiver');
    const secret = (await customer.put('/v1/alerts', { webhook_url: receiver.url('/flaky'), low_balance_threshold: 100 })).body.signing_secret;
    expect(await spend(customer, 26)).toBe(98);
    const [alert] = await notificationsOf(customer, 'low_balance');

    const t0 = new Date();
    const at = (ms: number) => () => new Date(t0.getTime() + ms);
    expect(await deliverNotifications({ sql: stack.sql, now: at(0) })).toEqual({ delivered: 0, failed: 1 });
    expect(await deliveryState(alert!.id)).toEqual({
      delivered_at: null, delivery_attempts: 1, next_attempt_at: new Date(t0.getTime() + 60_000), last_error: 'HTTP 500',
    });
    // Not due before a minute has passed.
    expect(await deliverNotifications({ sql: stack.sql, now: at(59_000) })).toEqual({ delivered: 0, failed: 0 });
    expect(receiver.received.filter((r) => r.path === '/flaky')).toHaveLength(1);

    expect(await deliverNotifications({ sql: stack.sql, now: at(61_000) })).toEqual({ delivered: 1, failed: 0 });
    expect(await deliverNotifications({ sql: stack.sql, now: at(3_600_000) })).toEqual({ delivered: 0, failed: 0 });
    const requests = receiver.received.filter((r) => r.path === '/flaky');
    expect(requests).toHaveLength(2);
    expect(requests.map((r) => JSON.parse(r.body).id)).toEqual([alert!.id, alert!.id]);
    expect(verifyAlertSignature(requests[1]!.body, requests[1]!.headers[SIGNATURE_HEADER] as string, secret, 300)).toBe(true);
    expect(await deliveryState(alert!.id)).toMatchObject({ delivered_at: expect.any(Date), delivery_attempts: 2, next_attempt_at: null, last_error: null });
  });

  it('an endpoint that never answers 2xx gets 10 attempts, 1 min to 1 h apart, then none', async () => {
    expect(Array.from({ length: 9 }, (_, i) => retryDelayMs(i + 1) / 60_000)).toEqual([1, 2, 4, 8, 16, 32, 60, 60, 60]);
    const { customer } = await plusWorkspace('unreachable receiver');
    await customer.put('/v1/alerts', { webhook_url: 'https://alerts.invalid/hook', low_balance_threshold: 100 });
    expect(await spend(customer, 26)).toBe(98);
    const [alert] = await notificationsOf(customer, 'low_balance');
    const failing: typeof fetch = async () => { throw new TypeError('connection refused'); };

    let now = Date.now();
    for (let attempt = 1; attempt <= MAX_DELIVERY_ATTEMPTS; attempt++) {
      expect(await deliverNotifications({ sql: stack.sql, fetchImpl: failing, now: () => new Date(now) })).toEqual({ delivered: 0, failed: 1 });
      const state = await deliveryState(alert!.id);
      expect(state).toMatchObject({ delivered_at: null, delivery_attempts: attempt, last_error: 'TypeError: connection refused' });
      if (attempt < MAX_DELIVERY_ATTEMPTS) expect(state.next_attempt_at).toEqual(new Date(now + retryDelayMs(attempt)));
      else expect(state.next_attempt_at).toBeNull();
      now = state.next_attempt_at?.getTime() ?? now + 86_400_000;
    }
    expect(await deliverNotifications({ sql: stack.sql, fetchImpl: failing, now: () => new Date(now) })).toEqual({ delivered: 0, failed: 0 });
  });

  it('expiry: one lot_expiring notification 7 days before a lot with credits left expires; listed, not delivered without a URL', async () => {
    const { customer, clockId } = await plusWorkspace('expiring');
    const lotA = (await customer.get('/v1/credits')).body.lots[0];
    expect(lotA).toMatchObject({ source: 'monthly', remaining: 150, expires_at: '2026-03-02T00:00:00.000Z' });
    await recordExpiringLots(stack.sql);
    expect(await notificationsOf(customer, 'lot_expiring')).toEqual([]);

    // 8 days before: not yet (the renewal on 01-31 granted lot B, expiring 04-01).
    await advanceClock(operator, clockId, '2026-02-22T00:00:00Z');
    expect((await customer.get('/v1/credits')).body.lots).toHaveLength(2);
    await recordExpiringLots(stack.sql);
    expect(await notificationsOf(customer, 'lot_expiring')).toEqual([]);

    await advanceClock(operator, clockId, '2026-02-23T00:00:00Z');
    await recordExpiringLots(stack.sql);
    await recordExpiringLots(stack.sql);
    const expiring = await notificationsOf(customer, 'lot_expiring');
    expect(expiring).toEqual([{
      id: expect.stringMatching(/^ntf_/), kind: 'lot_expiring', at: '2026-02-23T00:00:00.000Z',
      payload: { lot: lotA.id, source: 'monthly', remaining: 150, held: 0, expiring_credits: 150, expires_at: '2026-03-02T00:00:00.000Z' },
    }]);

    // No webhook URL: listed only.
    const before = receiver.received.length;
    await deliverNotifications({ sql: stack.sql });
    expect(receiver.received).toHaveLength(before);
    expect(await deliveryState(expiring[0]!.id)).toMatchObject({ delivered_at: null, delivery_attempts: 0 });
  });

  it("the worker's loops record and deliver expiry alerts on their own", async () => {
    const { customer, clockId } = await plusWorkspace('looped');
    const secret = (await customer.put('/v1/alerts', { webhook_url: receiver.url('/looped') })).body.signing_secret;
    const lot = (await customer.get('/v1/credits')).body.lots[0];
    const stopLoops = startAlertLoops(stack.sql, { expiryEveryMs: 50, deliveryEveryMs: 50 });
    try {
      await advanceClock(operator, clockId, '2026-02-24T00:00:00Z');
      const [request] = await eventually(async () => receiver.received.filter((r) => r.path === '/looped'), (r) => r.length > 0);
      expect(verifyAlertSignature(request!.body, request!.headers[SIGNATURE_HEADER] as string, secret, 300)).toBe(true);
      expect(JSON.parse(request!.body)).toMatchObject({ type: 'lot_expiring', data: { lot: lot.id, expires_at: '2026-03-02T00:00:00.000Z' } });
    } finally {
      await stopLoops();
    }
    // One more pass of each loop, by hand: the alert is neither recorded nor delivered a second time.
    await recordExpiringLots(stack.sql);
    await deliverNotifications({ sql: stack.sql });
    expect(receiver.received.filter((r) => r.path === '/looped')).toHaveLength(1);
  });
});
