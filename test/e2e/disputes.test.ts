import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signStripePayload } from '../../payments/webhooks.js';
import { ADMIN_KEY, startStack, WEBHOOK_SECRET } from '../helpers/stack.js';
import { eventually } from '../helpers/temporal.js';

type Api = ReturnType<Awaited<ReturnType<typeof startStack>>['api']>;

/**
 * SPEC §10 disputes over HTTP on the whole stack: `pm_card_createDispute` pays a pack and opens a dispute
 * (its credits frozen, `dispute_opened` notified, refunds refused with invoice_disputed); the operator closes
 * it in the sandbox, won (thawed) or lost (a credit note for the disputed amount without a provider refund,
 * the credits clawed back). Disputes arriving twice, out of order or concurrently have one effect each.
 */
describe('disputes', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  const operator = () => stack.api(ADMIN_KEY);
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => stack?.stop());

  async function subscribed() {
    const clockId = (await operator().post('/v1/test-clocks', { frozen_time: '2026-01-01T00:00:00Z' })).body.id as string;
    const ws = await operator().post('/v1/workspaces', { name: 'disputes', test_clock_id: clockId });
    const customer = stack.api(ws.body.api_key);
    expect((await customer.put('/v1/payment-method', { payment_method: 'pm_card_visa' })).status).toBe(200);
    expect((await customer.post('/v1/subscription', { plan: 'plus', interval: 'month' })).status).toBe(201);
    return { customer, workspaceId: ws.body.id as string };
  }

  async function buyPack(customer: Api, card: string) {
    expect((await customer.put('/v1/payment-method', { payment_method: card })).status).toBe(200);
    const bought = await customer.post('/v1/credit-packs', { size: 100 });
    expect(bought.status).toBe(201);
    expect(bought.body.invoice).toMatchObject({ status: 'paid', total_cents: 1000 });
    return { invoiceId: bought.body.invoice.id as string, lot: Number(String(bought.body.lot).replace('lot_', '')) };
  }

  const invoiceOf = async (customer: Api, id: string) =>
    ((await customer.get('/v1/invoices')).body.data as { id: string; credit_notes: any[]; dispute: { id: string; status: string } | null }[])
      .find((i) => i.id === id)!;
  const available = async (customer: Api) => (await customer.get('/v1/credits')).body.available as number;
  const lotRow = async (lot: number) => (await stack.sql`SELECT remaining, dispute_freeze_key FROM lots WHERE id = ${lot}`)[0]!;
  const notifications = (workspaceId: string) => stack.sql`SELECT kind, payload FROM notifications WHERE workspace_id = ${workspaceId} AND kind = 'dispute_opened'`;
  const settled = () => eventually(() => stack.sql`SELECT id, last_error FROM webhook_events WHERE forwarded_at IS NULL`, (rows) => rows.length === 0);

  /** Everything of a workspace a dispute could change. */
  async function footprint(workspaceId: string) {
    const [notes, lots, entries, disputes, notified, refunds] = await Promise.all([
      stack.sql`SELECT id, source, amount_cents, credits_clawed_back, status FROM credit_notes WHERE workspace_id = ${workspaceId} ORDER BY seq`,
      stack.sql`SELECT id, remaining, held, frozen, dispute_freeze_key FROM lots WHERE workspace_id = ${workspaceId} ORDER BY id`,
      stack.sql`SELECT kind, amount, remaining_delta, operation_key FROM ledger_entries WHERE workspace_id = ${workspaceId} ORDER BY id`,
      stack.sql`SELECT id, status, outcome FROM disputes WHERE workspace_id = ${workspaceId} ORDER BY id`,
      notifications(workspaceId),
      stack.sql`SELECT r.id FROM sandbox_refunds r JOIN invoices i ON i.id = r.invoice_id WHERE i.workspace_id = ${workspaceId}`,
    ]);
    return { notes: [...notes], lots: [...lots], entries: [...entries], disputes: [...disputes], notified: [...notified], refunds: [...refunds] };
  }

  /** A Stripe-shaped dispute event for one of our invoices, signed and delivered to the webhook endpoint. */
  async function deliverDispute(eventId: string, type: string, dispute: { id: string; status: string; invoiceId: string; workspaceId: string; created?: number }) {
    const payload = {
      id: eventId, object: 'event', type, created: dispute.created ?? Math.floor(Date.now() / 1000),
      data: { object: { id: dispute.id, object: 'dispute', amount: 1000, currency: 'usd', status: dispute.status, charge: `ch_${dispute.invoiceId}`,
        payment_intent: `pi_${dispute.invoiceId}`, metadata: { invoice_id: dispute.invoiceId, workspace_id: dispute.workspaceId } } },
    };
    const body = JSON.stringify(payload);
    const response = await fetch(`${stack.baseUrl}/webhooks/stripe`, {
      method: 'POST', body, headers: { 'content-type': 'application/json', 'stripe-signature': signStripePayload(body, WEBHOOK_SECRET) },
    });
    expect(response.status).toBe(200);
  }

  it('pm_card_createDispute: the pack is paid, then disputed (credits frozen, notified, refunds refused); won, the credits thaw', async () => {
    const { customer, workspaceId } = await subscribed();
    const { invoiceId, lot } = await buyPack(customer, 'pm_card_createDispute');
    const disputed = await eventually(() => invoiceOf(customer, invoiceId), (i) => i.dispute !== null);
    expect(disputed.dispute).toMatchObject({ status: 'needs_response' });
    expect(disputed.dispute!.id).toMatch(/^dp_sbx_/);
    // The dispute is recorded first, then its effects (under the dispute's lock): wait for them.
    await eventually(() => notifications(workspaceId), (rows) => rows.length === 1);
    await settled();
    expect(await available(customer)).toBe(150); // the pack's 100 credits are frozen
    expect(await lotRow(lot)).toMatchObject({ remaining: 100, dispute_freeze_key: `dispute:${disputed.dispute!.id}:freeze` });
    expect((await notifications(workspaceId)).map((n) => [n.kind, n.payload.invoice_id, n.payload.amount_cents]))
      .toEqual([['dispute_opened', invoiceId, 1000]]);

    const before = await footprint(workspaceId);
    const refused = await operator().post(`/v1/admin/invoices/${invoiceId}/refund`, { reason: 'during a dispute' });
    expect([refused.status, refused.body.code, refused.body.dispute_id]).toEqual([409, 'invoice_disputed', disputed.dispute!.id]);
    expect(await footprint(workspaceId)).toEqual(before);

    const closed = await operator().post(`/v1/admin/sandbox/disputes/${disputed.dispute!.id}/close`, { outcome: 'won' });
    expect(closed.status).toBe(200);
    expect(closed.body).toEqual({ id: disputed.dispute!.id, status: 'won', invoice_id: invoiceId });
    await eventually(() => invoiceOf(customer, invoiceId), (i) => i.dispute?.status === 'won');
    await settled();
    expect(await available(customer)).toBe(250);
    expect(await lotRow(lot)).toMatchObject({ remaining: 100, dispute_freeze_key: null });
    expect((await invoiceOf(customer, invoiceId)).credit_notes).toEqual([]);
    expect((await customer.get('/v1/subscription')).body).toMatchObject({ status: 'active', plan: 'plus' });
    // Closing it again sends nothing new; a won dispute no longer blocks refunds.
    const again = await operator().post(`/v1/admin/sandbox/disputes/${disputed.dispute!.id}/close`, { outcome: 'lost' });
    expect(again.body.status).toBe('won');
    await settled();
    expect((await invoiceOf(customer, invoiceId)).dispute?.status).toBe('won');
    expect((await operator().post(`/v1/admin/invoices/${invoiceId}/refund`, { amount_cents: 100, reason: 'goodwill' })).status).toBe(201);
  });

  it('lost: a credit note for the disputed amount without a provider refund, the pack clawed back, refunds refused', async () => {
    const { customer, workspaceId } = await subscribed();
    const { invoiceId, lot } = await buyPack(customer, 'pm_card_createDispute');
    const dispute = (await eventually(() => invoiceOf(customer, invoiceId), (i) => i.dispute !== null)).dispute!;
    await eventually(() => notifications(workspaceId), (rows) => rows.length === 1);
    await settled();
    const closed = await operator().post(`/v1/admin/sandbox/disputes/${dispute.id}/close`, { outcome: 'lost' });
    expect(closed.body.status).toBe('lost');
    const invoice = await eventually(() => invoiceOf(customer, invoiceId), (i) => i.dispute?.status === 'lost' && i.credit_notes.length === 1);
    expect(invoice.credit_notes[0]).toMatchObject({
      source: 'dispute_lost', amount_cents: 1000, refunded_to_card_cents: 1000, credited_to_balance_cents: 0, provider_refund_id: null,
      credits_clawed_back: 100, shortfall: 0, reason: `dispute ${dispute.id} lost`,
    });
    expect(await lotRow(lot)).toMatchObject({ remaining: 0 }); // clawed back while frozen: nothing left to thaw
    expect(await available(customer)).toBe(150);
    expect(await stack.sql`SELECT id FROM sandbox_refunds WHERE invoice_id = ${invoiceId}`).toHaveLength(0);
    const refused = await operator().post(`/v1/admin/invoices/${invoiceId}/refund`, { amount_cents: 1, reason: 'after a lost dispute' });
    expect([refused.status, refused.body.code]).toEqual([409, 'invoice_disputed']);
    expect((await customer.get('/v1/subscription')).body).toMatchObject({ status: 'active', plan: 'plus' });
  });

  it('one effect per dispute and outcome: closed before created, duplicates, and events racing each other', async () => {
    const { customer, workspaceId } = await subscribed();
    // Won, announced before it was opened: nothing frozen, nothing notified, the late `created` changes nothing.
    const first = await buyPack(customer, 'pm_card_visa');
    const won = { id: 'dp_out_of_order_won', invoiceId: first.invoiceId, workspaceId };
    await deliverDispute('evt_won_closed', 'charge.dispute.closed', { ...won, status: 'won' });
    await settled();
    await deliverDispute('evt_won_created', 'charge.dispute.created', { ...won, status: 'needs_response', created: Math.floor(Date.now() / 1000) - 60 });
    await deliverDispute('evt_won_updated', 'charge.dispute.updated', { ...won, status: 'under_review' });
    await settled();
    expect((await invoiceOf(customer, first.invoiceId)).dispute).toEqual({ id: won.id, status: 'won' });
    expect(await lotRow(first.lot)).toMatchObject({ remaining: 100, dispute_freeze_key: null });
    expect(await notifications(workspaceId)).toHaveLength(0);
    expect(await available(customer)).toBe(250);

    // Lost, with its events sent several times each and concurrently (created, updated, closed): one credit note, one clawback.
    const second = await buyPack(customer, 'pm_card_visa');
    const lost = { id: 'dp_racing_lost', invoiceId: second.invoiceId, workspaceId };
    await Promise.all([
      ...[1, 2, 3].map((i) => deliverDispute(`evt_lost_created_${i}`, 'charge.dispute.created', { ...lost, status: 'needs_response' })),
      ...[1, 2].map((i) => deliverDispute(`evt_lost_updated_${i}`, 'charge.dispute.updated', { ...lost, status: 'under_review' })),
      ...[1, 2, 3].map((i) => deliverDispute(`evt_lost_closed_${i}`, 'charge.dispute.closed', { ...lost, status: 'lost' })),
      deliverDispute('evt_lost_closed_1', 'charge.dispute.closed', { ...lost, status: 'lost' }), // the same event id again
    ]);
    await settled();
    const invoice = await invoiceOf(customer, second.invoiceId);
    expect(invoice.dispute).toEqual({ id: lost.id, status: 'lost' });
    expect(invoice.credit_notes.map((n) => [n.source, n.amount_cents, n.credits_clawed_back])).toEqual([['dispute_lost', 1000, 100]]);
    expect(await lotRow(second.lot)).toMatchObject({ remaining: 0 });
    expect(await available(customer)).toBe(250); // the first pack's 100 and the month's 150
    const after = await footprint(workspaceId);
    // The clawback takes the lot's 100 credits (its amount is 0 when the lot was frozen by then: they did not count).
    expect(after.entries.filter((e) => e.kind === 'clawback').map((e) => [Number(e.remaining_delta), e.operation_key])).toEqual([[-100, `dispute:${lost.id}:lost:clawback`]]);
    expect(after.notified.length).toBeLessThanOrEqual(1);

    // Late duplicates of everything change nothing more.
    await deliverDispute('evt_lost_created_late', 'charge.dispute.created', { ...lost, status: 'needs_response' });
    await deliverDispute('evt_lost_closed_late', 'charge.dispute.closed', { ...lost, status: 'lost' });
    await deliverDispute('evt_won_closed_late', 'charge.dispute.closed', { ...won, status: 'lost' });
    await settled();
    expect(await footprint(workspaceId)).toEqual(after);
  });

  it('is sandbox-only and operator-only: an unknown dispute is 404, bad input 400, a workspace key 403', async () => {
    const { customer } = await subscribed();
    const unknown = await operator().post('/v1/admin/sandbox/disputes/dp_unknown/close', { outcome: 'won' });
    expect([unknown.status, unknown.body.code]).toEqual([404, 'not_found']);
    for (const body of [{ outcome: 'maybe' }, {}, { outcome: 'won', extra: 1 }]) {
      const response = await operator().post('/v1/admin/sandbox/disputes/dp_unknown/close', body);
      expect([response.status, response.body.code]).toEqual([400, 'invalid_request']);
    }
    expect((await customer.post('/v1/admin/sandbox/disputes/dp_unknown/close', { outcome: 'won' })).status).toBe(403);
  });
});
