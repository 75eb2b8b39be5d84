import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authenticationToken } from '../../api/pages/sandbox-invoice.js';
import { signStripePayload } from '../../payments/webhooks.js';
import { ADMIN_KEY, advanceClock, apiClient, startStack, WEBHOOK_SECRET } from '../helpers/stack.js';
import { authenticateOnHostedPage } from '../helpers/hosted-page.js';
import { eventually } from '../helpers/temporal.js';

/**
 * Issue 16, finding 1: anyone could pay an open invoice, even a declined one, for free by posting to
 * POST /sandbox/invoices/{id}/authenticate. Invariant: only an invoice whose payment waits for 3-D Secure is
 * paid there, once, and only by the form of its own hosted page (same origin, the page's token); a declined pack
 * or a past-due renewal is paid only by a new card. Every refused post leaves invoice, lots and balance as they
 * were. An invoice.paid webhook pays only the invoice it names, for its customer and amount.
 */
describe('sandbox 3-D Secure completion (finding 1)', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  const operator = () => stack.api(ADMIN_KEY);
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => stack?.stop());

  async function subscribed(paymentMethod = 'pm_card_visa') {
    const clockId = (await operator().post('/v1/test-clocks', { frozen_time: '2026-01-01T00:00:00Z' })).body.id as string;
    const ws = await operator().post('/v1/workspaces', { name: 'attacked', test_clock_id: clockId });
    const customer = apiClient(stack.baseUrl, ws.body.api_key);
    expect((await customer.put('/v1/payment-method', { payment_method: paymentMethod })).status).toBe(200);
    expect((await customer.post('/v1/subscription', { plan: 'plus', interval: 'month' })).body.status).toBe('active');
    return { customer, clockId, workspaceId: ws.body.id as string };
  }

  /** What a payment could change: the workspace's invoices, lots and available credits. */
  async function footprint(workspaceId: string, customer: ReturnType<typeof apiClient>) {
    const [invoices, lots] = await Promise.all([
      stack.sql`SELECT id, kind, status, paid_at FROM invoices WHERE workspace_id = ${workspaceId} ORDER BY seq`,
      stack.sql`SELECT id, source, granted, remaining FROM lots WHERE workspace_id = ${workspaceId} ORDER BY id`,
    ]);
    return { invoices: [...invoices], lots: [...lots], available: (await customer.get('/v1/credits')).body.available as number };
  }

  const post = (invoiceId: string, headers: Record<string, string>, form: Record<string, string>) =>
    fetch(`${stack.baseUrl}/sandbox/invoices/${invoiceId}/authenticate`, {
      method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(form),
    });

  /** The sandbox's invoice.paid events about an invoice (each one pays it once delivered). */
  const paidEventsOf = async (invoiceId: string) => [...await stack.sql`SELECT event_id FROM sandbox_outbox
    WHERE payload->>'type' = 'invoice.paid' AND payload->'data'->'object'->'metadata'->>'invoice_id' = ${invoiceId}`];

  /** The sandbox's latest event about an invoice: the attempt id a (leaked-secret) token would be made for. */
  async function latestAttempt(invoiceId: string): Promise<string> {
    const [row] = await stack.sql<{ event_id: string }[]>`
      SELECT event_id FROM sandbox_outbox WHERE payload->'data'->'object'->'metadata'->>'invoice_id' = ${invoiceId}
      ORDER BY id DESC LIMIT 1`;
    return row!.event_id;
  }

  it('pays a pack waiting for 3-D Secure only from its own page with its token, once', async () => {
    const { customer, workspaceId } = await subscribed();
    expect((await customer.put('/v1/payment-method', { payment_method: 'pm_card_authenticationRequired' })).status).toBe(200);
    const purchase = await customer.post('/v1/credit-packs', { size: 500 });
    expect([purchase.status, purchase.body.invoice.status]).toEqual([201, 'open']);
    const invoiceId = purchase.body.invoice.id as string;
    const before = await footprint(workspaceId, customer);
    expect(before.available).toBe(150);

    const page = await (await fetch(`${stack.baseUrl}/sandbox/invoices/${invoiceId}`)).text();
    const field = (name: string) => page.match(new RegExp(`name="${name}" value="([^"]*)"`))![1]!;
    const [attempt, token] = [field('attempt'), field('token')];
    const own = { origin: stack.baseUrl };

    const refusals = await Promise.all([
      post(invoiceId, { origin: 'https://attacker.example' }, { attempt, token }), // another site's form
      post(invoiceId, { referer: 'https://attacker.example/pay' }, { attempt, token }), // no Origin, a foreign Referer
      post(invoiceId, {}, { attempt, token }), // neither header
      post(invoiceId, own, {}), // no token
      post(invoiceId, own, { attempt, token: 'x'.repeat(token.length) }), // a forged token
      post(invoiceId, own, { attempt: `${attempt}x`, token }), // the token of another attempt
      post('in_unknown', own, { attempt, token }), // unknown invoice
    ]);
    expect(refusals.map((r) => r.status)).toEqual([403, 403, 403, 403, 403, 403, 404]);
    expect(await footprint(workspaceId, customer)).toEqual(before);

    const done = await authenticateOnHostedPage(`${stack.baseUrl}/sandbox/invoices/${invoiceId}`);
    expect(done.status).toBe(303);
    await eventually(() => customer.get('/v1/credits'), (r) => r.body.available === 650);
    await eventually(() => customer.get(`/v1/invoices/${invoiceId}`), (r) => r.body.status === 'paid');

    // The same form again (a double click, a replay): refused, nothing granted twice.
    const again = await post(invoiceId, own, { attempt, token });
    expect(again.status).toBe(409);
    expect(await paidEventsOf(invoiceId)).toHaveLength(1);
    expect((await customer.get('/v1/credits')).body.available).toBe(650);
  });

  it('never pays a declined 500-credit pack, even with a token signed by the server secret', async () => {
    const { customer, workspaceId } = await subscribed();
    expect((await customer.put('/v1/payment-method', { payment_method: 'pm_card_chargeDeclined' })).status).toBe(200);
    const declined = await customer.post('/v1/credit-packs', { size: 500 });
    expect([declined.status, declined.body.code]).toEqual([402, 'payment_declined']);
    const [pack] = await stack.sql<{ id: string }[]>`SELECT id FROM invoices WHERE workspace_id = ${workspaceId} AND kind = 'pack'`;
    const before = await footprint(workspaceId, customer);

    const page = await (await fetch(`${stack.baseUrl}/sandbox/invoices/${pack!.id}`)).text();
    expect(page).not.toContain('Complete authentication');
    expect(page).toContain('id="test-mode"');
    const attempt = await latestAttempt(pack!.id);
    const forged = await Promise.all([
      post(pack!.id, { origin: 'https://attacker.example' }, {}),
      post(pack!.id, { origin: stack.baseUrl }, { attempt, token: authenticationToken(WEBHOOK_SECRET, pack!.id, attempt) }),
    ]);
    expect(forged.map((r) => r.status)).toEqual([403, 409]);
    expect(await paidEventsOf(pack!.id)).toHaveLength(0); // the provider queued no payment
    expect(await footprint(workspaceId, customer)).toEqual(before);
    expect(before.invoices.find((i) => i.id === pack!.id)?.status).toBe('void');
    expect(before.available).toBe(150);
  });

  it('never pays a past-due renewal whose card declines: it stays past_due, open, with no new lot', async () => {
    const { customer, clockId, workspaceId } = await subscribed();
    expect((await customer.put('/v1/payment-method', { payment_method: 'pm_card_chargeDeclined' })).status).toBe(200);
    await advanceClock(operator(), clockId, '2026-01-31T00:00:00Z');
    await eventually(() => customer.get('/v1/subscription'), (r) => r.body.status === 'past_due');
    const [renewal] = await stack.sql<{ id: string; status: string }[]>`
      SELECT id, status FROM invoices WHERE workspace_id = ${workspaceId} ORDER BY seq DESC LIMIT 1`;
    expect(renewal!.status).toBe('open');
    const before = await footprint(workspaceId, customer);
    // Its hosted page offers no authentication, only the way a declined invoice is paid: a new card.
    const page = await (await fetch(`${stack.baseUrl}/sandbox/invoices/${renewal!.id}`)).text();
    expect(page).not.toContain('Complete authentication');
    expect(page).toMatch(/<p id="declined"[^>]*>The card was declined \(card_declined\)/);

    const attempt = await latestAttempt(renewal!.id);
    const tries = await Promise.all([
      post(renewal!.id, { origin: 'https://attacker.example' }, {}),
      post(renewal!.id, { origin: stack.baseUrl }, { attempt, token: authenticationToken(WEBHOOK_SECRET, renewal!.id, attempt) }),
    ]);
    expect(tries.map((r) => r.status)).toEqual([403, 409]);
    expect(await paidEventsOf(renewal!.id)).toHaveLength(0); // the provider queued no payment
    expect(await footprint(workspaceId, customer)).toEqual(before);
    expect((await customer.get('/v1/subscription')).body.status).toBe('past_due');
  });

  it('applies a signed invoice.paid only when it names the invoice, its customer and its amount', async () => {
    const { customer, workspaceId } = await subscribed();
    const other = await subscribed();
    expect((await customer.put('/v1/payment-method', { payment_method: 'pm_card_authenticationRequired' })).status).toBe(200);
    const purchase = await customer.post('/v1/credit-packs', { size: 100 });
    const invoice = purchase.body.invoice as { id: string; amount_due_cents: number };
    expect(invoice.amount_due_cents).toBeGreaterThan(0);
    const before = await footprint(workspaceId, customer);

    const event = (id: string, object: Record<string, unknown>, metadataWorkspace = workspaceId) => ({
      id, object: 'event', type: 'invoice.paid', created: Math.floor(Date.now() / 1000),
      data: { object: { id: `in_sandbox_${invoice.id}`, object: 'invoice', status: 'paid', customer: workspaceId,
        amount_due: invoice.amount_due_cents, amount_paid: invoice.amount_due_cents,
        metadata: { invoice_id: invoice.id, workspace_id: metadataWorkspace, subscription_id: '' }, ...object } },
    });
    const forged = [
      event('evt_forged_amount', { amount_paid: 1 }),
      event('evt_forged_customer', { customer: other.workspaceId }),
      event('evt_forged_workspace', {}, other.workspaceId),
      event('evt_forged_provider_id', { id: 'in_sandbox_in_someone_else' }),
    ];
    for (const payload of forged) {
      const body = JSON.stringify(payload);
      const sent = await fetch(`${stack.baseUrl}/webhooks/stripe`, {
        method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': signStripePayload(body, WEBHOOK_SECRET) }, body,
      });
      expect(sent.status).toBe(200);
    }
    const ids = forged.map((e) => e.id);
    await eventually(() => stack.sql`SELECT id FROM webhook_events WHERE id = ANY(${ids}) AND forwarded_at IS NOT NULL`, (rows) => rows.length === 4);
    expect(await footprint(workspaceId, customer)).toEqual(before);
    expect((await customer.get(`/v1/invoices/${invoice.id}`)).body.status).toBe('open');
  });
});
