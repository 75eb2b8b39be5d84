import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authenticateOnHostedPage } from '../helpers/hosted-page.js';
import { ADMIN_KEY, advanceClock, startStack } from '../helpers/stack.js';
import { eventually } from '../helpers/temporal.js';

/**
 * Breaker (states, issue 15 review, fresh eyes): combinations of lifecycle states the earlier reviewers did not
 * drive, each on its own test clock with the SPEC's amounts computed by hand (SPEC §4 pause with a scheduled
 * downgrade, pending changes lapsing at the period end, 3-D Secure renewals across several boundaries at once,
 * a pause's end declined, a switch's clawback given back, a restart after a downgrade and a cancel).
 */
interface Invoice { id: string; kind: string; status: string; total_cents: number; amount_due_cents: number; created_at: string; lines: { description: string; amount_cents: number }[] }
interface Lot { source: string; granted: number; remaining: number; granted_at: string; expires_at: string | null; frozen: boolean }

const T = (day: string) => (day.includes('T') ? day : `${day}T00:00:00.000Z`);

describe('breaker states: lifecycle combinations with exact amounts', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => stack?.stop());

  async function customerAt(start: string, card = 'pm_card_visa') {
    const operator = stack.api(ADMIN_KEY);
    const clock = (await operator.post('/v1/test-clocks', { frozen_time: T(start) })).body;
    const ws = (await operator.post('/v1/workspaces', { name: 'breaker states', test_clock_id: clock.id })).body;
    const customer = stack.api(ws.api_key);
    const setCard = async (pm: string) => expect((await customer.put('/v1/payment-method', { payment_method: pm })).status).toBe(200);
    await setCard(card);
    /** Webhooks of the sandbox delivered and forwarded. */
    const settled = () => eventually(async () => (await stack.sql<{ n: number }[]>`
      SELECT (SELECT count(*) FROM sandbox_outbox WHERE delivered_at IS NULL)::int
           + (SELECT count(*) FROM webhook_events WHERE forwarded_at IS NULL)::int AS n`)[0]!.n, (n) => n === 0, 30_000);
    return {
      customer, workspaceId: ws.id as string, setCard, settled,
      advance: async (to: string) => { await advanceClock(operator, clock.id, T(to)); await settled(); },
      subscription: async () => (await customer.get('/v1/subscription')).body,
      invoices: async () => ((await customer.get<{ data: Invoice[] }>('/v1/invoices')).body.data).slice().reverse(),
      credits: async () => (await customer.get<{ available: number; lots: Lot[] }>('/v1/credits')).body,
      balance: async () => Number((await stack.sql`SELECT customer_balance_cents FROM workspaces WHERE id = ${ws.id}`)[0]!.customer_balance_cents),
      authenticate: async (invoiceId: string) => authenticateOnHostedPage(`${stack.baseUrl}/sandbox/invoices/${invoiceId}`).then((r) => r.status).catch((e: Error) => e.message),
    };
  }
  /** Invoices oldest first as `created kind status total due` (created to the minute, UTC). */
  const brief = (invoices: Invoice[]) => invoices.map((i) => `${i.created_at.slice(0, 16)} ${i.kind} ${i.status} ${i.total_cents} due ${i.amount_due_cents}`);
  /** Lots as `source remaining/granted granted→expires`. */
  const briefLots = (lots: Lot[]) => lots.map((l) => `${l.source} ${l.remaining}/${l.granted} ${l.granted_at.slice(0, 10)}→${l.expires_at?.slice(0, 10) ?? '∞'}${l.frozen ? ' frozen' : ''}`);
  const NO_FORM = /no 3-D Secure form/;

  it('A: a downgrade scheduled, then a pause at the same period end: paused on Max, the pause end charges 2900', async () => {
    const c = await customerAt('2026-01-01');
    expect((await c.customer.post('/v1/subscription', { plan: 'generative', interval: 'month' })).status).toBe(201);
    await c.advance('2026-01-10');
    expect((await c.customer.post('/v1/subscription/change', { plan: 'max' })).status).toBe(200);
    await c.advance('2026-01-15');
    expect((await c.customer.post('/v1/subscription/pause', { cycles: 1 })).status).toBe(200);
    const upcoming = (await c.customer.get('/v1/invoices/upcoming')).body;
    expect(upcoming).toMatchObject({ reason: 'pause_end', plan: 'max', period_start: T('2026-03-02'), total_cents: 2900, amount_due_cents: 2900 });
    await c.advance('2026-02-01');
    expect(await c.subscription()).toMatchObject({
      status: 'paused', plan: 'max', scheduled_change: null, next_due_at: T('2026-03-02'),
      pause: { cycles: 1, starts_at: T('2026-01-31'), resumes_at: T('2026-03-02') },
    });
    expect((await c.customer.get('/v1/invoices/upcoming')).body).toMatchObject({ reason: 'pause_end', plan: 'max', total_cents: 2900 });
    await c.advance('2026-03-03');
    expect(await c.subscription()).toMatchObject({ status: 'active', plan: 'max', current_period_start: T('2026-03-02'), current_period_end: T('2026-04-01') });
    expect(brief(await c.invoices())).toEqual(['2026-01-01T00:00 subscription paid 5900 due 5900', '2026-03-02T00:00 subscription paid 2900 due 2900']);
    expect(briefLots((await c.credits()).lots)).toEqual(['monthly 400/400 2026-03-02→2026-05-01']);
  });

  it('B: a 3-D Secure upgrade requested 12 hours before the period end lapses there; the renewal is Plus; its hosted page is closed', async () => {
    const c = await customerAt('2026-01-01');
    expect((await c.customer.post('/v1/subscription', { plan: 'plus', interval: 'month' })).status).toBe(201);
    await c.setCard('pm_card_authenticationRequired');
    await c.advance('2026-01-30T12:00:00.000Z');
    const change = await c.customer.post('/v1/subscription/change', { plan: 'max' });
    // 12 hours of 30 days: −round(1200/60) + round(2900/60).
    expect({ status: change.status, pending: change.body.pending, lines: change.body.latest_invoice.lines.map((l: { amount_cents: number }) => l.amount_cents) })
      .toEqual({ status: 200, pending: true, lines: [-20, 48] });
    expect((await c.subscription()).pending_upgrade).toMatchObject({ plan: 'max', expires_at: T('2026-01-31') });
    await c.setCard('pm_card_visa');
    await c.advance('2026-02-01');
    expect(await c.authenticate(change.body.invoice_id)).toMatch(NO_FORM);
    await c.settled();
    expect(await c.subscription()).toMatchObject({ status: 'active', plan: 'plus', pending_upgrade: null, current_period_start: T('2026-01-31') });
    expect(brief(await c.invoices())).toEqual([
      '2026-01-01T00:00 subscription paid 1200 due 1200', '2026-01-30T12:00 upgrade void 28 due 28', '2026-01-31T00:00 subscription paid 1200 due 1200',
    ]);
    expect(briefLots((await c.credits()).lots)).toEqual(['monthly 150/150 2026-01-01→2026-03-02', 'monthly 150/150 2026-01-31→2026-04-01']);
  });

  it('C: Max yearly, a 3-D Secure upgrade on 01-31 12:00 lapses at the month end (02-01); the refresh of 02-01 is Max', async () => {
    const c = await customerAt('2026-01-01');
    expect((await c.customer.post('/v1/subscription', { plan: 'max', interval: 'year' })).status).toBe(201);
    await c.setCard('pm_card_authenticationRequired');
    await c.advance('2026-01-31T12:00:00.000Z');
    const change = await c.customer.post('/v1/subscription/change', { plan: 'generative' });
    // 334.5 of 365 days: −round(20880 × 334.5/365) + round(42480 × 334.5/365).
    expect(change.body.latest_invoice.lines.map((l: { amount_cents: number }) => l.amount_cents)).toEqual([-19135, 38930]);
    expect((await c.subscription()).pending_upgrade).toMatchObject({ plan: 'generative', expires_at: T('2026-02-01') });
    await c.setCard('pm_card_visa');
    await c.advance('2026-02-02');
    expect(await c.authenticate(change.body.invoice_id)).toMatch(NO_FORM);
    await c.settled();
    expect(await c.subscription()).toMatchObject({ status: 'active', plan: 'max', interval: 'year', pending_upgrade: null });
    expect(brief(await c.invoices())).toEqual(['2026-01-01T00:00 subscription paid 20880 due 20880', '2026-01-31T12:00 upgrade void 19795 due 19795']);
    expect(briefLots((await c.credits()).lots)).toEqual(['monthly 400/400 2026-01-01→2026-03-03', 'monthly 400/400 2026-02-01→2026-03-31']);
  });

  it('D: a 3-D Secure card at the renewal, the clock moved 3.5 months at once: canceled after the last retry, its invoice void, nothing granted', async () => {
    const c = await customerAt('2026-01-01');
    expect((await c.customer.post('/v1/subscription', { plan: 'max', interval: 'month' })).status).toBe(201);
    await c.setCard('pm_card_authenticationRequired');
    await c.advance('2026-04-15');
    expect(await c.subscription()).toMatchObject({ status: 'canceled', plan: 'max', next_due_at: null });
    const invoices = await c.invoices();
    expect(brief(invoices)).toEqual(['2026-01-01T00:00 subscription paid 2900 due 2900', '2026-01-31T00:00 subscription void 2900 due 2900']);
    expect((await c.credits()).lots).toEqual([]);
    expect(await c.authenticate(invoices[1]!.id)).toMatch(NO_FORM);
    await c.settled();
    expect((await c.subscription()).status).toBe('canceled');
    expect((await c.credits()).lots).toEqual([]);
  });

  it('E: a downgrade scheduled, then a cancel: canceled at 01-31 on Max; the restart on 02-10 charges 2900', async () => {
    const c = await customerAt('2026-01-01');
    expect((await c.customer.post('/v1/subscription', { plan: 'generative', interval: 'month' })).status).toBe(201);
    await c.advance('2026-01-05');
    expect((await c.customer.post('/v1/subscription/change', { plan: 'max' })).status).toBe(200);
    await c.advance('2026-01-06');
    expect((await c.customer.post('/v1/subscription/cancel')).status).toBe(200);
    await c.advance('2026-02-10');
    expect(await c.subscription()).toMatchObject({ status: 'canceled', plan: 'max', scheduled_change: null });
    const restart = await c.customer.post('/v1/subscription/resume');
    expect(restart.body).toMatchObject({ status: 'active', plan: 'max', current_period_start: T('2026-02-10'), current_period_end: T('2026-03-12') });
    expect(brief(await c.invoices())).toEqual(['2026-01-01T00:00 subscription paid 5900 due 5900', '2026-02-10T00:00 subscription paid 2900 due 2900']);
    expect(briefLots((await c.credits()).lots)).toEqual(['monthly 400/400 2026-02-10→2026-04-11']);
  });

  it('F: a pause ends on a declined card: past due on the new cycle; a new card pays it, the lot expiring 05-01', async () => {
    const c = await customerAt('2026-01-01');
    expect((await c.customer.post('/v1/subscription', { plan: 'max', interval: 'month' })).status).toBe(201);
    await c.advance('2026-01-10');
    expect((await c.customer.post('/v1/subscription/pause', { cycles: 1 })).status).toBe(200);
    await c.setCard('pm_card_chargeDeclined');
    await c.advance('2026-03-03');
    expect(await c.subscription()).toMatchObject({
      status: 'past_due', plan: 'max', current_period_start: T('2026-03-02'), current_period_end: T('2026-04-01'), next_due_at: T('2026-03-05'),
    });
    expect((await c.customer.get('/v1/invoices/upcoming')).body).toMatchObject({ reason: 'dunning_retry', total_cents: 2900, next_attempt_at: T('2026-03-05') });
    await c.setCard('pm_card_visa');
    await eventually(() => c.subscription(), (s) => s.status === 'active', 20_000);
    expect(brief(await c.invoices())).toEqual(['2026-01-01T00:00 subscription paid 2900 due 2900', '2026-03-02T00:00 subscription paid 2900 due 2900']);
    expect(briefLots((await c.credits()).lots)).toEqual(['monthly 400/400 2026-03-03→2026-05-01']);
  });

  it('G: Team monthly → Max yearly on 01-21 with 3-D Secure: 1600 clawed back at the request, given back when it lapses', async () => {
    const c = await customerAt('2026-01-01');
    expect((await c.customer.post('/v1/subscription', { plan: 'team', interval: 'month' })).status).toBe(201);
    await c.setCard('pm_card_authenticationRequired');
    await c.advance('2026-01-21');
    const change = await c.customer.post('/v1/subscription/change', { plan: 'max', interval: 'year' });
    // −round(29900 × 10/30) + 20880; deduction floor(6000 × 10/30) = 2000, of which Max's 400 → clawback 1600.
    expect({ pending: change.body.pending, total: change.body.latest_invoice.total_cents }).toEqual({ pending: true, total: 10913 });
    expect((await c.credits()).available).toBe(4400);
    await c.setCard('pm_card_visa');
    await c.advance('2026-01-22');
    const credits = await c.credits();
    expect({ available: credits.available, lots: briefLots(credits.lots) })
      .toEqual({ available: 6000, lots: ['monthly 4400/6000 2026-01-01→2026-03-02', 'monthly 1600/1600 2026-01-21→2026-03-02'] });
    expect(brief(await c.invoices())).toEqual(['2026-01-01T00:00 subscription paid 29900 due 29900', '2026-01-21T00:00 interval_switch void 10913 due 10913']);
    expect(await c.subscription()).toMatchObject({ status: 'active', plan: 'team', interval: 'month', pending_upgrade: null });
    expect(await c.balance()).toBe(0);
  });

  it('H: Max yearly paused at its renewal, resumed early after many boundaries at once: one new year charged, no refresh while paused', async () => {
    const c = await customerAt('2026-01-01');
    expect((await c.customer.post('/v1/subscription', { plan: 'max', interval: 'year' })).status).toBe(201);
    await c.advance('2026-03-15');
    expect((await c.customer.post('/v1/subscription/pause', { cycles: 1 })).status).toBe(200);
    expect((await c.customer.get('/v1/invoices/upcoming')).body).toMatchObject({ reason: 'pause_end', period_start: T('2028-01-01'), total_cents: 20880 });
    await c.advance('2027-03-10');
    expect(await c.subscription()).toMatchObject({ status: 'paused', pause: { starts_at: T('2027-01-01'), resumes_at: T('2028-01-01') } });
    // Twelve refreshes in 2026 (01-01 … 12-01), none while paused.
    const [grants] = await stack.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM lots WHERE workspace_id = ${c.workspaceId} AND source = 'monthly'`;
    expect(grants!.n).toBe(12);
    const resumed = await c.customer.post('/v1/subscription/resume');
    expect(resumed.body).toMatchObject({ status: 'active', current_period_start: T('2027-03-10'), current_period_end: T('2028-03-10') });
    expect(brief(await c.invoices())).toEqual(['2026-01-01T00:00 subscription paid 20880 due 20880', '2027-03-10T00:00 subscription paid 20880 due 20880']);
    expect(briefLots((await c.credits()).lots)).toEqual(['monthly 400/400 2027-03-10→2027-05-10']);
  });

  it('I: a 3-D Secure upgrade pending, a cancel at the period end, then the upgrade paid: Max until 01-31, then canceled', async () => {
    const c = await customerAt('2026-01-01');
    expect((await c.customer.post('/v1/subscription', { plan: 'plus', interval: 'month' })).status).toBe(201);
    await c.setCard('pm_card_authenticationRequired');
    await c.advance('2026-01-11');
    const change = await c.customer.post('/v1/subscription/change', { plan: 'max' });
    expect(change.body.latest_invoice.total_cents).toBe(1133);
    expect((await c.customer.post('/v1/subscription/cancel')).body.cancel_at_period_end).toBe(true);
    expect(await c.authenticate(change.body.invoice_id)).toBe(303);
    await eventually(() => c.subscription(), (s) => s.plan === 'max', 20_000);
    expect(await c.subscription()).toMatchObject({ status: 'active', plan: 'max', cancel_at_period_end: true, next_due_at: null });
    await c.setCard('pm_card_visa');
    await c.advance('2026-02-05');
    expect(await c.subscription()).toMatchObject({ status: 'canceled', plan: 'max' });
    expect(brief(await c.invoices())).toEqual(['2026-01-01T00:00 subscription paid 1200 due 1200', '2026-01-11T00:00 upgrade paid 1133 due 1133']);
    expect((await c.credits()).lots).toEqual([]);
  });

  it('L: while past due every change and its preview are refused alike; paid by a new card, an upgrade is prorated on the period paid', async () => {
    const c = await customerAt('2026-01-01');
    expect((await c.customer.post('/v1/subscription', { plan: 'max', interval: 'month' })).status).toBe(201);
    await c.setCard('pm_card_chargeDeclined');
    await c.advance('2026-02-02');
    for (const body of [{ plan: 'generative' }, { plan: 'plus' }, { interval: 'year' }]) {
      const made = await c.customer.post('/v1/subscription/change', body);
      const preview = await c.customer.post('/v1/subscription/change/preview', body);
      expect([made.status, made.body.code, preview.status, preview.body.code]).toEqual([409, 'subscription_not_active', 409, 'subscription_not_active']);
    }
    await c.setCard('pm_card_visa');
    await eventually(() => c.subscription(), (s) => s.status === 'active', 20_000);
    await c.advance('2026-02-05');
    const preview = await c.customer.post('/v1/subscription/change/preview', { plan: 'generative' });
    const made = await c.customer.post('/v1/subscription/change', { plan: 'generative', expected_amount_due_cents: preview.body.invoice.amount_due_cents });
    // Period 01-31 … 03-02, 25 of 30 days left: −round(2900 × 5/6) + round(5900 × 5/6); floor(500 × 5/6) credits.
    expect({ lines: made.body.latest_invoice.lines, credits: made.body.credits_granted })
      .toEqual({ lines: preview.body.invoice.lines, credits: preview.body.credits_granted });
    expect(made.body.latest_invoice.lines.map((l: { amount_cents: number }) => l.amount_cents)).toEqual([-2417, 4917]);
    expect(made.body.credits_granted).toBe(416);
    expect(briefLots((await c.credits()).lots)).toEqual([
      'monthly 400/400 2026-01-01→2026-03-02', 'monthly 400/400 2026-02-02→2026-04-01', 'upgrade 416/416 2026-02-05→2026-04-01',
    ]);
  });
});
