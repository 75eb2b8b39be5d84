import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAutoTopUps } from '../../worker/auto-top-up.js';
import { ADMIN_KEY, advanceClock, apiClient, startStack } from '../helpers/stack.js';
import { eventually } from '../helpers/temporal.js';

/**
 * Automatic top-ups (SPEC §11, issue 13) over HTTP on the whole stack, with the worker's top-up loop: the
 * spend path records a crossing in the capture's or refusal's transaction, the loop buys the pack through
 * the pack service. Amounts are Max's pack prices (100 credits: 800 cents).
 */
describe('automatic top-ups', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  let stopTopUps: () => Promise<void>;
  const operator = () => stack.api(ADMIN_KEY);
  beforeAll(async () => {
    // 50 concurrent captures of one workspace: above the API's default per-workspace spend rate.
    stack = await startStack({ spendRateLimit: { perSecond: 10_000, burst: 10_000 } });
    stopTopUps = startAutoTopUps({ sql: stack.sql, payments: stack.payments }, 100);
  });
  afterAll(async () => {
    await stopTopUps?.();
    await stack?.stop();
  });

  async function maxWorkspace(name: string) {
    const clockId = (await operator().post('/v1/test-clocks', { frozen_time: '2026-01-01T00:00:00Z' })).body.id as string;
    const ws = await operator().post('/v1/workspaces', { name, test_clock_id: clockId });
    const customer = apiClient(stack.baseUrl, ws.body.api_key);
    expect((await customer.put('/v1/payment-method', { payment_method: 'pm_card_visa' })).status).toBe(200);
    expect((await customer.post('/v1/subscription', { plan: 'max', interval: 'month' })).body.status).toBe('active');
    return { customer, clockId, workspaceId: ws.body.id as string };
  }
  type Customer = Awaited<ReturnType<typeof maxWorkspace>>['customer'];

  /** A creation of `credits` (2-credit images) held and captured. */
  async function spend(customer: Customer, images: number) {
    const quote = await customer.post('/v1/credits/estimate', { model: 'imagen-3', count: images, resolution: 'standard' });
    const hold = await customer.post('/v1/creations', { quote_id: quote.body.quote_id });
    expect(hold.status).toBe(201);
    expect((await customer.post(`/v1/creations/${hold.body.id}/complete`, { credits: images * 2 })).status).toBe(200);
  }
  /** A hold for more than there is (a 600 s veo-2 video: 1200 credits): refused with 402. */
  async function refusedHold(customer: Customer) {
    const quote = await customer.post('/v1/credits/estimate', { model: 'veo-2', duration_s: 600 });
    return customer.post('/v1/creations', { quote_id: quote.body.quote_id });
  }
  const settled = (customer: Customer) =>
    eventually(() => customer.get('/v1/auto-top-up'), (r) => r.body.pending_top_up === null && r.body.top_ups.length > 0);
  const packInvoices = async (customer: Customer) =>
    (await customer.get('/v1/invoices')).body.data.filter((i: { kind: string }) => i.kind === 'pack');

  it('a burst of 50 concurrent captures that cross the threshold buys exactly one pack', async () => {
    const { customer, workspaceId } = await maxWorkspace('burst');
    expect((await customer.put('/v1/auto-top-up', { enabled: true, threshold: 350, pack: 100, monthly_limit_cents: 10_000 })).status).toBe(200);
    // 50 holds of 2 credits: 400 → 300 available, below the threshold; no check runs on a hold that succeeds.
    const quotes = await Promise.all(Array.from({ length: 50 }, () =>
      customer.post('/v1/credits/estimate', { model: 'imagen-3', count: 1, resolution: 'standard' })));
    const holds = await Promise.all(quotes.map((q) => customer.post('/v1/creations', { quote_id: q.body.quote_id })));
    expect(holds.map((h) => h.status)).toEqual(Array(50).fill(201));
    const captures = await Promise.all(holds.map((h) => customer.post(`/v1/creations/${h.body.id}/complete`, { credits: 2 })));
    expect(captures.map((c) => c.status)).toEqual(Array(50).fill(200));

    const state = await settled(customer);
    expect(state.body.top_ups).toEqual([expect.objectContaining({ status: 'paid', cause: 'capture', pack: 100, amount_cents: 800 })]);
    expect((await packInvoices(customer)).map((i: { status: string; total_cents: number }) => [i.status, i.total_cents])).toEqual([['paid', 800]]);
    expect((await customer.get('/v1/credits')).body.available).toBe(400);
    expect((await stack.sql`SELECT count(*)::int AS n FROM auto_top_ups WHERE workspace_id = ${workspaceId}`)[0]!.n).toBe(1);
  });

  it('a 402 while a top-up is under way says top_up_pending; the pack then arrives and the refused creation can start', async () => {
    const { customer } = await maxWorkspace('pending 402');
    await customer.put('/v1/auto-top-up', { enabled: true, threshold: 10, pack: 500, monthly_limit_cents: 10_000 });
    const quote = await customer.post('/v1/credits/estimate', { model: 'veo-2', duration_s: 400 }); // 800 credits, 400 available
    const refused = await customer.post('/v1/creations', { quote_id: quote.body.quote_id });
    expect(refused.status).toBe(402);
    expect(refused.body).toMatchObject({ code: 'insufficient_credits', required: 800, available: 400, top_up_pending: true });

    const state = await settled(customer);
    expect(state.body.top_ups).toEqual([expect.objectContaining({ status: 'paid', cause: 'refusal', pack: 500, amount_cents: 3280 })]);
    expect((await customer.get('/v1/credits')).body.available).toBe(900);
    expect((await customer.post('/v1/creations', { quote_id: quote.body.quote_id })).status).toBe(201);
    // Nothing in flight: a 402 now says nothing of a top-up.
    await customer.put('/v1/auto-top-up', { enabled: false, threshold: 10, pack: 500, monthly_limit_cents: 10_000 });
    const again = await refusedHold(customer);
    expect(again.status).toBe(402);
    expect(again.body.top_up_pending).toBeUndefined();
  });

  it('a declined card twice disables automatic top-ups, notifying each failure and the disable', async () => {
    const { customer } = await maxWorkspace('declined');
    await customer.put('/v1/auto-top-up', { enabled: true, threshold: 10, pack: 100, monthly_limit_cents: 10_000 });
    await customer.put('/v1/payment-method', { payment_method: 'pm_card_chargeDeclined' });
    expect((await refusedHold(customer)).body.top_up_pending).toBe(true);
    expect((await settled(customer)).body).toMatchObject({ enabled: true, failures_in_row: 1, armed: false });
    // Not retried within that crossing: another refusal without the balance at the threshold since records nothing.
    expect((await refusedHold(customer)).body.top_up_pending).toBeUndefined();

    await spend(customer, 1); // the hold leaves 398 ≥ 10: armed again, a new crossing may buy
    expect((await customer.get('/v1/auto-top-up')).body.armed).toBe(true);
    expect((await refusedHold(customer)).body.top_up_pending).toBe(true);
    await eventually(() => customer.get('/v1/auto-top-up'), (r) => r.body.pending_top_up === null && r.body.top_ups.length === 2);
    const state = (await customer.get('/v1/auto-top-up')).body;
    expect(state).toMatchObject({ enabled: false, failures_in_row: 2, disabled_reason: 'payment_failed_twice' });
    expect(state.top_ups.map((t: { status: string; failure_code: string }) => [t.status, t.failure_code])).toEqual([
      ['failed', 'card_declined'], ['failed', 'card_declined'],
    ]);
    expect((await packInvoices(customer)).map((i: { status: string }) => i.status)).toEqual(['void', 'void']);
    const kinds = (await customer.get('/v1/notifications?limit=50')).body.data.map((n: { kind: string }) => n.kind);
    expect(kinds.filter((k: string) => ['top_up_failed', 'auto_top_up_disabled'].includes(k)).sort())
      .toEqual(['auto_top_up_disabled', 'top_up_failed', 'top_up_failed']);
    // Disabled: a crossing buys nothing.
    await spend(customer, 1);
    expect((await refusedHold(customer)).body.top_up_pending).toBeUndefined();
    expect((await customer.get('/v1/auto-top-up')).body.top_ups).toHaveLength(2);
  });

  it('the monthly cap holds across a month of crossings on a test clock; the next month buys again', async () => {
    const { customer, clockId } = await maxWorkspace('cap');
    await customer.put('/v1/auto-top-up', { enabled: true, threshold: 10, pack: 100, monthly_limit_cents: 2400 }); // three packs
    const days = ['2026-01-03', '2026-01-06', '2026-01-09', '2026-01-12', '2026-01-15', '2026-01-20', '2026-01-25', '2026-01-30'];
    for (const day of days) {
      await advanceClock(operator(), clockId, `${day}T00:00:00Z`);
      await spend(customer, 1); // the balance at the threshold again: each day is a new crossing
      expect((await refusedHold(customer)).body.top_up_pending).toBe(true);
      await eventually(() => customer.get('/v1/auto-top-up'), (r) => r.body.pending_top_up === null);
    }
    const january = (await customer.get('/v1/auto-top-up')).body;
    expect(january.this_month).toEqual({ month: '2026-01', spent_cents: 2400, count: 3 });
    expect([...january.top_ups].reverse().map((t: { status: string }) => t.status)).toEqual(
      ['paid', 'paid', 'paid', 'skipped', 'skipped', 'skipped', 'skipped', 'skipped'],
    );
    expect((await packInvoices(customer)).filter((i: { status: string }) => i.status === 'paid')).toHaveLength(3);
    const skippedNotes = (await customer.get('/v1/notifications?limit=100')).body.data
      .filter((n: { kind: string }) => n.kind === 'top_up_skipped');
    expect(skippedNotes).toHaveLength(1);

    await advanceClock(operator(), clockId, '2026-02-02T00:00:00Z');
    await spend(customer, 1);
    expect((await refusedHold(customer)).body.top_up_pending).toBe(true);
    const february = await eventually(() => customer.get('/v1/auto-top-up'), (r) => r.body.pending_top_up === null);
    expect(february.body.top_ups[0]).toMatchObject({ status: 'paid', amount_cents: 800 });
    expect(february.body.this_month).toEqual({ month: '2026-02', spent_cents: 800, count: 1 });
  });

  it('no top-up while the subscription is set to cancel at the period end (skipped, nothing charged)', async () => {
    const { customer } = await maxWorkspace('canceling');
    await customer.put('/v1/auto-top-up', { enabled: true, threshold: 10, pack: 100, monthly_limit_cents: 10_000 });
    expect((await customer.post('/v1/subscription/cancel')).body.cancel_at_period_end).toBe(true);
    expect((await refusedHold(customer)).body.top_up_pending).toBe(true);
    const state = await settled(customer);
    expect(state.body.top_ups).toEqual([expect.objectContaining({ status: 'skipped', failure_code: 'cancel_at_period_end', invoice_id: null })]);
    expect(await packInvoices(customer)).toEqual([]);
  });

  it('a spending_limit_reached refusal never triggers a top-up', async () => {
    const { customer, workspaceId } = await maxWorkspace('key budget');
    await customer.put('/v1/auto-top-up', { enabled: true, threshold: 10, pack: 100, monthly_limit_cents: 10_000 });
    const made = await customer.post('/v1/api-keys', { name: 'Ana', daily_credit_limit: 10 });
    const limited = apiClient(stack.baseUrl, made.body.api_key);
    const quote = await limited.post('/v1/credits/estimate', { model: 'veo-2', duration_s: 10 }); // 20 credits > the key's 10
    const refused = await limited.post('/v1/creations', { quote_id: quote.body.quote_id });
    expect(refused.status).toBe(402);
    expect(refused.body.code).toBe('spending_limit_reached');
    expect(refused.body.top_up_pending).toBeUndefined();
    expect((await stack.sql`SELECT count(*)::int AS n FROM auto_top_ups WHERE workspace_id = ${workspaceId}`)[0]!.n).toBe(0);
  });

  it('a card that needs 3-D Secure fails the top-up and voids its invoice', async () => {
    const { customer } = await maxWorkspace('3ds');
    await customer.put('/v1/auto-top-up', { enabled: true, threshold: 10, pack: 100, monthly_limit_cents: 10_000 });
    await customer.put('/v1/payment-method', { payment_method: 'pm_card_authenticationRequired' });
    await refusedHold(customer);
    const state = await settled(customer);
    expect(state.body.top_ups).toEqual([expect.objectContaining({ status: 'failed', failure_code: 'authentication_required' })]);
    expect((await packInvoices(customer)).map((i: { status: string }) => i.status)).toEqual(['void']);
    expect((await customer.get('/v1/credits')).body.available).toBe(400);
  });
});
