import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signStripePayload } from '../../payments/webhooks.js';
import { ADMIN_KEY, advanceClock, startStack, WEBHOOK_SECRET } from '../helpers/stack.js';
import { eventually } from '../helpers/temporal.js';

type Api = ReturnType<Awaited<ReturnType<typeof startStack>>['api']>;
interface CreditNote {
  id: string; invoice_id: string; amount_cents: number; refunded_to_card_cents: number; credited_to_balance_cents: number; reason: string;
  source: string; credits_clawed_back: number; credits_pending: number; shortfall: number; provider_refund_id: string | null; created_at: string;
}

/**
 * SPEC §10 refunds over HTTP on the whole stack (sandbox provider, test clocks): the operator's refund of a
 * pack in full and in part (credits clawed back, a shortfall for what was spent), 333 + 333 + 334 taking 34,
 * 33, 33 credits, refusals that change nothing, the card part first and the rest to the customer balance,
 * and `charge.refunded` applied once: our own refund's echo and its duplicates add nothing, a refund made in
 * the provider's dashboard is applied as the difference.
 */
describe('refunds and credit notes', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  const operator = () => stack.api(ADMIN_KEY);
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => stack?.stop());

  async function subscribed(plan: string, interval: 'month' | 'year' = 'month', card = 'pm_card_visa') {
    const clockId = (await operator().post('/v1/test-clocks', { frozen_time: '2026-01-01T00:00:00Z' })).body.id as string;
    const ws = await operator().post('/v1/workspaces', { name: `refunds ${plan}`, test_clock_id: clockId });
    const customer = stack.api(ws.body.api_key);
    expect((await customer.put('/v1/payment-method', { payment_method: 'pm_card_visa' })).status).toBe(200);
    expect((await customer.post('/v1/subscription', { plan, interval })).status).toBe(201);
    if (card !== 'pm_card_visa') expect((await customer.put('/v1/payment-method', { payment_method: card })).status).toBe(200);
    return { customer, clockId, workspaceId: ws.body.id as string };
  }

  async function buyPack(customer: Api, size = 100) {
    const bought = await customer.post('/v1/credit-packs', { size });
    expect(bought.status).toBe(201);
    return { invoice: bought.body.invoice as { id: string; total_cents: number; amount_due_cents: number }, lot: bought.body.lot as string };
  }

  /** Spends `credits` through real holds and captures (imagen-3 at high resolution: up to 30 credits a creation). */
  async function spend(customer: Api, credits: number) {
    for (let left = credits; left > 0;) {
      const take = Math.min(30, left);
      const quote = await customer.post('/v1/credits/estimate', { model: 'imagen-3', resolution: 'high', count: Math.ceil(take / 3) });
      expect(quote.status).toBe(201);
      const creation = await customer.post('/v1/creations', { quote_id: quote.body.quote_id });
      expect(creation.status).toBe(201);
      expect((await customer.post(`/v1/creations/${creation.body.id}/complete`, { credits: take })).status).toBe(200);
      left -= take;
    }
  }

  const refund = (invoiceId: string, body: unknown, headers?: Record<string, string>) =>
    headers
      ? fetch(`${stack.baseUrl}/v1/admin/invoices/${invoiceId}/refund`, {
        method: 'POST', body: JSON.stringify(body), headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json', ...headers },
      }).then(async (r) => ({ status: r.status, body: await r.json() }))
      : operator().post(`/v1/admin/invoices/${invoiceId}/refund`, body);

  /** A lot as stored (GET /v1/credits lists only lots with credits left). */
  const lotOf = async (_customer: Api, lotId: string) => {
    const [row] = await stack.sql`SELECT granted, remaining, held FROM lots WHERE id = ${Number(lotId.replace('lot_', ''))}`;
    return { granted: Number(row!.granted), remaining: Number(row!.remaining), held: Number(row!.held) };
  };
  const invoiceOf = async (customer: Api, id: string) =>
    ((await customer.get('/v1/invoices')).body.data as { id: string; credit_notes: CreditNote[]; dispute: unknown }[]).find((i) => i.id === id)!;
  const customerBalance = async (workspaceId: string) =>
    Number((await stack.sql`SELECT customer_balance_cents FROM workspaces WHERE id = ${workspaceId}`)[0]!.customer_balance_cents);

  /** Everything of a workspace a refund could change. */
  async function footprint(workspaceId: string) {
    const [notes, lots, entries, balance, refunds, invoices, subscription] = await Promise.all([
      stack.sql`SELECT id, status, amount_cents FROM credit_notes WHERE workspace_id = ${workspaceId} ORDER BY seq`,
      stack.sql`SELECT id, remaining, held, frozen, dispute_freeze_key FROM lots WHERE workspace_id = ${workspaceId} ORDER BY id`,
      stack.sql`SELECT count(*)::int AS n FROM ledger_entries WHERE workspace_id = ${workspaceId}`,
      customerBalance(workspaceId),
      stack.sql`SELECT r.id FROM sandbox_refunds r JOIN invoices i ON i.id = r.invoice_id WHERE i.workspace_id = ${workspaceId} ORDER BY r.seq`,
      stack.sql`SELECT id, status FROM invoices WHERE workspace_id = ${workspaceId} ORDER BY seq`,
      stack.sql`SELECT plan, status FROM subscriptions WHERE workspace_id = ${workspaceId}`,
    ]);
    return { notes: [...notes], lots: [...lots], entries: [...entries], balance, refunds: [...refunds], invoices: [...invoices], subscription: [...subscription] };
  }

  /** Waits until every stored provider event was applied (the inbox's pass ran over them). */
  const settled = () => eventually(() => stack.sql`SELECT id, last_error FROM webhook_events WHERE forwarded_at IS NULL`, (rows) => rows.length === 0);

  /** Delivers a Stripe-shaped event to the webhook endpoint, signed as the provider signs it. */
  async function deliver(payload: Record<string, unknown>) {
    const body = JSON.stringify(payload);
    const response = await fetch(`${stack.baseUrl}/webhooks/stripe`, {
      method: 'POST', body, headers: { 'content-type': 'application/json', 'stripe-signature': signStripePayload(body, WEBHOOK_SECRET) },
    });
    expect(response.status).toBe(200);
    return response.json() as Promise<{ duplicate: boolean }>;
  }

  it('refunds a whole unspent pack: the card gets it back, all 100 credits are clawed back, the subscription is untouched', async () => {
    const { customer, workspaceId } = await subscribed('plus');
    const { invoice, lot } = await buyPack(customer);
    expect(invoice).toMatchObject({ total_cents: 1000, amount_due_cents: 1000 });
    expect((await customer.get('/v1/credits')).body.available).toBe(250);

    const refunded = await refund(invoice.id, { reason: 'bought by mistake' });
    expect(refunded.status).toBe(201);
    expect(refunded.body).toMatchObject({
      invoice_id: invoice.id, amount_cents: 1000, refunded_to_card_cents: 1000, credited_to_balance_cents: 0, reason: 'bought by mistake',
      source: 'operator', credits_clawed_back: 100, credits_pending: 0, shortfall: 0, created_at: '2026-01-01T00:00:00.000Z',
    });
    expect(refunded.body.id).toMatch(/^cn_/);
    expect(refunded.body.provider_refund_id).toMatch(/^re_sbx_/);
    expect(await lotOf(customer, lot)).toMatchObject({ granted: 100, remaining: 0 });
    expect((await customer.get('/v1/credits')).body.available).toBe(150);
    expect(await customerBalance(workspaceId)).toBe(0);
    // The sandbox refunded the card once and sent charge.refunded, whose application adds nothing.
    expect((await stack.sql`SELECT amount_cents FROM sandbox_refunds WHERE invoice_id = ${invoice.id}`).map((r) => Number(r.amount_cents))).toEqual([1000]);
    await eventually(() => stack.sql`SELECT 1 FROM webhook_events WHERE type = 'charge.refunded' AND event->>'invoiceId' = ${invoice.id} AND forwarded_at IS NOT NULL`, (r) => r.length === 1);
    const shown = await invoiceOf(customer, invoice.id);
    expect(shown.credit_notes).toEqual([refunded.body]);
    expect(shown.dispute).toBeNull();
    expect((await customer.get('/v1/subscription')).body).toMatchObject({ status: 'active', plan: 'plus' });
    // The journal shows the clawback, the operator's GET /v1/invoices/{id} the note.
    const ledger = (await customer.get('/v1/ledger?limit=10')).body.data as { kind: string; amount: number }[];
    expect(ledger.filter((e) => e.kind === 'clawback').map((e) => e.amount)).toEqual([-100]);
    expect((await operator().get(`/v1/invoices/${invoice.id}`)).body.credit_notes).toEqual([refunded.body]);
    // The PDF lists the credit note (read back with poppler's pdftotext).
    const pdf = await fetch((await operator().get(`/v1/invoices/${invoice.id}`)).body.pdf_url);
    const text = execFileSync('pdftotext', ['-layout', '-', '-'], { input: Buffer.from(await pdf.arrayBuffer()) }).toString();
    expect(text).toMatch(new RegExp(`Credit notes\\s+${refunded.body.id} \\(2026-01-01\\)\\s+-\\$10\\.00`));
    expect(text).toMatch(/bought by mistake: to the card \$10\.00, to the customer balance \$0\.00; credits clawed back 100, shortfall 0/);
    expect(text).toMatch(/Refunded in all\s+-\$10\.00/);

    // Nothing is left to refund: 409 refund_exceeds_paid, nothing changed.
    const before = await footprint(workspaceId);
    const again = await refund(invoice.id, { reason: 'again' });
    expect([again.status, again.body.code, again.body.refundable_cents]).toEqual([409, 'refund_exceeds_paid', 0]);
    expect(await footprint(workspaceId)).toEqual(before);
  });

  it('refunds half of a pack whose credits were partly spent: 50 credits owed, 30 clawed back, 20 shortfall', async () => {
    const { customer, workspaceId } = await subscribed('plus');
    const { invoice, lot } = await buyPack(customer);
    await spend(customer, 150 + 70); // the monthly lot burns first (it expires), then 70 of the pack
    expect(await lotOf(customer, lot)).toMatchObject({ remaining: 30 });

    const refunded = await refund(invoice.id, { amount_cents: 500, reason: 'half the pack did not work' });
    expect(refunded.status).toBe(201);
    expect(refunded.body).toMatchObject({ amount_cents: 500, refunded_to_card_cents: 500, credited_to_balance_cents: 0, credits_clawed_back: 30, shortfall: 20 });
    expect(await lotOf(customer, lot)).toMatchObject({ remaining: 0 });
    expect((await customer.get('/v1/credits')).body.available).toBe(0);
    // The other lots are never touched for the shortfall; the other half stays refundable.
    expect(await customerBalance(workspaceId)).toBe(0);
    const rest = await refund(invoice.id, { reason: 'the other half' });
    expect(rest.status).toBe(201);
    expect(rest.body).toMatchObject({ amount_cents: 500, refunded_to_card_cents: 500, credits_clawed_back: 0, shortfall: 50 });
    expect((await invoiceOf(customer, invoice.id)).credit_notes.map((n) => n.amount_cents)).toEqual([500, 500]);
  });

  it('takes held credits when their hold is released: the credit note shows them pending, then clawed back', async () => {
    const { customer } = await subscribed('plus');
    const { invoice, lot } = await buyPack(customer);
    await spend(customer, 150 + 40); // 60 of the pack left
    const quote = await customer.post('/v1/credits/estimate', { model: 'imagen-3', resolution: 'high', count: 10 });
    const held = await customer.post('/v1/creations', { quote_id: quote.body.quote_id });
    expect(held.body).toMatchObject({ status: 'running', held: 30 });

    const refunded = await refund(invoice.id, { reason: 'while creating' });
    expect(refunded.body).toMatchObject({ amount_cents: 1000, credits_clawed_back: 30, credits_pending: 30, shortfall: 40 });
    expect(await lotOf(customer, lot)).toMatchObject({ remaining: 30, held: 30 });
    // The creation fails: its 30 credits are released, and taken by the refund at once.
    expect((await customer.post(`/v1/creations/${held.body.id}/fail`)).status).toBe(200);
    expect(await lotOf(customer, lot)).toMatchObject({ remaining: 0, held: 0 });
    expect((await invoiceOf(customer, invoice.id)).credit_notes[0]).toMatchObject({ credits_clawed_back: 60, credits_pending: 0, shortfall: 40 });
    expect((await customer.get('/v1/credits')).body.available).toBe(0);
  });

  it('333 + 333 + 334 cents of a 1000-cent pack of 100 credits take 34, 33 and 33 credits; then nothing is left', async () => {
    const { customer, workspaceId } = await subscribed('plus');
    const { invoice, lot } = await buyPack(customer);
    const taken = [];
    for (const [i, cents] of [333, 333, 334].entries()) {
      // With an Idempotency-Key: its retry answers the same credit note and refunds nothing more.
      const key = `refund-${invoice.id}-${i}`;
      const first = await refund(invoice.id, { amount_cents: cents, reason: `part ${i + 1}` }, { 'idempotency-key': key });
      expect(first.status).toBe(201);
      const retry = await refund(invoice.id, { amount_cents: cents, reason: `part ${i + 1}` }, { 'idempotency-key': key });
      expect(retry).toEqual(first);
      taken.push(first.body.credits_clawed_back);
    }
    expect(taken).toEqual([34, 33, 33]);
    expect(await lotOf(customer, lot)).toMatchObject({ remaining: 0 });
    expect((await stack.sql`SELECT amount_cents FROM sandbox_refunds WHERE invoice_id = ${invoice.id} ORDER BY seq`).map((r) => Number(r.amount_cents))).toEqual([333, 333, 334]);

    const before = await footprint(workspaceId);
    const over = await refund(invoice.id, { amount_cents: 1, reason: 'one more cent' });
    expect([over.status, over.body.code]).toEqual([409, 'refund_exceeds_paid']);
    expect(await footprint(workspaceId)).toEqual(before);
  });

  it('refuses more than is left (409 refund_exceeds_paid), open and void invoices (409 invoice_not_refundable), bad input (400) and workspace keys (403), changing nothing', async () => {
    const { customer, workspaceId } = await subscribed('plus');
    const { invoice } = await buyPack(customer);
    // A void invoice (a declined pack) and an open one (waiting for 3-D Secure).
    expect((await customer.put('/v1/payment-method', { payment_method: 'pm_card_chargeDeclined' })).status).toBe(200);
    expect((await customer.post('/v1/credit-packs', { size: 100 })).status).toBe(402);
    expect((await customer.put('/v1/payment-method', { payment_method: 'pm_card_authenticationRequired' })).status).toBe(200);
    expect((await customer.post('/v1/credit-packs', { size: 100 })).status).toBe(201);
    await settled();
    const invoices = (await customer.get('/v1/invoices')).body.data as { id: string; kind: string; status: string }[];
    const voidPack = invoices.find((i) => i.kind === 'pack' && i.status === 'void')!;
    const openPack = invoices.find((i) => i.kind === 'pack' && i.status === 'open')!;
    const before = await footprint(workspaceId);

    const over = await refund(invoice.id, { amount_cents: 1001, reason: 'too much' });
    expect([over.status, over.body.code, over.body.refundable_cents]).toEqual([409, 'refund_exceeds_paid', 1000]);
    for (const id of [voidPack.id, openPack.id]) {
      const refused = await refund(id, { reason: 'not paid' });
      expect([refused.status, refused.body.code]).toEqual([409, 'invoice_not_refundable']);
    }
    const unknown = await refund('in_unknown', { reason: 'x' });
    expect([unknown.status, unknown.body.code]).toEqual([404, 'invoice_not_found']);

    const bad: [unknown, string][] = [
      [{ amount_cents: 0, reason: 'zero' }, 'amount_cents'], [{ amount_cents: -5, reason: 'negative' }, 'amount_cents'],
      [{ amount_cents: 12.5, reason: 'fraction' }, 'amount_cents'], [{ amount_cents: '100', reason: 'string' }, 'amount_cents'],
      [{ amount_cents: 100 }, 'reason'], [{ reason: '' }, 'reason'], [{ reason: 'x', extra: true }, ''], // an unknown field: the body is refused
    ];
    for (const [body, field] of bad) {
      const response = await refund(invoice.id, body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(response.body.code).toBe('invalid_request');
      expect(response.body.errors.map((e: { field: string }) => e.field).join(' ')).toContain(field);
    }
    const asWorkspace = await customer.post(`/v1/admin/invoices/${invoice.id}/refund`, { reason: 'my own refund' });
    expect([asWorkspace.status, asWorkspace.body.code]).toEqual([403, 'forbidden']);
    const closeAsWorkspace = await customer.post('/v1/admin/sandbox/disputes/dp_x/close', { outcome: 'won' });
    expect(closeAsWorkspace.status).toBe(403);
    expect(await footprint(workspaceId)).toEqual(before);
  });

  it('gives the card back what it paid first and the rest to the customer balance, on a pack paid partly by the balance', async () => {
    // A switch from yearly to monthly leaves the unused year on the customer balance (SPEC example 5).
    const { customer, clockId, workspaceId } = await subscribed('max', 'year');
    await advanceClock(operator(), clockId, '2026-07-02T00:00:00Z');
    expect((await customer.post('/v1/subscription/change', { interval: 'month' })).status).toBe(200);
    // Spend the balance on 500-packs (3280 cents on Max) until less than one pack's price is left.
    const paidByBalance = [];
    while ((await customerBalance(workspaceId)) >= 3280) paidByBalance.push((await buyPack(customer, 500)).invoice);
    expect(paidByBalance.length).toBeGreaterThan(0);
    expect(paidByBalance[0]).toMatchObject({ total_cents: 3280, amount_due_cents: 0 });
    // A pack the balance paid in full: 1000 cents go back to the balance, with no provider call (the card part is 0).
    const balanceOnly = await refund(paidByBalance[0]!.id, { amount_cents: 1000, reason: 'paid by the balance' });
    expect(balanceOnly.body).toMatchObject({ refunded_to_card_cents: 0, credited_to_balance_cents: 1000, provider_refund_id: null });
    expect(await stack.sql`SELECT id FROM sandbox_refunds WHERE invoice_id = ${paidByBalance[0]!.id}`).toHaveLength(0);
    while ((await customerBalance(workspaceId)) >= 3280) await buyPack(customer, 500);
    const balanceBefore = await customerBalance(workspaceId);
    expect(balanceBefore).toBeGreaterThan(0);
    const { invoice } = await buyPack(customer, 500);
    expect(invoice).toMatchObject({ total_cents: 3280, amount_due_cents: 3280 - balanceBefore });
    expect(await customerBalance(workspaceId)).toBe(0);
    const cardPaid = 3280 - balanceBefore;

    // 1000 cents: all to the card (it paid more than that).
    const first = await refund(invoice.id, { amount_cents: 1000, reason: 'first part' });
    expect(first.body).toMatchObject({ refunded_to_card_cents: 1000, credited_to_balance_cents: 0 });
    // The rest: what the card paid beyond 1000 to the card, what the balance paid back to the balance.
    const rest = await refund(invoice.id, { reason: 'the rest' });
    expect(rest.status).toBe(201);
    expect(rest.body).toMatchObject({ amount_cents: 2280, refunded_to_card_cents: cardPaid - 1000, credited_to_balance_cents: balanceBefore });
    expect(await customerBalance(workspaceId)).toBe(balanceBefore);
    expect((await stack.sql`SELECT amount_cents FROM sandbox_refunds WHERE invoice_id = ${invoice.id} ORDER BY seq`).map((r) => Number(r.amount_cents)))
      .toEqual([1000, cardPaid - 1000]);
    expect(first.body.credits_clawed_back + rest.body.credits_clawed_back).toBe(500);
    expect((await customer.get('/v1/subscription')).body).toMatchObject({ plan: 'max', interval: 'month' });
  });

  it('applies charge.refunded once: the echo of our refund, its re-delivery and a new event with the same total change nothing; a dashboard refund is applied as the difference', async () => {
    const { customer, workspaceId } = await subscribed('plus');
    const { invoice, lot } = await buyPack(customer);
    const ours = await refund(invoice.id, { amount_cents: 300, reason: 'ours' });
    expect(ours.body).toMatchObject({ credits_clawed_back: 30 });
    const [echo] = await eventually(
      () => stack.sql<{ payload: Record<string, any> }[]>`SELECT payload FROM sandbox_outbox WHERE payload->>'type' = 'charge.refunded'
        AND payload->'data'->'object'->'metadata'->>'invoice_id' = ${invoice.id}`,
      (rows) => rows.length === 1,
    );
    expect(echo!.payload.data.object).toMatchObject({ object: 'charge', amount: 1000, amount_refunded: 300, metadata: { invoice_id: invoice.id, workspace_id: workspaceId } });
    await eventually(() => stack.sql`SELECT 1 FROM webhook_events WHERE id = ${echo!.payload.id} AND forwarded_at IS NOT NULL`, (r) => r.length === 1);
    const before = await footprint(workspaceId);

    // The same event again (a duplicate), and the same charge state under a new event id.
    expect(await deliver(echo!.payload)).toEqual({ received: true, duplicate: true });
    expect(await deliver({ ...echo!.payload, id: 'evt_same_total_again' })).toEqual({ received: true, duplicate: false });
    await settled();
    expect(await footprint(workspaceId)).toEqual(before);

    // Stripe's dashboard refunded 200 more: amount_refunded 500 is applied as a credit note of 200 (card only).
    const dashboard = { ...echo!.payload, id: 'evt_dashboard_refund', data: { object: { ...echo!.payload.data.object, amount_refunded: 500 } } };
    await deliver(dashboard);
    await settled();
    const notes = (await invoiceOf(customer, invoice.id)).credit_notes;
    expect(notes.map((n) => [n.source, n.amount_cents, n.refunded_to_card_cents, n.credited_to_balance_cents, n.credits_clawed_back, n.provider_refund_id]))
      .toEqual([['operator', 300, 300, 0, 30, ours.body.provider_refund_id], ['provider', 200, 200, 0, 20, null]]);
    expect(await lotOf(customer, lot)).toMatchObject({ remaining: 50 });
    // It arrives again, under another id, and an older total arrives late: nothing more.
    const afterDashboard = await footprint(workspaceId);
    await deliver({ ...dashboard, id: 'evt_dashboard_refund_again' });
    await deliver({ ...echo!.payload, id: 'evt_older_total_late' });
    await settled();
    expect(await footprint(workspaceId)).toEqual(afterDashboard);
    // What is left to refund counts the dashboard's refund: 500 cents.
    const over = await refund(invoice.id, { amount_cents: 501, reason: 'too much' });
    expect([over.status, over.body.refundable_cents]).toEqual([409, 500]);
  });
});
