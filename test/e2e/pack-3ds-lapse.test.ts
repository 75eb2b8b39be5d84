import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyPaymentEvent } from '../../api/webhooks/inbox.js';
import { reconcileOpenInvoices } from '../../api/webhooks/reconcile.js';
import { authenticateOnHostedPage } from '../helpers/hosted-page.js';
import { ADMIN_KEY, advanceClock, startStack } from '../helpers/stack.js';
import { eventually } from '../helpers/temporal.js';

/**
 * A credit pack waiting for 3-D Secure (SPEC §1, §5; README "Billing rules"): it lapses like every other unpaid
 * invoice — voided 23 hours after the purchase, or as soon as the subscription ends — and gives back the customer
 * balance it used, once; its hosted page no longer takes a payment. A payment that completes anyway after the
 * subscription ended (it beat the void at the provider; its webhook came late) is refunded in full, never
 * delivered into a workspace with nothing live.
 *
 * The first case is the breaker (states) finding pack-3ds-open-forever: the pack invoice stayed open for months,
 * held the 244 cents of balance, and paying it on the hosted page delivered a pack into a canceled workspace.
 */
describe('a credit pack waiting for 3-D Secure', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  beforeAll(async () => { stack = await startStack(); });
  afterAll(async () => stack?.stop());

  const operator = () => stack.api(ADMIN_KEY);
  const balanceOf = async (workspaceId: string) =>
    Number((await stack.sql`SELECT customer_balance_cents FROM workspaces WHERE id = ${workspaceId}`)[0]!.customer_balance_cents);
  /** Every provider event delivered and every stored webhook applied. */
  const settled = () => eventually(async () => (await stack.sql<{ n: number }[]>`
    SELECT (SELECT count(*) FROM sandbox_outbox WHERE delivered_at IS NULL)::int + (SELECT count(*) FROM webhook_events WHERE forwarded_at IS NULL)::int AS n`)[0]!.n,
  (n) => n === 0);
  const packLots = async (customer: ReturnType<typeof stack.api>) =>
    (await customer.get('/v1/credits')).body.lots.filter((l: { source: string }) => l.source === 'pack');
  const hostedPage = (invoiceId: string) => `${stack.baseUrl}/sandbox/invoices/${invoiceId}`;
  const payOnHostedPage = (invoiceId: string) => authenticateOnHostedPage(hostedPage(invoiceId)).then((r) => r.status).catch(() => 'no form');

  /** A workspace on a test clock at 2026-01-01 with a Max monthly subscription paid by a visa card. */
  async function maxMonthly(name: string) {
    const clock = (await operator().post('/v1/test-clocks', { frozen_time: '2026-01-01T00:00:00Z' })).body;
    const ws = (await operator().post('/v1/workspaces', { name, test_clock_id: clock.id })).body;
    const customer = stack.api(ws.api_key);
    await customer.put('/v1/payment-method', { payment_method: 'pm_card_visa' });
    expect((await customer.post('/v1/subscription', { plan: 'max', interval: 'month' })).status).toBe(201);
    return { clockId: clock.id as string, workspaceId: ws.id as string, customer };
  }

  /** Buys a 100-credit pack with a card that needs 3-D Secure (Max: 1000 − 20% = 800 cents); the invoice stays open. */
  async function packWaitingFor3ds(customer: ReturnType<typeof stack.api>) {
    await customer.put('/v1/payment-method', { payment_method: 'pm_card_authenticationRequired' });
    const pack = await customer.post('/v1/credit-packs', { pack: 100 });
    expect({ status: pack.status, invoice: pack.body.invoice.status }).toEqual({ status: 201, invoice: 'open' });
    await customer.put('/v1/payment-method', { payment_method: 'pm_card_visa' });
    return pack.body.invoice as { id: string; amount_due_cents: number; total_cents: number };
  }

  it('Plus yearly → monthly leaves 244 cents of balance; a 3-D Secure pack takes it; once the subscription ended the pack invoice is void, the 244 back, and its page takes no payment', async () => {
    const clock = (await operator().post('/v1/test-clocks', { frozen_time: '2026-01-01T00:00:00Z' })).body;
    const ws = (await operator().post('/v1/workspaces', { name: 'pack 3ds', test_clock_id: clock.id })).body;
    const customer = stack.api(ws.api_key);
    await customer.put('/v1/payment-method', { payment_method: 'pm_card_visa' });
    expect((await customer.post('/v1/subscription', { plan: 'plus', interval: 'year' })).status).toBe(201);
    await advanceClock(operator(), clock.id, '2026-11-01T00:00:00Z');
    // −round(8640 × 61/365) + 1200 = −1444 + 1200 = −244: 244 cents of customer balance.
    const sw = await customer.post('/v1/subscription/change', { interval: 'month' });
    expect(sw.body.latest_invoice.total_cents).toBe(-244);
    expect(await balanceOf(ws.id)).toBe(244);
    await customer.put('/v1/payment-method', { payment_method: 'pm_card_authenticationRequired' });
    const pack = await customer.post('/v1/credit-packs', { pack: 100 });
    expect({ status: pack.status, invoice: pack.body.invoice.status, due: pack.body.invoice.amount_due_cents }).toEqual({ status: 201, invoice: 'open', due: 756 });
    expect(await balanceOf(ws.id)).toBe(0);
    await customer.put('/v1/payment-method', { payment_method: 'pm_card_visa' });
    expect((await customer.post('/v1/subscription/cancel')).status).toBe(200);
    await advanceClock(operator(), clock.id, '2027-03-01T00:00:00Z');
    await settled();
    expect((await customer.get('/v1/subscription')).body.status).toBe('canceled');

    const invoice = (await customer.get(`/v1/invoices/${pack.body.invoice.id}`)).body;
    const after = { packInvoice: invoice.status, balance: await balanceOf(ws.id) };
    const paid = await payOnHostedPage(pack.body.invoice.id);
    await settled();
    expect({ ...after, paid, packLots: (await packLots(customer)).length }).toEqual({ packInvoice: 'void', balance: 244, paid: 'no form', packLots: 0 });
    // The hosted page says so; the balance came back once (a second sweep, a later advance, change nothing).
    expect(await (await fetch(hostedPage(pack.body.invoice.id))).text()).toContain('Void: nothing to pay');
    await advanceClock(operator(), clock.id, '2027-04-01T00:00:00Z');
    expect(await balanceOf(ws.id)).toBe(244);
  });

  /**
   * Plus yearly from 2026-01-01, switched to monthly on 2026-11-01: 244 cents of customer balance and a renewal on
   * 2026-12-01. A 3-D Secure pack bought at `packAt` takes the 244; the clock then jumps past both the renewal and
   * the pack's deadline at once. Answers the upcoming invoice shown after the purchase and the renewal's invoice.
   */
  async function renewalAcrossPackDeadline(name: string, packAt: string) {
    const clock = (await operator().post('/v1/test-clocks', { frozen_time: '2026-01-01T00:00:00Z' })).body;
    const ws = (await operator().post('/v1/workspaces', { name, test_clock_id: clock.id })).body;
    const customer = stack.api(ws.api_key);
    await customer.put('/v1/payment-method', { payment_method: 'pm_card_visa' });
    expect((await customer.post('/v1/subscription', { plan: 'plus', interval: 'year' })).status).toBe(201);
    await advanceClock(operator(), clock.id, '2026-11-01T00:00:00Z');
    expect((await customer.post('/v1/subscription/change', { interval: 'month' })).body.latest_invoice.total_cents).toBe(-244);
    if (packAt !== '2026-11-01T00:00:00Z') await advanceClock(operator(), clock.id, packAt);
    const invoice = await packWaitingFor3ds(customer);
    expect([invoice.amount_due_cents, await balanceOf(ws.id)]).toEqual([756, 0]);
    const upcoming = (await customer.get('/v1/invoices/upcoming')).body;
    await advanceClock(operator(), clock.id, '2026-12-02T00:00:00Z');
    await settled();
    const [renewal] = await stack.sql<{ balance_applied_cents: number; amount_due_cents: number }[]>`
      SELECT balance_applied_cents::int, amount_due_cents::int FROM invoices
      WHERE workspace_id = ${ws.id} AND kind = 'subscription' AND created_at = '2026-12-01T00:00:00Z'`;
    const pack = (await customer.get(`/v1/invoices/${invoice.id}`)).body.status;
    return { upcoming: { balance_applied_cents: upcoming.balance_applied_cents, amount_due_cents: upcoming.amount_due_cents }, renewal, pack, balance: await balanceOf(ws.id) };
  }

  it('a pack lapsing before the renewal gives its balance back to it, as the upcoming invoice said (one jump over both)', async () => {
    // Bought 2026-11-01 00:00: lapses 2026-11-01 23:00, before the renewal on 2026-12-01.
    const r = await renewalAcrossPackDeadline('pack 3ds lapses before renewal', '2026-11-01T00:00:00Z');
    expect(r.upcoming.balance_applied_cents).toBe(244);
    expect({ renewal: r.renewal, pack: r.pack, balance: r.balance }).toEqual({ renewal: r.upcoming, pack: 'void', balance: 0 });
  });

  it('a pack lapsing after the renewal still holds its balance at the renewal, as the upcoming invoice said, and gives it back after', async () => {
    // Bought 2026-11-30 12:00: lapses 2026-12-01 11:00, after the renewal at 00:00.
    const r = await renewalAcrossPackDeadline('pack 3ds lapses after renewal', '2026-11-30T12:00:00Z');
    expect(r.upcoming.balance_applied_cents).toBe(0);
    expect({ renewal: r.renewal, pack: r.pack, balance: r.balance }).toEqual({ renewal: r.upcoming, pack: 'void', balance: 244 });
  });

  it('lapses 23 hours after the purchase while the subscription goes on: void, nothing delivered, the subscription untouched', async () => {
    const { clockId, customer } = await maxMonthly('pack 3ds deadline');
    await advanceClock(operator(), clockId, '2026-01-10T12:00:00Z');
    const invoice = await packWaitingFor3ds(customer);
    expect(invoice.amount_due_cents).toBe(800);
    // Bought at 2026-01-10 12:00: open until 2026-01-11 11:00 (23 hours), void from then on.
    await advanceClock(operator(), clockId, '2026-01-11T10:59:00Z');
    expect((await customer.get(`/v1/invoices/${invoice.id}`)).body.status).toBe('open');
    await advanceClock(operator(), clockId, '2026-01-11T11:00:00Z');
    expect((await customer.get(`/v1/invoices/${invoice.id}`)).body.status).toBe('void');
    expect(await payOnHostedPage(invoice.id)).toBe('no form');
    await settled();
    expect({ lots: (await packLots(customer)).length, subscription: (await customer.get('/v1/subscription')).body.status })
      .toEqual({ lots: 0, subscription: 'active' });
  });

  it('lapses as soon as the subscription ends before its 23 hours (operator cancel now)', async () => {
    const { workspaceId, customer } = await maxMonthly('pack 3ds cancel now');
    const invoice = await packWaitingFor3ds(customer);
    expect((await operator().post(`/v1/admin/workspaces/${workspaceId}/subscription/cancel`, { at_period_end: false })).status).toBe(200);
    await eventually(() => customer.get(`/v1/invoices/${invoice.id}`), (r) => r.body.status === 'void');
    expect((await customer.get('/v1/subscription')).body.status).toBe('canceled');
    expect(await payOnHostedPage(invoice.id)).toBe('no form');
    await settled();
    expect((await packLots(customer)).length).toBe(0);
  });

  it('a payment that beat the void but whose webhook came after the end is refunded in full, once, and nothing is delivered', async () => {
    const { workspaceId, customer } = await maxMonthly('pack 3ds paid late');
    const invoice = await packWaitingFor3ds(customer);
    // Hold the webhook path (the endpoint's insert and the forwarder) while the customer pays and the subscription ends.
    let release!: () => void;
    const released = new Promise<void>((resolve) => { release = resolve; });
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => { locked = resolve; });
    const holder = stack.sql.begin(async (tx) => {
      await tx`LOCK TABLE webhook_events IN EXCLUSIVE MODE`;
      locked();
      await released;
    });
    try {
      await isLocked;
      expect(await payOnHostedPage(invoice.id)).toBe(303);
      expect((await operator().post(`/v1/admin/workspaces/${workspaceId}/subscription/cancel`, { at_period_end: false })).status).toBe(200);
      await eventually(() => customer.get('/v1/subscription'), (r) => r.body.status === 'canceled');
      // The end tried to lapse it: the provider answered paid, so it stays open for its webhook.
      expect((await customer.get(`/v1/invoices/${invoice.id}`)).body.status).toBe('open');
    } finally {
      release();
      await holder;
    }
    await settled();
    const notes = async () => [...await stack.sql<{ amount_cents: number; refunded_to_card_cents: number; credited_to_balance_cents: number; status: string; has_refund: boolean }[]>`
      SELECT amount_cents::int, refunded_to_card_cents::int, credited_to_balance_cents::int, status, provider_refund_id IS NOT NULL AS has_refund
      FROM credit_notes WHERE invoice_id = ${invoice.id}`];
    const expected = [{ amount_cents: 800, refunded_to_card_cents: 800, credited_to_balance_cents: 0, status: 'issued', has_refund: true }];
    await eventually(notes, (n) => n.length === 1);
    expect({ invoice: (await customer.get(`/v1/invoices/${invoice.id}`)).body.status, notes: await notes(), lots: (await packLots(customer)).length })
      .toEqual({ invoice: 'paid', notes: expected, lots: 0 });

    // At-least-once: the same payment again (a duplicate event, the reconciler) refunds nothing more and delivers nothing.
    const again = { id: `evt_again_${invoice.id}`, type: 'invoice.paid', created: 0, invoiceId: invoice.id, workspaceId } as never;
    await applyPaymentEvent({ sql: stack.sql, temporal: stack.temporal, payments: stack.payments }, again);
    await applyPaymentEvent({ sql: stack.sql, temporal: stack.temporal, payments: stack.payments }, again);
    await reconcileOpenInvoices({ sql: stack.sql, payments: stack.payments }, { olderThanMs: 0 });
    await settled();
    expect({ notes: await notes(), lots: (await packLots(customer)).length, balance: await balanceOf(workspaceId) })
      .toEqual({ notes: expected, lots: 0, balance: 0 });
  });
});
