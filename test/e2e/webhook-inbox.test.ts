import { isDeepStrictEqual } from 'node:util';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chargeInvoice } from '../../billing/charge-invoice.js';
import { signStripePayload } from '../../payments/webhooks.js';
import { ADMIN_KEY, type apiClient, startStack, WEBHOOK_SECRET } from '../helpers/stack.js';
import { eventually } from '../helpers/temporal.js';
import { prng } from '../helpers/random.js';

/**
 * The webhook inbox end to end (SPEC §5): Stripe events are verified, stored, de-duplicated by event
 * id, applied in any order with the same result, and survive a Temporal outage.
 */

type Stack = Awaited<ReturnType<typeof startStack>>;
type Api = ReturnType<typeof apiClient>;
type EventType = 'invoice.payment_action_required' | 'invoice.payment_failed' | 'invoice.paid';

interface InvoiceRef {
  id: string;
  workspace_id: string;
  subscription_id: string | null;
}

interface Delivery {
  status: number;
  contentType: string | null;
  body: any;
}

const CLOCK_START = '2026-01-01T00:00:00Z';
const CREATED = Date.parse(CLOCK_START) / 1000;

/** A Stripe-shaped invoice event, like the ones the sandbox provider queues (payments/sandbox.ts). */
function invoiceEvent(id: string, type: EventType, invoice: InvoiceRef, created = CREATED) {
  return {
    id,
    object: 'event',
    type,
    created,
    livemode: false,
    data: {
      object: {
        id: `in_stripe_${invoice.id}`, object: 'invoice', status: type === 'invoice.paid' ? 'paid' : 'open',
        metadata: { invoice_id: invoice.id, workspace_id: invoice.workspace_id, subscription_id: invoice.subscription_id ?? '' },
      },
    },
  };
}

async function post(stack: Stack, body: string, signature: string | null): Promise<Delivery> {
  const response = await fetch(`${stack.baseUrl}/webhooks/stripe`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(signature === null ? {} : { 'stripe-signature': signature }) },
    body,
  });
  const text = await response.text();
  return { status: response.status, contentType: response.headers.get('content-type'), body: text ? JSON.parse(text) : null };
}

/** Delivers an event the way Stripe does: the raw JSON body, signed (freshly, like each Stripe retry). */
function deliver(stack: Stack, event: object): Promise<Delivery> {
  const body = JSON.stringify(event);
  return post(stack, body, signStripePayload(body, WEBHOOK_SECRET));
}

function shuffle<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

async function customerOn(stack: Stack, name: string, paymentMethod: string, clockId?: string): Promise<{ api: Api; workspaceId: string }> {
  const operator = stack.api(ADMIN_KEY);
  const clock = clockId ?? (await operator.post('/v1/test-clocks', { frozen_time: CLOCK_START })).body.id;
  const ws = await operator.post('/v1/workspaces', { name, test_clock_id: clock });
  expect(ws.status).toBe(201);
  const api = stack.api(ws.body.api_key);
  expect((await api.put('/v1/payment-method', { payment_method: paymentMethod })).status).toBe(200);
  return { api, workspaceId: ws.body.id };
}

/** A workspace whose first subscription payment waits for 3-D Secure: incomplete, its invoice open. */
async function pendingSubscription(stack: Stack, name: string, plan = 'max', clockId?: string) {
  const { api, workspaceId } = await customerOn(stack, name, 'pm_card_authenticationRequired', clockId);
  const sub = await api.post('/v1/subscription', { plan, interval: 'month' });
  expect([sub.status, sub.body.status]).toEqual([201, 'incomplete']);
  const [invoice] = await stack.sql<InvoiceRef[]>`
    SELECT id, workspace_id, subscription_id FROM invoices WHERE workspace_id = ${workspaceId} AND kind = 'subscription' AND status = 'open'`;
  expect(invoice?.subscription_id).toBe(sub.body.id);
  return { api, workspaceId, subscriptionId: sub.body.id as string, invoice: invoice! };
}

/**
 * A 500-credit pack waiting for 3-D Secure in a workspace whose subscription is not live (yet). Buying a
 * pack needs a live subscription, but one bought under an earlier subscription can be paid while a new one
 * waits for its first payment: its invoice is made as a purchase makes it (chargeInvoice, the sandbox asking
 * for 3-D Secure), without going through the purchase's live-subscription check.
 */
