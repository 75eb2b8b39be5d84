import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signStripePayload } from '../../payments/webhooks.js';
import { ADMIN_KEY, advanceClock, type apiClient, startStack, WEBHOOK_SECRET } from '../helpers/stack.js';
import { eventually } from '../helpers/temporal.js';
import { availableFromLots, duplicatedGrants, lotsOffTheirJournal, prng, seedFromEnv } from './helpers.js';

/**
 * Resilience: the Temporal server (the CLI dev server, its state in a file) is stopped and started again
 * while customers keep going: signed invoice.paid webhooks arrive for subscriptions waiting for 3-D Secure
 * (they must be acknowledged and stored while Temporal is down) and upgrade requests arrive for active
 * ones (these may fail while it is down; clients retry with the same Idempotency-Key once it is back).
 * Some upgrades are already in flight when the server stops. Afterwards every stored event is forwarded,
 * every paid invoice has exactly one grant, every upgrade took effect at most once and every acknowledged
 * one exactly once, nothing was charged twice, and the next renewal runs normally for everyone.
 */

type Stack = Awaited<ReturnType<typeof startStack>>;
type Api = ReturnType<typeof apiClient>;

const PENDING = 6;
const ACTIVE = 8;
const CLOCK_START = '2026-01-01T00:00:00Z';
/** A change request not answered definitively (2xx or 4xx) after this long fails the test. */
const CHANGE_DEADLINE_MS = 120_000;

interface Answer { status: number; body: any }

/** A Stripe-shaped invoice.paid event for one of our invoices, as Stripe (or the sandbox) sends it. */
function invoicePaidEvent(id: string, invoice: { id: string; workspace_id: string; subscription_id: string | null }) {
  return {
    id, object: 'event', type: 'invoice.paid', created: Math.floor(Date.parse(CLOCK_START) / 1000), livemode: false,
    data: { object: { id: `in_stripe_${invoice.id}`, object: 'invoice', status: 'paid',
      metadata: { invoice_id: invoice.id, workspace_id: invoice.workspace_id, subscription_id: invoice.subscription_id ?? '' } } },
  };
}

