import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAutoTopUps } from '../../worker/auto-top-up.js';
import { deliverNotifications, retryDelayMs, SIGNATURE_HEADER, signAlertPayload, verifyAlertSignature } from '../../worker/alerts.js';
import { eventually } from '../helpers/temporal.js';
import { ADMIN_KEY, advanceClock, apiClient, startStack } from '../helpers/stack.js';

// The API's retry route sends through the SSRF-guarded client: the receiver here is on 127.0.0.1.
process.env.ALLOW_PRIVATE_WEBHOOK_TARGETS = 'true';

interface Received { path: string; headers: IncomingHttpHeaders; body: string }
type Api = ReturnType<typeof apiClient>;
interface Body { id: string; type: string; created_at: string; sequence: number; data: { object: Record<string, any>; previous_attributes?: Record<string, unknown> } }

/** A receiver on 127.0.0.1: `/flaky…` paths answer 500 to each event's first two requests, then 200; others 200. */
async function startReceiver() {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = req.url ?? '/';
      const body = Buffer.concat(chunks).toString('utf8');
      received.push({ path, headers: req.headers, body });
      const id = (JSON.parse(body) as { id: string }).id;
      const seen = received.filter((r) => r.path === path && (JSON.parse(r.body) as { id: string }).id === id).length;
      const fail = path.startsWith('/flaky') && seen <= 2;
      res.writeHead(fail ? 500 : 200, { 'content-type': 'text/plain' }).end(fail ? 'try later' : 'ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: (path: string) => `http://127.0.0.1:${port}${path}`,
    at: (path: string) => received.filter((r) => r.path === path),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * The receiver-side check documented in the README, verbatim (node:crypto only): the header is
 * `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`; refuse stale timestamps; compare in constant time.
 */
function verifyWebhook(rawBody: string, header: string, secret: string, toleranceSeconds = 300): boolean {
  const fields = new Map(header.split(',').map((part) => part.split('=', 2) as [string, string]));
  const t = Number(fields.get('t'));
  const v1 = fields.get('v1') ?? '';
  if (!Number.isInteger(t) || Math.abs(Date.now() / 1000 - t) > toleranceSeconds) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${rawBody}`).digest();
  const given = Buffer.from(v1, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** SPEC §11 "Events": signed outgoing events, recorded with the change they report, sent in sequence order, logged. */
describe('outgoing events', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let operator: Api;

  beforeAll(async () => {
    [stack, receiver] = await Promise.all([startStack(), startReceiver()]);
    operator = stack.api(ADMIN_KEY);
  });
  afterAll(async () => {
    await receiver?.close();
    await stack?.stop();
  });

  /** A workspace on its own test clock from 2026-01-01, paying with `card`, receiving every event type at `path`. */
  async function workspace(name: string, path: string, card = 'pm_card_visa') {
    const clockId = (await operator.post('/v1/test-clocks', { frozen_time: '2026-01-01T00:00:00Z' })).body.id as string;
    const ws = await operator.post('/v1/workspaces', { name, test_clock_id: clockId });
    const customer = stack.api(ws.body.api_key);
    expect((await customer.put('/v1/payment-method', { payment_method: card })).status).toBe(200);
    const secret = (await customer.put('/v1/alerts', { webhook_url: receiver.url(path) })).body.signing_secret as string;
    expect((await customer.put('/v1/webhook-events', { enabled_events: ['*'] })).body.enabled_events).toEqual(['*']);
    return { id: ws.body.id as string, clockId, customer, secret };
  }
  const subscribe = async (customer: Api) =>
    expect((await customer.post('/v1/subscription', { plan: 'plus', interval: 'month' })).body.status).toBe('active');
  /** Delivery passes (wall clock, or `now`) until nothing is due; the worker's loop does the same every 2 s. */
  async function deliverAll(now?: () => Date) {
    for (;;) {
      const { delivered, failed } = await deliverNotifications({ sql: stack.sql, fetchImpl: fetch, ...(now ? { now } : {}) });
      if (delivered + failed === 0) return;
    }
  }
  /** The events a path received, in arrival order (alerts, which carry no sequence, left out). */
  const bodies = (path: string): Body[] => receiver.at(path).map((r) => JSON.parse(r.body) as Body).filter((b) => b.sequence !== undefined);
  const T = (day: string) => `${day}T00:00:00.000Z`;

  it('subscribe, renewals and an expiry on a test clock: each change is one event with its exact body, sequence 1, 2, 3, … in order', async () => {
    const { customer, clockId, secret } = await workspace('lifecycle', '/life');
    await subscribe(customer);
    await deliverAll();
    const lotA = (await customer.get('/v1/credits')).body.lots[0].id as string;
    const [firstInvoice] = (await customer.get('/v1/invoices')).body.data;
    expect(bodies('/life').map((b) => [b.sequence, b.type, b.created_at])).toEqual([
      [1, 'subscription.updated', T('2026-01-01')], [2, 'invoice.paid', T('2026-01-01')],
      [3, 'credits.granted', T('2026-01-01')], [4, 'subscription.updated', T('2026-01-01')],
    ]);
    const [created, paid, granted, activated] = bodies('/life');
    expect(created!.data).toEqual({ object: {
      object: 'subscription', id: expect.stringMatching(/^sub_/), plan: 'plus', interval: 'month', status: 'incomplete',
      current_period_start: T('2026-01-01'), current_period_end: T('2026-01-31'), cancel_at_period_end: false,
    } });
    expect(paid!.data).toEqual({ object: {
      object: 'invoice', id: firstInvoice.id, number: firstInvoice.number, kind: 'subscription', status: 'paid', subscription_id: created!.data.object.id,
      subtotal_cents: 1200, tax_cents: 0, total_cents: 1200, balance_applied_cents: 0, amount_due_cents: 1200,
      hosted_url: firstInvoice.hosted_url, pdf_url: firstInvoice.pdf_url, created_at: T('2026-01-01'), paid_at: T('2026-01-01'), last_payment_error: null,
    } });
    expect(granted!.data).toEqual({ object: {
      object: 'credit_grant', id: lotA, lot: lotA, source: 'monthly', credits: 150, granted_at: T('2026-01-01'), expires_at: T('2026-03-02'), frozen: false,
    } });
    expect(activated!.data).toEqual({ object: { ...created!.data.object, status: 'active' }, previous_attributes: { status: 'incomplete' } });

    // The renewal on 01-31 (the clock jumps to 02-01: created_at is the workspace's clock when recorded).
    await advanceClock(operator, clockId, '2026-02-01T00:00:00Z');
    await deliverAll();
    const renewal = bodies('/life').slice(4);
    expect(renewal.map((b) => [b.sequence, b.type, b.created_at])).toEqual([
      [5, 'invoice.paid', T('2026-02-01')], [6, 'credits.granted', T('2026-02-01')], [7, 'subscription.updated', T('2026-02-01')],
    ]);
    expect(renewal[0]!.data.object).toMatchObject({ kind: 'subscription', status: 'paid', total_cents: 1200, created_at: T('2026-01-31'), paid_at: T('2026-01-31') });
    expect(renewal[1]!.data.object).toMatchObject({ source: 'monthly', credits: 150, granted_at: T('2026-01-31'), expires_at: T('2026-04-01') });
    expect(renewal[2]!.data).toEqual({
      object: { ...created!.data.object, status: 'active', current_period_start: T('2026-01-31'), current_period_end: T('2026-03-02') },
      previous_attributes: { current_period_start: T('2026-01-01'), current_period_end: T('2026-01-31') },
    });

    // Lot A (150 unspent) expires on 03-02, the day of the second renewal.
    await advanceClock(operator, clockId, '2026-03-03T00:00:00Z');
    await deliverAll();
    const march = bodies('/life').slice(7);
    expect(march.map((b) => [b.sequence, b.type])).toEqual([[8, 'credits.expired'], [9, 'invoice.paid'], [10, 'credits.granted'], [11, 'subscription.updated']]);
    expect(march[0]!.data).toEqual({ object: {
      object: 'credit_expiry', id: expect.stringMatching(/^le_/), lot: lotA, reason: 'expired', credits: 150, balance_change: -150,
      balance_after: 150, expired_at: T('2026-03-02'),
    } });

    // Every event once, each signed, ids distinct; the delivery log has one successful automatic attempt each.
    const all = receiver.at('/life');
    expect(new Set(all.map((r) => (JSON.parse(r.body) as Body).id)).size).toBe(11);
    for (const r of all) {
      expect(verifyAlertSignature(r.body, r.headers[SIGNATURE_HEADER] as string, secret)).toBe(true);
      expect(r.headers['content-type']).toBe('application/json');
    }
    const log = (await customer.get('/v1/webhook-deliveries?limit=100')).body;
    expect(log.has_more).toBe(false);
    expect(log.data.map((d: any) => [d.sequence, d.event_type, d.attempt, d.trigger, d.status_code, d.error, d.event_status]))
      .toEqual(bodies('/life').reverse().map((b) => [b.sequence, b.type, 1, 'automatic', 200, null, 'delivered']));
    expect(log.data.map((d: any) => d.event_id)).toEqual(bodies('/life').reverse().map((b) => b.id));
    // GET /v1/notifications lists alerts only (SPEC §6), as before events.
    expect((await customer.get('/v1/notifications?limit=100')).body.data.every((n: { kind: string }) => !n.kind.includes('.'))).toBe(true);
  });

  it('a declined renewal: invoice.payment_failed for each failed attempt, subscription.updated to past_due', async () => {
    const { customer, clockId } = await workspace('declined', '/declined');
    await subscribe(customer);
    expect((await customer.put('/v1/payment-method', { payment_method: 'pm_card_chargeDeclined' })).status).toBe(200);
    await advanceClock(operator, clockId, '2026-01-31T00:00:00Z');
    await deliverAll();
    const after = bodies('/declined').slice(4);
    expect(after.map((b) => [b.sequence, b.type])).toEqual([[5, 'invoice.payment_failed'], [6, 'subscription.updated']]);
    expect(after[0]!.data.object).toMatchObject({
      object: 'invoice', kind: 'subscription', status: 'open', total_cents: 1200, amount_due_cents: 1200, paid_at: null, last_payment_error: 'card_declined',
    });
    expect(after[1]!.data).toMatchObject({ object: { status: 'past_due' }, previous_attributes: { status: 'active' } });

    // The retry a day later fails too: a second invoice.payment_failed of the same invoice, its own event.
    await advanceClock(operator, clockId, '2026-02-01T12:00:00Z');
    await deliverAll();
    const retried = bodies('/declined').slice(6);
    expect(retried.map((b) => [b.sequence, b.type, b.data.object.id])).toEqual([[7, 'invoice.payment_failed', after[0]!.data.object.id]]);
    expect(retried[0]!.id).not.toBe(after[0]!.id);
  });

  it('a refund is credit_note.created; a dispute is dispute.updated when opened and when closed', async () => {
    const { id, customer } = await workspace('refund and dispute', '/money');
    await subscribe(customer);
    const pack = await customer.post('/v1/credit-packs', { size: 100 });
    expect(pack.body.invoice).toMatchObject({ status: 'paid', total_cents: 1000 });
    const refunded = await operator.post(`/v1/admin/invoices/${pack.body.invoice.id}/refund`, { reason: 'customer request' });
    expect(refunded.status).toBe(201);
    await deliverAll();
    const notes = bodies('/money').filter((b) => b.type === 'credit_note.created');
    expect(notes.map((b) => b.data)).toEqual([{ object: {
      object: 'credit_note', id: expect.any(String), invoice_id: pack.body.invoice.id, amount_cents: 1000, refunded_to_card_cents: 1000,
      credited_to_balance_cents: 0, reason: 'customer request', source: 'operator', credits_clawed_back: 100, shortfall: 0, created_at: T('2026-01-01'),
    } }]);

    expect((await customer.put('/v1/payment-method', { payment_method: 'pm_card_createDispute' })).status).toBe(200);
    const disputedPack = await customer.post('/v1/credit-packs', { size: 100 });
    const invoiceId = disputedPack.body.invoice.id as string;
    const dispute = await eventually(
      async () => (await stack.sql<{ id: string }[]>`SELECT id FROM disputes WHERE invoice_id = ${invoiceId}`)[0],
      (row) => row !== undefined,
    );
    expect((await operator.post(`/v1/admin/sandbox/disputes/${dispute!.id}/close`, { outcome: 'won' })).status).toBe(200);
    // The close reaches us as the provider's webhook (charge.dispute.closed), applied by the inbox.
    await eventually(async () => (await stack.sql<{ status: string }[]>`SELECT status FROM disputes WHERE id = ${dispute!.id}`)[0]!.status, (s) => s === 'won');
    await deliverAll();
    const disputes = bodies('/money').filter((b) => b.type === 'dispute.updated').map((b) => b.data.object);
    expect(disputes).toEqual([
      expect.objectContaining({ object: 'dispute', id: dispute!.id, invoice_id: invoiceId, outcome: null, amount_cents: 1000, closed_at: null }),
      expect.objectContaining({ object: 'dispute', id: dispute!.id, invoice_id: invoiceId, status: 'won', outcome: 'won', amount_cents: 1000 }),
    ]);
    // Sequence stays gapless over everything this workspace was sent.
    expect(bodies('/money').map((b) => b.sequence)).toEqual(bodies('/money').map((_, i) => i + 1));
    expect((await stack.sql`SELECT count(*)::int AS n FROM notifications WHERE workspace_id = ${id} AND event_id IS NOT NULL`)[0]!.n)
      .toBe(bodies('/money').length);
  });

  /** Spends `images` imagen-3 standard images (2 credits each, at most 10 a creation), held and captured. */
  async function spend(customer: Api, images: number): Promise<void> {
    for (let left = images; left > 0; left -= 10) {
      const quote = await customer.post('/v1/credits/estimate', { model: 'imagen-3', resolution: 'standard', count: Math.min(left, 10) });
      const creation = await customer.post('/v1/creations', { quote_id: quote.body.quote_id });
      expect(creation.status).toBe(201);
      expect((await customer.post(`/v1/creations/${creation.body.id}/complete`, { credits: quote.body.credits })).status).toBe(200);
    }
  }

  it('automatic top-ups: top_up.succeeded when its pack is paid, top_up.failed when the card declines', async () => {
    const stopTopUps = startAutoTopUps({ sql: stack.sql, payments: stack.payments }, 100);
    try {
      const paid = await workspace('top-up paid', '/top-up-paid');
      const declined = await workspace('top-up declined', '/top-up-declined');
      for (const { customer } of [paid, declined]) {
        await subscribe(customer);
        expect((await customer.put('/v1/auto-top-up', { enabled: true, threshold: 100, pack: 100, monthly_limit_cents: 10_000 })).status).toBe(200);
      }
      expect((await declined.customer.put('/v1/payment-method', { payment_method: 'pm_card_chargeDeclined' })).status).toBe(200);
      // 150 → 98 available: below the threshold of 100 (the capture's crossing records the top-up).
      await Promise.all([spend(paid.customer, 26), spend(declined.customer, 26)]);
      const settled = (customer: Api) => eventually(() => customer.get('/v1/auto-top-up'), (r) => r.body.pending_top_up === null && r.body.top_ups.length > 0);
      const [paidState, declinedState] = await Promise.all([settled(paid.customer), settled(declined.customer)]);
      await deliverAll();

      const [succeeded] = bodies('/top-up-paid').filter((b) => b.type.startsWith('top_up.'));
      const [topUp] = paidState.body.top_ups;
      expect(succeeded).toMatchObject({ type: 'top_up.succeeded', data: { object: {
        object: 'top_up', id: topUp.id, status: 'paid', cause: 'capture', pack_credits: 100, amount_cents: 1000,
        invoice_id: expect.stringMatching(/^in_/), failure_code: null,
      } } });
      expect(bodies('/top-up-paid').filter((b) => b.type.startsWith('top_up.'))).toHaveLength(1);
      // Its pack is reported as any pack: invoice.paid and credits.granted.
      const pack = bodies('/top-up-paid').filter((b) => b.data.object.id === succeeded!.data.object.invoice_id);
      expect(pack.map((b) => [b.type, b.data.object.total_cents])).toEqual([['invoice.paid', 1000]]);

      const failed = bodies('/top-up-declined').filter((b) => b.type.startsWith('top_up.'));
      expect(failed).toEqual([expect.objectContaining({ type: 'top_up.failed', data: { object: expect.objectContaining({
        object: 'top_up', id: declinedState.body.top_ups[0].id, status: 'failed', pack_credits: 100, failure_code: 'card_declined',
      }) } })]);
    } finally {
      await stopTopUps();
    }
  });

  it('a receiver that fails twice: the identical body on every attempt (freshly signed), the log lists the attempts, a manual retry re-sends it', async () => {
    const { customer, secret } = await workspace('flaky', '/flaky');
    await subscribe(customer);
    const t0 = Date.now();
    const at = (ms: number) => () => new Date(t0 + ms);
    // First attempts at t0, retries after 1 min and then 2 min (retryDelayMs): 500, 500, 200.
    const third = retryDelayMs(1) + retryDelayMs(2) + 2_000;
    for (const ms of [0, retryDelayMs(1) + 1_000, third]) await deliverAll(at(ms));
    const requests = receiver.at('/flaky');
    expect(requests).toHaveLength(12);
    const byEvent = new Map<string, Received[]>();
    for (const r of requests) byEvent.set((JSON.parse(r.body) as Body).id, [...(byEvent.get((JSON.parse(r.body) as Body).id) ?? []), r]);
    expect([...byEvent.values()].map((rs) => rs.length)).toEqual([3, 3, 3, 3]);
    for (const rs of byEvent.values()) {
      expect(new Set(rs.map((r) => r.body)).size).toBe(1); // byte for byte
      expect(new Set(rs.map((r) => r.headers[SIGNATURE_HEADER])).size).toBe(3); // each attempt signed afresh
      rs.forEach((r, i) => expect(verifyAlertSignature(r.body, r.headers[SIGNATURE_HEADER] as string, secret, 300, at([0, retryDelayMs(1) + 1_000, third][i]!)())).toBe(true));
    }
    // First attempts went out in sequence order (the four requests of the first pass).
    expect(requests.slice(0, 4).map((r) => (JSON.parse(r.body) as Body).sequence)).toEqual([1, 2, 3, 4]);

    const [first] = [...byEvent.keys()];
    const log = (await customer.get(`/v1/webhook-deliveries?event_id=${first}`)).body.data;
    expect(log.map((d: any) => [d.attempt, d.trigger, d.status_code, d.error, d.event_status])).toEqual([
      [3, 'automatic', 200, null, 'delivered'], [2, 'automatic', 500, 'HTTP 500', 'delivered'], [1, 'automatic', 500, 'HTTP 500', 'delivered'],
    ]);
    expect(log.every((d: any) => d.duration_ms >= 0 && d.url === receiver.url('/flaky'))).toBe(true);

    // A retry of a delivered event is allowed and logged: the same body again, signed now.
    const retried = await customer.post(`/v1/webhook-deliveries/${log[2].id}/retry`);
    expect(retried.status).toBe(200);
    expect(retried.body).toMatchObject({ event_id: first, attempt: 4, trigger: 'manual', status_code: 200, error: null, event_status: 'delivered' });
    const resent = receiver.at('/flaky').at(-1)!;
    expect(resent.body).toBe(byEvent.get(first!)![0]!.body);
    expect(verifyAlertSignature(resent.body, resent.headers[SIGNATURE_HEADER] as string, secret)).toBe(true);
    // …and by event id too.
    expect((await customer.post(`/v1/webhook-deliveries/${first}/retry`)).body).toMatchObject({ event_id: first, attempt: 5, trigger: 'manual' });
  });

  it('concurrent changes: the sequence has no gaps and first attempts go out in sequence order, even with concurrent delivery passes', async () => {
    const { id, customer } = await workspace('concurrent', '/burst');
    await subscribe(customer);
    // 12 adjustments and 4 packs at once: 12 + 8 events recorded by concurrent transactions.
    await Promise.all([
      ...Array.from({ length: 12 }, (_, i) => operator.post(`/v1/admin/workspaces/${id}/credit-adjustments`, { credits: i + 1, reason: `burst ${i}` })
        .then((r) => expect(r.status).toBe(201))),
      ...Array.from({ length: 4 }, () => customer.post('/v1/credit-packs', { size: 100 }).then((r) => expect(r.status).toBe(201))),
    ]);
    const rows = await stack.sql<{ sequence: string }[]>`
      SELECT sequence FROM notifications WHERE workspace_id = ${id} AND event_id IS NOT NULL ORDER BY sequence`;
    expect(rows.map((r) => Number(r.sequence))).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
    // Three passes at a time until all are sent (each pass claims at most 5 of a workspace's rows).
    for (let round = 0; round < 10; round++) {
      await Promise.all([0, 1, 2].map(() => deliverNotifications({ sql: stack.sql, fetchImpl: fetch })));
    }
    await deliverAll();
    const sent = bodies('/burst');
    expect(sent.map((b) => b.sequence)).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
    const grants = sent.filter((b) => b.type === 'credits.granted' && b.data.object.source === 'adjustment').map((b) => b.data.object.credits as number);
    expect(grants.sort((a, b) => a - b)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
  });

  it('the README receiver example verifies a real delivery, and refuses a tampered body, another secret and a stale timestamp', async () => {
    const { customer, secret } = await workspace('readme', '/readme');
    await subscribe(customer);
    await deliverAll();
    const [request] = receiver.at('/readme');
    const header = request!.headers[SIGNATURE_HEADER] as string;
    expect(verifyWebhook(request!.body, header, secret)).toBe(true);
    expect(verifyWebhook(request!.body.replace('"sequence":1', '"sequence":2'), header, secret)).toBe(false);
    expect(verifyWebhook(request!.body, header, 'whsec_other')).toBe(false);
    // Signed correctly, but 10 minutes ago: outside the 5-minute tolerance (a replay).
    expect(verifyWebhook(request!.body, signAlertPayload(request!.body, secret, new Date(Date.now() - 600_000)), secret)).toBe(false);
  });
});