async function pendingPack(stack: Stack, workspaceId: string): Promise<InvoiceRef> {
  const charge = await chargeInvoice(stack.sql, stack.payments, {
    businessKey: `pack:${workspaceId}:earlier`, workspaceId, subscriptionId: null, kind: 'pack',
    lines: [{ description: '500 credit pack', amount_cents: 4100 }], createdAt: new Date(CLOCK_START), metadata: { pack_credits: 500 },
  });
  expect([charge.status, charge.invoice.status]).toEqual(['requires_action', 'open']);
  return { id: charge.invoice.id, workspace_id: workspaceId, subscription_id: null };
}

async function webhookRow(stack: Stack, id: string) {
  const rows = await stack.sql<{ id: string; forwarded_at: Date | null; attempts: number; last_error: string | null }[]>`
    SELECT id, forwarded_at, attempts, last_error FROM webhook_events WHERE id = ${id}`;
  return rows;
}

async function grants(stack: Stack, workspaceId: string) {
  return stack.sql<{ amount: number; source: string }[]>`
    SELECT e.amount, l.source FROM ledger_entries e JOIN lots l ON l.id = e.lot_id
    WHERE e.workspace_id = ${workspaceId} AND e.kind = 'grant' ORDER BY e.id`;
}

async function paymentSignals(stack: Stack, subscriptionId: string): Promise<number> {
  const history = await stack.temporal.workflow.getHandle(`subscription-${subscriptionId}`).fetchHistory();
  return (history.events ?? []).filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'paymentEvent').length;
}