async function deliver(stack: Stack, event: object): Promise<Answer> {
  const body = JSON.stringify(event);
  const response = await fetch(`${stack.baseUrl}/webhooks/stripe`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'stripe-signature': signStripePayload(body, WEBHOOK_SECRET) },
    body,
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

describe('resilience: Temporal restarted while webhooks and plan changes arrive', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ temporalDbFile: true });
  });
  afterAll(async () => stack?.stop());

  /** POST with an Idempotency-Key; network errors and time-outs are answers too (status 0). */
  async function postOnce(apiKey: string, path: string, body: unknown, key: string, timeoutMs: number): Promise<Answer> {
    try {
      const response = await fetch(stack.baseUrl + path, {
        method: 'POST',
        headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', 'idempotency-key': key },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await response.text();
      return { status: response.status, body: text ? JSON.parse(text) : null };
    } catch (error) {
      return { status: 0, body: { error: (error as Error).message } };
    }
  }

  const unanswered = (a: Answer) => a.status === 0 || a.status >= 500 || (a.status === 409 && a.body?.code === 'idempotency_key_in_use');

  it('forwards every stored event, grants once per paid invoice and applies each upgrade at most once', { timeout: 420_000 }, async () => {
    const seed = seedFromEnv();
    console.log(`[temporal-restart] seed ${seed} (RESILIENCE_SEED=${seed} to replay)`);
    const random = prng(seed);
    const operator = stack.api(ADMIN_KEY);
    const clockId = (await operator.post('/v1/test-clocks', { frozen_time: CLOCK_START })).body.id as string;
    async function customer(name: string, paymentMethod: string): Promise<{ api: Api; apiKey: string; workspaceId: string }> {
      const ws = await operator.post('/v1/workspaces', { name, test_clock_id: clockId });
      expect(ws.status).toBe(201);
      const api = stack.api(ws.body.api_key);
      expect((await api.put('/v1/payment-method', { payment_method: paymentMethod })).status).toBe(200);
      return { api, apiKey: ws.body.api_key, workspaceId: ws.body.id };
    }

    // Subscriptions waiting for 3-D Secure: incomplete, their first invoice open.
    const pending = await Promise.all(Array.from({ length: PENDING }, async (_, i) => {
      const c = await customer(`3ds ${i}`, 'pm_card_authenticationRequired');
      const sub = await c.api.post('/v1/subscription', { plan: 'max', interval: 'month' });
      expect([sub.status, sub.body.status]).toEqual([201, 'incomplete']);
      const [invoice] = await stack.sql<{ id: string; workspace_id: string; subscription_id: string | null }[]>`
        SELECT id, workspace_id, subscription_id FROM invoices WHERE workspace_id = ${c.workspaceId} AND status = 'open'`;
      return { ...c, subscriptionId: sub.body.id as string, invoice: invoice! };
    }));
    // Active Plus subscriptions that will ask for an upgrade to Max.
    const active = await Promise.all(Array.from({ length: ACTIVE }, async (_, i) => {
      const c = await customer(`active ${i}`, 'pm_card_visa');
      const sub = await c.api.post('/v1/subscription', { plan: 'plus', interval: 'month' });
      expect([sub.status, sub.body.status]).toEqual([201, 'active']);
      return { ...c, subscriptionId: sub.body.id as string, key: `upgrade-${i}-${seed}` };
    }));
    // The sandbox's own events have gone through; the inbox is idle.
    const inboxIdle = async () => (await stack.sql<{ n: number }[]>`
      SELECT ((SELECT count(*) FROM webhook_events WHERE forwarded_at IS NULL)
            + (SELECT count(*) FROM sandbox_outbox WHERE delivered_at IS NULL))::int AS n`)[0]!.n;
    await eventually(inboxIdle, (n) => n === 0, 60_000);

    // Upgrades: half of them are sent just before the server stops (in flight while it goes down).
    const outcomes = new Map<string, Answer[]>();
    const changeOnce = async (ws: (typeof active)[number], timeoutMs: number) => {
      const answer = await postOnce(ws.apiKey, '/v1/subscription/change', { plan: 'max' }, ws.key, timeoutMs);
      outcomes.set(ws.workspaceId, [...(outcomes.get(ws.workspaceId) ?? []), answer]);
      return answer;
    };
    const order = active.map((ws) => ({ ws, r: random() })).sort((a, b) => a.r - b.r).map((x) => x.ws);
    const early = order.slice(0, ACTIVE / 2);
    const during = order.slice(ACTIVE / 2);
    const inFlight = early.map((ws) => changeOnce(ws, 30_000));

    const events = pending.map((p) => invoicePaidEvent(`evt_resilience_${p.invoice.id}_paid`, p.invoice));
    const outageStarted = Date.now();
    let outageMs = 0;
    await stack.restartTemporal(async () => {
      expect(stack.devServer.process.exitCode !== null || stack.devServer.process.signalCode !== null).toBe(true);
      // Webhooks need no Temporal: acknowledged and stored, and a redelivery is a duplicate.
      for (const event of events) expect(await deliver(stack, event)).toEqual({ status: 200, body: { received: true, duplicate: false } });
      for (const event of events) expect(await deliver(stack, event)).toEqual({ status: 200, body: { received: true, duplicate: true } });
      expect((await stack.sql`SELECT id FROM webhook_events WHERE id IN ${stack.sql(events.map((e) => e.id))}`).length).toBe(PENDING);
      // Plan changes need Temporal: they may fail (or hang until the client gives up) while it is down.
      await Promise.all(during.map((ws) => changeOnce(ws, 20_000)));
      outageMs = Date.now() - outageStarted;
    });
    await Promise.all(inFlight);
    const duringOutage = [...outcomes.entries()].map(([ws, answers]) => [ws, answers.map((a) => a.status)]);

    // Clients retry what was not answered, with the same key, until the API answers definitively.
    const deadline = Date.now() + CHANGE_DEADLINE_MS;
    for (const ws of active) {
      let last = outcomes.get(ws.workspaceId)!.at(-1)!;
      for (let backoff = 200; unanswered(last) && Date.now() < deadline; backoff = Math.min(2 * backoff, 2000)) {
        await new Promise((resolve) => setTimeout(resolve, backoff));
        last = await changeOnce(ws, 30_000);
      }
    }
    console.log(`[temporal-restart] outage ${outageMs} ms; change answers per workspace: ${JSON.stringify(
      active.map((ws) => outcomes.get(ws.workspaceId)!.map((a) => a.status)))} (during the outage: ${JSON.stringify(duringOutage.map(([, s]) => s))})`);
    const finals = active.map((ws) => ({ ws, answers: outcomes.get(ws.workspaceId)!, final: outcomes.get(ws.workspaceId)!.at(-1)! }));
    // Every client got a definitive answer: the upgrade (now or replayed), or "already on that plan"
    // when an attempt it never heard back from had taken effect.
    expect(finals.filter((f) => unanswered(f.final)).map((f) => f.answers)).toEqual([]);
    for (const f of finals) {
      if (f.final.status !== 200) expect([f.final.status, f.final.body?.code], JSON.stringify(f.answers)).toEqual([409, 'same_plan']);
      else expect(f.final.body).toMatchObject({ kind: 'upgrade', credits_granted: 250 });
    }

    // ---- Everything stored is forwarded; the 3-D Secure subscriptions are active --------------------
    await eventually(inboxIdle, (n) => n === 0, 120_000);
    expect(await stack.sql`SELECT id, last_error FROM webhook_events WHERE forwarded_at IS NULL OR last_error IS NOT NULL`).toEqual([]);
    for (const p of pending) {
      await eventually(() => p.api.get('/v1/subscription'), (r) => r.body.status === 'active', 60_000);
    }

    async function ledgerOf(workspaceId: string) {
      const invoices = await stack.sql<{ id: string; kind: string; status: string; total_cents: number; business_key: string }[]>`
        SELECT id, kind, status, total_cents, business_key FROM invoices WHERE workspace_id = ${workspaceId} ORDER BY seq`;
      const grants = await stack.sql<{ source: string; amount: number; operation_key: string }[]>`
        SELECT l.source, e.amount, e.operation_key FROM ledger_entries e JOIN lots l ON l.id = e.lot_id
        WHERE e.workspace_id = ${workspaceId} AND e.kind = 'grant' ORDER BY e.id`;
      const charges = await stack.sql<{ event_id: string; invoice_id: string }[]>`
        SELECT event_id, payload->'data'->'object'->'metadata'->>'invoice_id' AS invoice_id FROM sandbox_outbox
        WHERE payload->'data'->'object'->'metadata'->>'workspace_id' = ${workspaceId} AND payload->>'type' = 'invoice.paid'`;
      return { invoices, grants, charges };
    }

    // ---- Per workspace: one grant per paid invoice, at most one upgrade, nothing charged twice --------
    for (const p of pending) {
      const { invoices, grants } = await ledgerOf(p.workspaceId);
      expect(invoices.map((i) => [i.kind, i.status])).toEqual([['subscription', 'paid']]);
      expect(grants.map((g) => [g.source, g.amount])).toEqual([['monthly', 400]]);
    }
    const upgraded = new Set<string>();
    for (const { ws, answers, final } of finals) {
      const { invoices, grants, charges } = await ledgerOf(ws.workspaceId);
      const upgrades = invoices.filter((i) => i.kind === 'upgrade');
      const why = JSON.stringify({ answers, invoices, grants });
      // At most one upgrade, whatever the retries; if the client was told it happened, it did, once.
      expect(upgrades.length, why).toBeLessThanOrEqual(1);
      if (answers.some((a) => a.status === 200)) expect(upgrades, why).toHaveLength(1);
      // A client that never heard "yes" heard why not: the plan already is Max (an unanswered attempt took effect).
      if (final.status !== 200) expect(upgrades, why).toHaveLength(1);
      for (const u of upgrades) {
        upgraded.add(ws.workspaceId);
        expect([u.status, u.total_cents], why).toEqual(['paid', 2900 - 1200]);
      }
      expect(invoices.filter((i) => i.kind === 'subscription').map((i) => i.status), why).toEqual(['paid']);
      expect(invoices.filter((i) => i.kind !== 'subscription' && i.kind !== 'upgrade'), why).toEqual([]);
      expect(grants.map((g) => [g.source, g.amount]), why).toEqual([['monthly', 150], ...upgrades.map(() => ['upgrade', 250])]);
      // The provider charged each invoice once (its events are keyed by the payment's idempotency key).
      expect(charges.map((c) => c.invoice_id).sort(), why).toEqual(invoices.map((i) => i.id).sort());
      expect((await stack.api(ws.apiKey).get('/v1/subscription')).body.plan).toBe(upgrades.length ? 'max' : 'plus');
    }
    expect(upgraded.size).toBe(ACTIVE);
    expect(await duplicatedGrants(stack.sql)).toEqual([]);
    expect(await lotsOffTheirJournal(stack.sql)).toEqual([]);

    // ---- The next renewal runs for everyone, once (the 3-D Secure customers now pay by plain card) -----
    for (const p of pending) expect((await p.api.put('/v1/payment-method', { payment_method: 'pm_card_visa' })).status).toBe(200);
    await advanceClock(operator, clockId, '2026-01-31T00:00:00Z');
    for (const [ws, firstPlanCents] of [...pending.map((p) => [p, 2900] as const), ...active.map((a) => [a, 1200] as const)]) {
      const { invoices, grants } = await ledgerOf(ws.workspaceId);
      const renewals = invoices.filter((i) => i.kind === 'subscription');
      // The first period at the plan subscribed to (Max for the 3-D Secure ones, Plus for the others), then Max.
      expect(renewals.map((i) => [i.status, i.total_cents])).toEqual([['paid', firstPlanCents], ['paid', 2900]]);
      expect(grants.filter((g) => g.source === 'monthly').map((g) => g.amount).at(-1)).toBe(400);
      const credits = (await stack.api(ws.apiKey).get('/v1/credits')).body;
      expect(credits.available).toBe(await availableFromLots(stack.sql, ws.workspaceId));
    }
    expect(await duplicatedGrants(stack.sql)).toEqual([]);
    expect(await lotsOffTheirJournal(stack.sql)).toEqual([]);
  });
});