describe('webhook inbox', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => stack?.stop());

  const storedCount = async () => (await stack.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM webhook_events`)[0]!.n;

  it('refuses a bad signature, a missing header and a tampered body with 400 invalid_signature, storing nothing', async () => {
    const invoice = { id: 'in_not_ours', workspace_id: 'ws_not_ours', subscription_id: null };
    const event = invoiceEvent('evt_inbox_signature_probe', 'invoice.paid', invoice);
    const body = JSON.stringify(event);
    // Same event id, pointed at another invoice after it was signed.
    const tampered = body.replace('in_not_ours', 'in_someone_elses');
    expect(tampered).not.toBe(body);
    const anHourAgo = Math.floor(Date.now() / 1000) - 3600;
    const before = await storedCount();

    const attempts: [string, string, string | null][] = [
      ['signed with another secret', body, signStripePayload(body, 'whsec_someone_else')],
      ['no Stripe-Signature header', body, null],
      ['empty Stripe-Signature header', body, ''],
      ['garbage Stripe-Signature header', body, 't=1,v1=deadbeef'],
      ['body changed after signing', tampered, signStripePayload(body, WEBHOOK_SECRET)],
      ['whitespace added after signing', `${body} `, signStripePayload(body, WEBHOOK_SECRET)],
      ['replayed signature older than the tolerance', body,
        Stripe.webhooks.generateTestHeaderString({ payload: body, secret: WEBHOOK_SECRET, timestamp: anHourAgo })],
    ];
    for (const [what, rawBody, signature] of attempts) {
      const response = await post(stack, rawBody, signature);
      expect([response.status, response.contentType, response.body?.code], what)
        .toEqual([400, 'application/problem+json', 'invalid_signature']);
      expect(response.body.status, what).toBe(400);
    }
    expect(await storedCount()).toBe(before);
    expect(await webhookRow(stack, 'evt_inbox_signature_probe')).toHaveLength(0);

    // Control: the very same body, correctly signed, is accepted and stored once.
    const accepted = await post(stack, body, signStripePayload(body, WEBHOOK_SECRET));
    expect([accepted.status, accepted.body]).toEqual([200, { received: true, duplicate: false }]);
    expect(await storedCount()).toBe(before + 1);
    // An invoice.paid for an invoice that is not ours is forwarded and changes nothing.
    await eventually(() => webhookRow(stack, event.id), (rows) => rows[0]?.forwarded_at != null);
  });

  it.each([
    ['sequentially', false],
    ['concurrently', true],
  ])('applies the same invoice.paid delivered 5 times (%s) once', async (_how, concurrent) => {
    const { api, workspaceId, subscriptionId, invoice } = await pendingSubscription(stack, `dup-${String(concurrent)}`);
    const event = invoiceEvent(`evt_inbox_${invoice.id}_paid`, 'invoice.paid', invoice);

    let deliveries: Delivery[];
    if (concurrent) deliveries = await Promise.all(Array.from({ length: 5 }, () => deliver(stack, event)));
    else {
      deliveries = [];
      for (let i = 0; i < 5; i++) deliveries.push(await deliver(stack, event));
    }
    expect(deliveries.map((d) => d.status)).toEqual([200, 200, 200, 200, 200]);
    const duplicates = deliveries.map((d) => d.body.duplicate as boolean);
    if (concurrent) expect(duplicates.filter((d) => !d)).toHaveLength(1);
    else expect(duplicates).toEqual([false, true, true, true, true]);
    expect(deliveries.every((d) => d.body.received === true)).toBe(true);

    await eventually(() => api.get('/v1/subscription'), (r) => r.body.status === 'active');
    const [row] = await eventually(() => webhookRow(stack, event.id), (rows) => rows[0]?.forwarded_at != null);
    expect(await webhookRow(stack, event.id)).toHaveLength(1);
    expect([row!.attempts, row!.last_error]).toEqual([1, null]);

    // A sixth delivery after it was applied is still only a duplicate, and late failure notices
    // (older events arriving after the payment) never move the paid invoice back.
    expect((await deliver(stack, event)).body).toEqual({ received: true, duplicate: true });
    for (const type of ['invoice.payment_failed', 'invoice.payment_action_required'] as const) {
      const late = invoiceEvent(`evt_inbox_${invoice.id}_late_${type}`, type, invoice, CREATED - 60);
      expect((await deliver(stack, late)).body).toEqual({ received: true, duplicate: false });
    }
    await eventually(() => stack.sql`SELECT 1 FROM webhook_events WHERE forwarded_at IS NULL`, (rows) => rows.length === 0);

    expect(await grants(stack, workspaceId)).toEqual([{ amount: 400, source: 'monthly' }]);
    const credits = (await api.get('/v1/credits')).body;
    expect(credits.available).toBe(400);
    expect(credits.lots).toHaveLength(1);
    expect(credits.lots[0]).toMatchObject({ source: 'monthly', granted: 400, remaining: 400, frozen: false });
    const invoices = (await api.get('/v1/invoices')).body.data;
    expect(invoices.map((i: { id: string; status: string }) => [i.id, i.status])).toEqual([[invoice.id, 'paid']]);
    expect((await api.get('/v1/subscription')).body.status).toBe('active');
    // The forwarder signals the workflow only while the invoice is open: one signal for five deliveries.
    expect(await paymentSignals(stack, subscriptionId)).toBe(1);
  });

  it('refunds a pack paid while the first subscription payment is being applied, leaving no frozen pack', async () => {
    // The pack's invoice.paid is applied after the workflow granted the period's credits but before the
    // subscription is live (holding the projection row makes that window last, as a slow write would).
    // Nothing is live when the payment is applied, so the pack is refunded in full and never delivered
    // (billing/pack-settlement.ts); it used to be delivered frozen and thawed, a pack sold into a workspace
    // with nothing live (SPEC §1).
    const { api, workspaceId, subscriptionId, invoice } = await pendingSubscription(stack, 'pack-race');
    const packInvoice = await pendingPack(stack, workspaceId);

    let release!: () => void;
    const released = new Promise<void>((resolve) => { release = resolve; });
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => { locked = resolve; });
    const holder = stack.sql.begin(async (tx) => {
      await tx`SELECT id FROM subscriptions WHERE id = ${subscriptionId} FOR UPDATE`;
      locked();
      await released;
    });
    try {
      await Promise.race([isLocked, holder]);
      expect((await deliver(stack, invoiceEvent(`evt_race_${invoice.id}_paid`, 'invoice.paid', invoice))).status).toBe(200);
      // The workflow granted the period's credits; its thaw is waiting for the projection row ...
      await eventually(() => stack.sql`SELECT 1 FROM ledger_operations WHERE key LIKE ${`${subscriptionId}:%:refresh:0:grant`}`,
        (rows) => rows.length === 1);
      // ... and now the pack's payment arrives and is applied.
      const packEvent = invoiceEvent(`evt_race_${packInvoice.id}_paid`, 'invoice.paid', packInvoice);
      expect((await deliver(stack, packEvent)).status).toBe(200);
      await eventually(() => webhookRow(stack, packEvent.id), (rows) => rows[0]?.forwarded_at != null);
    } finally {
      release();
      await holder;
    }
    await eventually(() => api.get('/v1/subscription'), (r) => r.body.status === 'active');
    // `active` is marked just before the thaw runs: wait for the thaw itself.
    await eventually(() => stack.sql`SELECT 1 FROM ledger_operations WHERE key LIKE ${`${subscriptionId}:%:thaw`}`, (rows) => rows.length === 1);
    const credits = (await api.get('/v1/credits')).body;
    expect(credits.lots.map((l: { source: string; granted: number; frozen: boolean }) => [l.source, l.granted, l.frozen]))
      .toEqual([['monthly', 400, false]]);
    expect(credits.available).toBe(400);
    expect([...await stack.sql`SELECT i.status, n.amount_cents::int AS refunded, n.refunded_to_card_cents::int AS to_card, n.status AS note
      FROM invoices i JOIN credit_notes n ON n.invoice_id = i.id WHERE i.id = ${packInvoice.id}`])
      .toEqual([{ status: 'paid', refunded: 4100, to_card: 4100, note: 'issued' }]);
  });

  it('gives the same ledger and invoices for 200 events delivered shuffled and concurrently as in order', async () => {
    const WORKSPACES = 20;
    const TOTAL_EVENTS = 200;
    const PLANS = ['plus', 'max', 'generative'];
    const seed = Number(process.env.WEBHOOK_SHUFFLE_SEED ?? Math.floor(Math.random() * 2 ** 32));

    // The scenario, per workspace index: a 3-D-Secure-pending subscription, on those that stay unpaid also a
    // pending 500-credit pack; which invoices get paid and which see a failure first. A pack paid while
    // nothing is live is refunded, never delivered (billing/pack-settlement.ts), so a pack's outcome depends on
    // whether its subscription went live first: packs are only where it never does, keeping the outcome
    // independent of the order.
    const slots = Array.from({ length: WORKSPACES }, (_, i) => ({
      index: i,
      plan: PLANS[i % PLANS.length]!,
      pack: i % 5 === 4,
      subPaid: i % 5 !== 4,
      subFailedFirst: i % 3 === 0,
      packPaid: i % 10 !== 9,
      packFailedFirst: i % 4 === 2,
    }));
    type Target = 'subscription' | 'pack';
    interface LogicalEvent { slot: number; target: Target; type: EventType; key: string }
    const base: LogicalEvent[] = [];
    const phases: [EventType, (s: (typeof slots)[number], t: Target) => boolean][] = [
      ['invoice.payment_action_required', () => true],
      ['invoice.payment_failed', (s, t) => (t === 'subscription' ? s.subFailedFirst : s.packFailedFirst)],
      ['invoice.paid', (s, t) => (t === 'subscription' ? s.subPaid : s.packPaid)],
    ];
    for (const [type, happens] of phases) {
      for (const s of slots) {
        for (const target of (s.pack ? ['subscription', 'pack'] : ['subscription']) as Target[]) {
          if (happens(s, target)) base.push({ slot: s.index, target, type, key: `${target}_${type.slice('invoice.'.length)}` });
        }
      }
    }
    // Stripe retries: re-deliveries of the same events (same id), each right after its original in order.
    const scenarioRandom = prng(20260101);
    const retries = new Map<LogicalEvent, number>();
    for (let i = base.length; i < TOTAL_EVENTS; i++) {
      const original = base[Math.floor(scenarioRandom() * base.length)]!;
      retries.set(original, (retries.get(original) ?? 0) + 1);
    }
    const inOrder: LogicalEvent[] = base.flatMap((e) => Array.from({ length: 1 + (retries.get(e) ?? 0) }, () => e));
    expect(inOrder).toHaveLength(TOTAL_EVENTS);

    // Two identical data sets in this stack, one clock each (same time).
    const operator = stack.api(ADMIN_KEY);
    async function buildSet(name: string) {
      const clockId = (await operator.post('/v1/test-clocks', { frozen_time: CLOCK_START })).body.id as string;
      return Promise.all(slots.map(async (s) => {
        const sub = await pendingSubscription(stack, `${name}-${s.index}`, s.plan, clockId);
        return { ...sub, packInvoice: s.pack ? await pendingPack(stack, sub.workspaceId) : null };
      }));
    }
    const ordered = await buildSet('ordered');
    const shuffled = await buildSet('shuffled');
    type DataSet = typeof ordered;

    const concrete = (set: DataSet, e: LogicalEvent) => {
      const ws = set[e.slot]!;
      const invoice = e.target === 'pack' ? ws.packInvoice! : ws.invoice;
      return invoiceEvent(`evt_${invoice.id}_${e.key}`, e.type, invoice, CREATED + phases.findIndex(([t]) => t === e.type));
    };

    // In order, one at a time.
    const orderedResults: [string, Delivery][] = [];
    for (const e of inOrder) {
      const event = concrete(ordered, e);
      orderedResults.push([event.id, await deliver(stack, event)]);
    }
    // Shuffled, in concurrent groups of 1 to 8.
    const random = prng(seed);
    const shuffledOrder = shuffle(inOrder, random);
    const shuffledResults: [string, Delivery][] = [];
    for (let i = 0; i < shuffledOrder.length;) {
      const group = shuffledOrder.slice(i, i + 1 + Math.floor(random() * 8));
      i += group.length;
      const events = group.map((e) => concrete(shuffled, e));
      const results = await Promise.all(events.map((event) => deliver(stack, event)));
      results.forEach((result, k) => shuffledResults.push([events[k]!.id, result]));
    }

    for (const results of [orderedResults, shuffledResults]) {
      expect(results.every(([, d]) => d.status === 200 && d.body.received === true), `seed ${seed}`).toBe(true);
      // Each distinct event is new exactly once, whatever the order and concurrency.
      const fresh = new Map<string, number>();
      for (const [id, d] of results) fresh.set(id, (fresh.get(id) ?? 0) + (d.body.duplicate ? 0 : 1));
      expect([...fresh.values()].every((n) => n === 1), `seed ${seed}`).toBe(true);
      expect(fresh.size).toBe(base.length);
      const ids = [...fresh.keys()];
      expect((await stack.sql`SELECT id FROM webhook_events WHERE id IN ${stack.sql(ids)}`).length).toBe(base.length);
    }

    // Everything forwarded (also the sandbox's own events), and every paid subscription has taken it in.
    await eventually(async () => (await stack.sql<{ n: number }[]>`
      SELECT ((SELECT count(*) FROM webhook_events WHERE forwarded_at IS NULL)
            + (SELECT count(*) FROM sandbox_outbox WHERE delivered_at IS NULL))::int AS n`)[0]!.n, (n) => n === 0, 60_000);
    const paidSubscriptions = [...ordered, ...shuffled].filter((_, k) => slots[k % WORKSPACES]!.subPaid).map((ws) => ws.subscriptionId);
    await eventually(async () => (await stack.sql`
      SELECT id FROM subscriptions WHERE id IN ${stack.sql(paidSubscriptions)} AND status = 'active'`).length,
    (n) => n === paidSubscriptions.length, 60_000);
    expect((await stack.sql`SELECT 1 FROM webhook_events WHERE last_error IS NOT NULL`).length).toBe(0);

    /** What the customer and the ledger show, without ids. */
    async function projection(ws: DataSet[number]) {
      const [subscription] = await stack.sql`
        SELECT plan, interval, status, current_period_start, current_period_end FROM subscriptions WHERE id = ${ws.subscriptionId}`;
      const invoices = await stack.sql`
        SELECT kind, status, subtotal_cents, total_cents, amount_due_cents, last_payment_error, paid_at, created_at
        FROM invoices WHERE workspace_id = ${ws.workspaceId} ORDER BY kind, total_cents`;
      const lots = await stack.sql`
        SELECT source, granted, remaining, held, frozen, granted_at, expires_at, expired_at
        FROM lots WHERE workspace_id = ${ws.workspaceId} ORDER BY source, granted`;
      const grantEntries = await stack.sql`
        SELECT amount, at FROM ledger_entries WHERE workspace_id = ${ws.workspaceId} AND kind = 'grant' ORDER BY amount, at`;
      const { available, held } = (await ws.api.get('/v1/credits')).body;
      const refunded = (await stack.sql<{ refunded: number }[]>`
        SELECT coalesce(sum(amount_cents), 0)::int AS refunded FROM credit_notes WHERE workspace_id = ${ws.workspaceId} AND status = 'issued'`)[0]!.refunded;
      return JSON.parse(JSON.stringify({ subscription, invoices, lots, grantEntries, available, held, refunded }));
    }
    const orderedView = await Promise.all(ordered.map(projection));
    const shuffledView = await Promise.all(shuffled.map(projection));

    // Each set has the right result (which set and workspace is wrong, if one is) ...
    for (const [name, views] of [['in-order', orderedView], ['shuffled', shuffledView]] as const) {
      for (const s of slots) {
        const view = views[s.index];
        const what = `${name} set, workspace ${s.index}, shuffle seed ${seed}`;
        const credits = { plus: 150, max: 400, generative: 900 }[s.plan]!;
        expect(view.subscription.status, what).toBe(s.subPaid ? 'active' : 'incomplete');
        expect(view.invoices.map((i: { kind: string; status: string }) => [i.kind, i.status]), what).toEqual([
          ...(s.pack ? [['pack', s.packPaid ? 'paid' : 'open']] : []),
          ['subscription', s.subPaid ? 'paid' : 'open'],
        ]);
        expect(view.lots.map((l: { source: string; granted: number; remaining: number; frozen: boolean }) =>
          [l.source, l.granted, l.remaining, l.frozen]), what).toEqual([
          ...(s.subPaid ? [['monthly', credits, credits, false]] : []),
          // A paid pack with nothing live is refunded in full, not delivered.
        ]);
        expect(view.refunded, what).toBe(s.pack && s.packPaid ? 4100 : 0);
        expect(view.available, what).toBe(s.subPaid ? credits : 0);
      }
    }
    // ... and the two sets are identical in everything the projection shows.
    const differing = slots.filter((s) => !isDeepStrictEqual(orderedView[s.index], shuffledView[s.index])).map((s) => s.index);
    expect(shuffledView, `workspaces ${differing.join(', ')} differ; shuffle seed ${seed} (WEBHOOK_SHUFFLE_SEED to replay)`)
      .toEqual(orderedView);
  });
});

describe('webhook inbox across a Temporal outage', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ temporalDbFile: true });
  });
  afterAll(async () => stack?.stop());

  it('keeps events accepted while Temporal is down pending, and applies them once it is back', async () => {
    const { api, workspaceId, subscriptionId, invoice } = await pendingSubscription(stack, 'outage');
    // The sandbox's own payment_action_required has gone through; the inbox is idle.
    await eventually(() => stack.sql`
      SELECT 1 FROM webhook_events WHERE forwarded_at IS NULL
      UNION ALL SELECT 1 FROM sandbox_outbox WHERE delivered_at IS NULL`, (rows) => rows.length === 0);
    const event = invoiceEvent(`evt_inbox_${invoice.id}_paid_during_outage`, 'invoice.paid', invoice);

    await stack.restartTemporal(async () => {
      expect(stack.devServer.process.exitCode !== null || stack.devServer.process.signalCode !== null).toBe(true);
      // Accepted and stored: the endpoint does not need Temporal.
      expect(await deliver(stack, event)).toMatchObject({ status: 200, body: { received: true, duplicate: false } });
      // The forwarder cannot signal the workflow: the event stays pending, with the failure recorded.
      const [row] = await eventually(() => webhookRow(stack, event.id), (rows) => (rows[0]?.attempts ?? 0) >= 1, 90_000);
      expect(row!.forwarded_at).toBeNull();
      expect(row!.last_error).toBeTruthy();
      expect((await api.get('/v1/subscription')).body.status).toBe('incomplete');
      expect((await api.get('/v1/invoices')).body.data.map((i: { status: string }) => i.status)).toEqual(['open']);
      expect((await api.get('/v1/credits')).body.available).toBe(0);
      // A redelivery meanwhile is a duplicate.
      expect((await deliver(stack, event)).body).toEqual({ received: true, duplicate: true });
    });

    // Same workflow, same history (the dev server kept its state); worker and clients reconnected.
    await eventually(() => api.get('/v1/subscription'), (r) => r.body.status === 'active', 90_000);
    const [row] = await eventually(() => webhookRow(stack, event.id), (rows) => rows[0]?.forwarded_at != null);
    expect(row!.last_error).toBeNull();
    const credits = (await api.get('/v1/credits')).body;
    expect(credits.available).toBe(400);
    expect(credits.lots).toHaveLength(1);
    expect(credits.lots[0]).toMatchObject({ source: 'monthly', granted: 400, remaining: 400, frozen: false });
    expect(await grants(stack, workspaceId)).toEqual([{ amount: 400, source: 'monthly' }]);
    expect((await api.get('/v1/invoices')).body.data.map((i: { id: string; status: string }) => [i.id, i.status]))
      .toEqual([[invoice.id, 'paid']]);
    expect(await paymentSignals(stack, subscriptionId)).toBe(1);
  });
});
