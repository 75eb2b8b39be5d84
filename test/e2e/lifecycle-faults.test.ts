import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PlanId } from '../../workflows/search-attributes.js';
import { ADMIN_KEY, advanceClock, type ApiResponse, startStack } from '../helpers/stack.js';
import { eventually } from '../helpers/temporal.js';

interface Lot { id: string; source: string; granted: number; remaining: number; held: number; granted_at: string; expires_at: string | null; frozen: boolean }
interface Invoice {
  id: string; kind: string; status: string; lines: { description: string; amount_cents: number }[];
  total_cents: number; amount_due_cents: number; hosted_url: string | null; created_at: string;
}
interface Subscription {
  id: string; status: string; plan: string; interval: string; current_period_start: string; current_period_end: string;
  cancel_at_period_end: boolean; next_due_at: string | null;
  scheduled_change: { plan: string; effective_at: string } | null;
  pause: { cycles: number; starts_at: string | null; resumes_at: string | null } | null;
  pending_upgrade: { plan: string; interval: string; invoice_id: string; expires_at: string } | null;
  incomplete_payment?: { outcome: string; decline_code: string | null; invoice_id: string; hosted_url: string | null; expires_at: string } | null;
}

/** Midnight UTC of `day` (YYYY-MM-DD), as the API writes instants. */
const T = (day: string) => `${day}T00:00:00.000Z`;
const MINUTE_MS = 60_000;
const DAY_MS = 24 * 60 * MINUTE_MS;

/** floor(credits × remaining / total), the SPEC's credit-aware proration, in exact integer arithmetic. */
const floorShare = (credits: number, remainingMs: number, totalMs: number) => Number((BigInt(credits) * BigInt(remainingMs)) / BigInt(totalMs));

/**
 * Regression tests, end to end over HTTP, for lifecycle faults a tester found (SPEC §1, §2, §4, §8). Each
 * test has its own test clock and asserts the SPEC's expected amounts, dates and statuses.
 */
describe('lifecycle faults found by testing, over HTTP', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => stack?.stop());

  /** A workspace on a fresh test clock at `start`, with `paymentMethod` as its card. */
  async function customerAt(start: string, name: string, paymentMethod = 'pm_card_visa') {
    const operator = stack.api(ADMIN_KEY);
    const clock = await operator.post('/v1/test-clocks', { frozen_time: start });
    expect(clock.status).toBe(201);
    const ws = await operator.post('/v1/workspaces', { name, test_clock_id: clock.body.id });
    expect(ws.status).toBe(201);
    const customer = stack.api(ws.body.api_key);
    const setCard = async (pm: string) => expect((await customer.put('/v1/payment-method', { payment_method: pm })).status).toBe(200);
    await setCard(paymentMethod);
    return {
      customer,
      clockId: clock.body.id as string,
      workspaceId: ws.body.id as string,
      setCard,
      advance: (to: string) => advanceClock(operator, clock.body.id, to),
      subscribe: (plan: string, interval: 'month' | 'year') => customer.post<Subscription>('/v1/subscription', { plan, interval }),
      subscription: async () => (await customer.get<Subscription>('/v1/subscription')).body,
      invoices: async () => (await customer.get<{ data: Invoice[] }>('/v1/invoices')).body.data,
      credits: async () => (await customer.get<{ available: number; lots: Lot[] }>('/v1/credits')).body,
    };
  }

  /** A customer on a fresh clock at `start`, paying with pm_card_visa, subscribed and active. */
  async function subscribedAt(start: string, plan: string, interval: 'month' | 'year', name = `${plan} ${interval}ly`) {
    const c = await customerAt(start, name);
    const sub = await c.subscribe(plan, interval);
    expect(sub.status).toBe(201);
    expect(sub.body).toMatchObject({ status: 'active', plan, interval, current_period_start: new Date(start).toISOString() });
    return { ...c, subscriptionId: sub.body.id };
  }

  function expectProblem(response: ApiResponse, status: number, code: string) {
    expect({ status: response.status, code: response.body?.code }).toEqual({ status, code });
    expect(response.contentType).toContain('application/problem+json');
  }

  /** Nothing shown as upcoming lies in the past: the period contains `now`, and every "next"/"effective" instant is after it. */
  function expectNothingUpcomingInPast(view: Subscription, now: string) {
    const at = Date.parse(now);
    const past = (iso: string | null | undefined) => iso != null && Date.parse(iso) <= at;
    expect({ start: Date.parse(view.current_period_start) <= at, end: Date.parse(view.current_period_end) > at }).toEqual({ start: true, end: true });
    expect({ next_due_at: past(view.next_due_at) }).toEqual({ next_due_at: false });
    expect({ scheduled_change: past(view.scheduled_change?.effective_at) }).toEqual({ scheduled_change: false });
    expect({ pause_resumes_at: past(view.pause?.resumes_at) }).toEqual({ pause_resumes_at: false });
    expect({ pending_upgrade: past(view.pending_upgrade?.expires_at) }).toEqual({ pending_upgrade: false });
  }

  /** Every sandbox event has been posted to the webhook endpoint and forwarded to its workflow (or applied). */
  async function webhooksSettled() {
    await eventually(async () => {
      const [outbox] = await stack.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM sandbox_outbox WHERE delivered_at IS NULL`;
      const [inbox] = await stack.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM webhook_events WHERE forwarded_at IS NULL`;
      return outbox!.n + inbox!.n;
    }, (pending) => pending === 0);
  }

  /**
   * Fault 1: a downgrade scheduled for the period end where a pause starts. It must take effect where the
   * pause starts (SPEC §4 Downgrade), so the pause's end charges the new plan (Max 2900), not Generative 5900.
   */
  it('fault 1: downgrade + pause at the same period end — Max from 02-04, paused without a charge, 03-06 charges 2900 and grants 400', async () => {
    const c = await subscribedAt('2043-01-05T00:00:00Z', 'generative', 'month');
    expect(await c.subscription()).toMatchObject({ current_period_end: T('2043-02-04') });

    await c.advance('2043-01-10T00:00:00Z');
    const change = await c.customer.post('/v1/subscription/change', { plan: 'max' });
    expect(change.status).toBe(200);
    expect(change.body).toEqual({ kind: 'downgrade', effective_at: T('2043-02-04'), invoice_id: null, latest_invoice: null });

    await c.advance('2043-01-11T00:00:00Z');
    const pause = await c.customer.post('/v1/subscription/pause', { cycles: 1 });
    expect(pause.status).toBe(200);
    expect(await c.subscription()).toMatchObject({
      status: 'active', plan: 'generative', scheduled_change: { plan: 'max', effective_at: T('2043-02-04') },
      pause: { cycles: 1, starts_at: T('2043-02-04'), resumes_at: null }, next_due_at: T('2043-03-06'),
    });

    // 02-04: the downgrade takes effect where the pause starts; nothing is charged.
    await c.advance('2043-02-04T00:00:00Z');
    const paused = await c.subscription();
    expect(paused).toMatchObject({
      status: 'paused', plan: 'max', interval: 'month', scheduled_change: null,
      current_period_start: T('2043-02-04'), current_period_end: T('2043-03-06'),
      pause: { cycles: 1, starts_at: T('2043-02-04'), resumes_at: T('2043-03-06') }, next_due_at: T('2043-03-06'),
    });
    expectNothingUpcomingInPast(paused, T('2043-02-04'));
    expect((await c.invoices()).map((i) => [i.kind, i.status, i.total_cents, i.created_at])).toEqual([
      ['subscription', 'paid', 5900, T('2043-01-05')],
    ]);

    // 03-06: the pause ends; the new plan (Max) is charged and its lot granted, on a new anchor.
    await c.advance('2043-03-06T00:00:00Z');
    expect(await c.subscription()).toMatchObject({
      status: 'active', plan: 'max', interval: 'month', scheduled_change: null, pause: null,
      current_period_start: T('2043-03-06'), current_period_end: T('2043-04-05'), next_due_at: T('2043-04-05'),
    });
    const invoices = await c.invoices();
    expect(invoices.map((i) => [i.kind, i.status, i.total_cents, i.amount_due_cents, i.created_at])).toEqual([
      ['subscription', 'paid', 2900, 2900, T('2043-03-06')],
      ['subscription', 'paid', 5900, 5900, T('2043-01-05')],
    ]);
    expect(invoices[0]!.lines).toEqual([{ description: 'Max (monthly), 2043-03-06 to 2043-04-05', amount_cents: 2900 }]);
    const credits = await c.credits();
    // Generative's 900 lot expired at 03-06 (01-05's next refresh 02-04 + 30 days); Max's 400 lot expires 04-05 + 30 days.
    expect(credits.lots.map((l) => [l.source, l.granted, l.remaining, l.granted_at, l.expires_at])).toEqual([
      ['monthly', 400, 400, T('2043-03-06'), T('2043-05-05')],
    ]);
    expect(credits.available).toBe(400);
  });

  /**
   * Fault 2: entitlements follow the live plan (SPEC §4). Generative with 4 active custom models,
   * canceled, then a new Plus subscription: only the most recently used model stays active.
   */
  it('fault 2: re-subscribing to Plus after a canceled Generative keeps exactly the most recently used model active', async () => {
    const c = await subscribedAt('2043-05-01T00:00:00Z', 'generative', 'month');
    const models: Record<string, string> = {};
    for (const [i, name] of ['Alpha', 'Bravo', 'Charlie', 'Delta'].entries()) {
      await c.advance(`2043-05-0${i + 1}T12:00:00Z`);
      const created = await c.customer.post('/v1/custom-models', { name });
      expect(created.status).toBe(201);
      models[name] = created.body.id;
    }
    // Bravo is used last (activation records the workspace's time as its last use), though Delta is newest.
    await c.advance('2043-05-06T12:00:00Z');
    expect((await c.customer.delete(`/v1/custom-models/${models.Bravo}`)).status).toBe(200);
    const used = await c.customer.post(`/v1/custom-models/${models.Bravo}/activate`);
    expect(used.body).toMatchObject({ active: true, last_used_at: '2043-05-06T12:00:00.000Z' });
    const before = (await c.customer.get('/v1/custom-models')).body;
    expect(before.limit).toBe(10);
    expect(before.data.filter((m: { active: boolean }) => m.active)).toHaveLength(4);

    const cancel = await c.customer.post('/v1/subscription/cancel');
    expect(cancel.status).toBe(200);
    expect(cancel.body).toMatchObject({ cancel_at_period_end: true, current_period_end: T('2043-05-31') });
    await c.advance('2043-05-31T00:00:00Z');
    expect(await c.subscription()).toMatchObject({ status: 'canceled' });

    await c.advance('2043-06-10T00:00:00Z');
    const again = await c.subscribe('plus', 'month');
    expect(again.status).toBe(201);
    expect(again.body).toMatchObject({ status: 'active', plan: 'plus', current_period_start: T('2043-06-10'), current_period_end: T('2043-07-10') });
    expect(again.body.id).not.toBe(c.subscriptionId);

    const after = (await c.customer.get('/v1/custom-models')).body;
    expect(after.limit).toBe(1);
    const active = after.data.filter((m: { active: boolean }) => m.active).map((m: { name: string }) => m.name);
    expect(active).toEqual(['Bravo']);
    const [count] = await stack.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM custom_models WHERE workspace_id = ${c.workspaceId} AND active`;
    expect(count!.n).toBe(1);
    // A second activation (or creation) is beyond Plus's limit of 1.
    expectProblem(await c.customer.post(`/v1/custom-models/${models.Delta}/activate`), 409, 'custom_model_limit');
    expectProblem(await c.customer.post('/v1/custom-models', { name: 'Echo' }), 409, 'custom_model_limit');
  });

  /**
   * Fault 3: an upgrade waiting for 3-D Secure is priced for the current period, so it lapses (invoice
   * voided) at the period end at the latest — not 23 h after the request (SPEC §4 Upgrade). Completing
   * its 3-D Secure afterwards must not apply it.
   */
  it('fault 3: a 3-D-Secure-pending upgrade requested 12 h before the period end lapses at 07-31; paying it later changes nothing', async () => {
    const c = await subscribedAt('2043-07-01T00:00:00Z', 'plus', 'month');
    await c.setCard('pm_card_authenticationRequired');

    await c.advance('2043-07-30T12:00:00Z');
    const change = await c.customer.post('/v1/subscription/change', { plan: 'max' });
    expect(change.status).toBe(200);
    expect(change.body).toMatchObject({ kind: 'upgrade', pending: true, invoice: expect.any(String) });
    const upgradeInvoiceId: string = change.body.invoice;
    // 12 h of a 30-day period remain (r = 1/60): −round(1200/60), +round(2900/60).
    const [upgrade] = await c.invoices();
    expect(upgrade).toMatchObject({ id: upgradeInvoiceId, kind: 'upgrade', status: 'open', total_cents: 28, created_at: '2043-07-30T12:00:00.000Z' });
    expect(upgrade!.lines.map((l) => l.amount_cents)).toEqual([-20, 48]);
    const pending = await c.subscription();
    expect(pending).toMatchObject({
      status: 'active', plan: 'plus',
      pending_upgrade: { plan: 'max', interval: 'month', invoice_id: upgradeInvoiceId, expires_at: T('2043-07-31') },
    });

    await c.setCard('pm_card_visa');
    await c.advance('2043-07-31T00:00:00Z');
    const renewed = await c.subscription();
    expect(renewed).toMatchObject({
      status: 'active', plan: 'plus', pending_upgrade: null,
      current_period_start: T('2043-07-31'), current_period_end: T('2043-08-30'),
    });
    expect((await c.invoices()).map((i) => [i.id, i.kind, i.status, i.total_cents, i.created_at])).toEqual([
      [expect.any(String), 'subscription', 'paid', 1200, T('2043-07-31')],
      [upgradeInvoiceId, 'upgrade', 'void', 28, '2043-07-30T12:00:00.000Z'],
      [expect.any(String), 'subscription', 'paid', 1200, T('2043-07-01')],
    ]);

    // The customer now completes 3-D Secure of the old upgrade on its hosted page: refused or no effect.
    // (The sandbox page is served by the API; the test worker's provider writes a placeholder host into hosted_url.)
    expect(upgrade!.hosted_url).toMatch(new RegExp(`/sandbox/invoices/${upgradeInvoiceId}$`));
    const page = await (await fetch(`${stack.baseUrl}/sandbox/invoices/${upgradeInvoiceId}`)).text();
    expect(page).toContain('<strong id="status">void</strong>');
    expect(page).not.toContain('Complete authentication');
    const done = await fetch(`${stack.baseUrl}/sandbox/invoices/${upgradeInvoiceId}/authenticate`,
      { method: 'POST', redirect: 'manual', headers: { origin: stack.baseUrl } });
    expect([303, 400, 403, 404, 409]).toContain(done.status);
    await webhooksSettled();
    await c.advance('2043-07-31T00:00:01Z'); // the workflow has handled everything delivered before this

    expect(await c.subscription()).toMatchObject({
      status: 'active', plan: 'plus', pending_upgrade: null,
      current_period_start: T('2043-07-31'), current_period_end: T('2043-08-30'),
    });
    expect((await c.invoices()).find((i) => i.id === upgradeInvoiceId)).toMatchObject({ status: 'void' });
    const credits = await c.credits();
    expect(credits.lots.map((l) => [l.source, l.granted, l.granted_at, l.expires_at])).toEqual([
      ['monthly', 150, T('2043-07-01'), T('2043-08-30')],
      ['monthly', 150, T('2043-07-31'), T('2043-09-29')],
    ]);
    expect(credits.available).toBe(300);
  });

  /**
   * Fault 4: an interval switch is credit-aware (SPEC §4 Interval switch): the new lot is the new plan's
   * credits less floor(old credits × r_refresh). Switching yearly → monthly → yearly a minute apart must
   * not create +800 credits.
   */
  it('fault 4: Max yearly → monthly → yearly a minute apart grants 1 + 1 credits (not 800), available 402', async () => {
    const c = await subscribedAt('2043-04-01T00:00:00Z', 'max', 'year');

    // Yearly → monthly at 00:01: the refresh interval is April (30 days), 1 minute of it used.
    await c.advance('2043-04-01T00:01:00Z');
    const toMonthly = await c.customer.post('/v1/subscription/change', { interval: 'month' });
    const firstGrant = 400 - floorShare(400, 30 * DAY_MS - MINUTE_MS, 30 * DAY_MS);
    expect(firstGrant).toBe(1);
    expect(toMonthly.status).toBe(200);
    expect(toMonthly.body).toMatchObject({ kind: 'interval_switch', effective_at: '2043-04-01T00:01:00.000Z', credits_granted: firstGrant });

    // Monthly → yearly at 00:02: the refresh interval is the new 30-day period from 00:01, 1 minute of it used.
    await c.advance('2043-04-01T00:02:00Z');
    const toYearly = await c.customer.post('/v1/subscription/change', { interval: 'year' });
    const secondGrant = 400 - floorShare(400, 30 * DAY_MS - MINUTE_MS, 30 * DAY_MS);
    expect(secondGrant).toBe(1);
    expect(toYearly.status).toBe(200);
    expect(toYearly.body).toMatchObject({ kind: 'interval_switch', effective_at: '2043-04-01T00:02:00.000Z', credits_granted: secondGrant });

    expect(await c.subscription()).toMatchObject({
      status: 'active', plan: 'max', interval: 'year',
      current_period_start: '2043-04-01T00:02:00.000Z', current_period_end: '2044-04-01T00:02:00.000Z', next_due_at: '2044-04-01T00:02:00.000Z',
    });
    const credits = await c.credits();
    // Existing lots keep their expiry: each lot expires 30 days after its own cycle's next refresh.
    expect(credits.lots.map((l) => [l.source, l.granted, l.granted_at, l.expires_at])).toEqual([
      ['monthly', 400, T('2043-04-01'), T('2043-05-31')],
      ['monthly', firstGrant, '2043-04-01T00:01:00.000Z', '2043-05-31T00:01:00.000Z'],
      ['monthly', secondGrant, '2043-04-01T00:02:00.000Z', '2043-05-31T00:02:00.000Z'],
    ]);
    expect(credits.available).toBe(400 + firstGrant + secondGrant);
    expect(credits.available).toBeLessThanOrEqual(402);

    // Money: the unused time is credited back (a 366-day year, 1 minute used; a 30-day month, 1 minute used).
    const invoices = await c.invoices();
    expect(invoices.map((i) => [i.kind, i.status, i.lines.map((l) => l.amount_cents), i.total_cents, i.amount_due_cents])).toEqual([
      ['interval_switch', 'paid', [-2900, 20880], 17980, 0],
      ['interval_switch', 'paid', [-20880, 2900], -17980, 0],
      ['subscription', 'paid', [20880], 20880, 20880],
    ]);
  });

  /** Fault 5: `next_due_at` of an active yearly plan is its yearly renewal, never null during the year (SPEC §8). */
  it('fault 5: Max yearly from 2043-01-10 shows next_due_at 2044-01-10 all year, then 2045-01-10', async () => {
    const c = await subscribedAt('2043-01-10T00:00:00Z', 'max', 'year');
    expect(await c.subscription()).toMatchObject({ status: 'active', next_due_at: T('2044-01-10'), current_period_end: T('2044-01-10') });
    for (const at of ['2043-02-10T00:00:00Z', '2043-03-01T00:00:00Z', '2043-06-15T00:00:00Z', '2043-09-10T00:00:00Z', '2043-12-31T00:00:00Z']) {
      await c.advance(at);
      const view = await c.subscription();
      expect({ at, status: view.status, next_due_at: view.next_due_at, current_period_end: view.current_period_end })
        .toEqual({ at, status: 'active', next_due_at: T('2044-01-10'), current_period_end: T('2044-01-10') });
    }
    await c.advance('2044-01-10T00:00:00Z');
    expect(await c.subscription()).toMatchObject({
      status: 'active', current_period_start: T('2044-01-10'), current_period_end: T('2045-01-10'), next_due_at: T('2045-01-10'),
    });
  });

  /**
   * Fault 6: while paused, GET /v1/subscription shows the pause as the current period and nothing past
   * as upcoming (SPEC §4 Pause, §8): the pause span 01-31 → 03-02, resumes_at and next_due_at 03-02.
   */
  it('fault 6: paused Max (1 cycle from 01-31) shows the pause span, resumes_at and next_due_at 03-02, nothing in the past', async () => {
    const c = await subscribedAt('2043-01-01T00:00:00Z', 'max', 'month');
    await c.advance('2043-01-10T00:00:00Z');
    const pause = await c.customer.post('/v1/subscription/pause', { cycles: 1 });
    expect(pause.status).toBe(200);
    expect(pause.body).toMatchObject({ status: 'active', pause: { cycles: 1, starts_at: T('2043-01-31'), resumes_at: null } });
    expectNothingUpcomingInPast(await c.subscription(), T('2043-01-10'));

    const expected = {
      status: 'paused', plan: 'max', current_period_start: T('2043-01-31'), current_period_end: T('2043-03-02'),
      scheduled_change: null, pending_upgrade: null, pause: { cycles: 1, starts_at: T('2043-01-31'), resumes_at: T('2043-03-02') },
      next_due_at: T('2043-03-02'),
    };
    for (const at of ['2043-01-31T00:00:00Z', '2043-02-05T00:00:00Z', '2043-03-01T23:59:59Z']) {
      await c.advance(at);
      const view = await c.subscription();
      expect(view).toMatchObject(expected);
      expectNothingUpcomingInPast(view, at);
    }
    expect(await c.invoices()).toHaveLength(1); // no charge while paused
  });

  /**
   * Fault 8: a declined first payment (SPEC §4 Subscribe). The answer says why (outcome, decline code,
   * invoice, hosted URL, 23 h deadline); a new card retries the same invoice at once; cancel ends it at
   * once with the invoice voided, and subscribing again works.
   */
  describe('fault 8: a declined first payment', () => {
    it('answers incomplete with incomplete_payment; a new card pays the same invoice at once (active, 150 credits)', async () => {
      const c = await customerAt('2043-09-01T00:00:00Z', 'declined then visa', 'pm_card_chargeDeclined');
      const sub = await c.subscribe('plus', 'month');
      expect(sub.status).toBe(201);
      expect(sub.body.status).toBe('incomplete');
      const [invoice] = await c.invoices();
      expect(invoice).toMatchObject({ kind: 'subscription', status: 'open', total_cents: 1200, created_at: T('2043-09-01') });
      expect(sub.body.incomplete_payment).toEqual({
        outcome: 'declined', decline_code: 'card_declined', invoice_id: invoice!.id, hosted_url: invoice!.hosted_url,
        expires_at: '2043-09-01T23:00:00.000Z',
      });
      expect(invoice!.hosted_url).toEqual(expect.any(String));
      expect((await c.credits()).available).toBe(0);

      await c.setCard('pm_card_visa');
      const active = await eventually(() => c.subscription(), (s) => s.status === 'active', 15_000);
      expect(active).toMatchObject({ plan: 'plus', current_period_start: T('2043-09-01'), current_period_end: T('2043-10-01') });
      const credits = await c.credits();
      expect(credits.lots.map((l) => [l.source, l.granted, l.granted_at, l.expires_at])).toEqual([
        ['monthly', 150, T('2043-09-01'), T('2043-10-31')],
      ]);
      expect(credits.available).toBe(150);
      expect((await c.invoices()).map((i) => [i.id, i.kind, i.status, i.total_cents])).toEqual([[invoice!.id, 'subscription', 'paid', 1200]]);
    });

    it('cancel ends an incomplete subscription at once and voids its invoice; subscribing again works', async () => {
      const c = await customerAt('2043-09-01T00:00:00Z', 'declined then cancel', 'pm_card_chargeDeclined');
      const sub = await c.subscribe('plus', 'month');
      expect([sub.status, sub.body.status]).toEqual([201, 'incomplete']);
      const [invoice] = await c.invoices();

      const cancel = await c.customer.post('/v1/subscription/cancel');
      expect(cancel.status).toBe(200);
      expect(cancel.body).toMatchObject({ status: 'canceled' });
      expect(await c.subscription()).toMatchObject({ id: sub.body.id, status: 'canceled' });
      expect((await c.invoices()).map((i) => [i.id, i.status])).toEqual([[invoice!.id, 'void']]);

      await c.setCard('pm_card_visa');
      const again = await c.subscribe('plus', 'month');
      expect(again.status).toBe(201);
      expect(again.body).toMatchObject({ status: 'active', plan: 'plus' });
      expect(again.body.id).not.toBe(sub.body.id);
      expect((await c.credits()).available).toBe(150);
    });

    it('a declined pack purchase while subscribed is 402 payment_declined and leaves its invoice void', async () => {
      const c = await subscribedAt('2043-09-01T00:00:00Z', 'plus', 'month', 'declined pack');
      await c.setCard('pm_card_chargeDeclined');
      const purchase = await c.customer.post('/v1/credit-packs', { size: 100 });
      expectProblem(purchase, 402, 'payment_declined');
      const invoices = await c.invoices();
      expect(invoices.map((i) => [i.kind, i.status, i.total_cents])).toEqual([
        ['pack', 'void', 1000],
        ['subscription', 'paid', 1200],
      ]);
      const credits = await c.credits();
      expect(credits.lots.map((l) => l.source)).toEqual(['monthly']);
      expect(credits.available).toBe(150);
    });
  });

  /**
   * Fault 9: operators' view (README "Design"): the PlanId search attribute follows a plan change, and the
   * current details of a workflow on a test clock name the clock. Current details are read with the
   * SDK's built-in `__temporal_workflow_metadata` query (what the Temporal UI shows).
   */
  it('fault 9: after an upgrade PlanId shows the new plan, and the current details mention the test clock', async () => {
    const c = await subscribedAt('2043-11-01T00:00:00Z', 'plus', 'month');
    const handle = stack.temporal.workflow.getHandle(`subscription-${c.subscriptionId}`);
    expect((await handle.describe()).typedSearchAttributes.get(PlanId)).toBe('plus');

    await c.advance('2043-11-11T00:00:00Z');
    const change = await c.customer.post('/v1/subscription/change', { plan: 'max' });
    expect(change.status).toBe(200);
    expect(change.body).toMatchObject({ kind: 'upgrade', credits_granted: 166 });
    const described = await eventually(() => handle.describe(), (d) => d.typedSearchAttributes.get(PlanId) === 'max');
    expect(described.typedSearchAttributes.get(PlanId)).toBe('max');

    const metadata = await eventually(
      () => handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata'),
      (m) => (m.currentDetails ?? '').includes('Max'),
    );
    expect(metadata.currentDetails).toContain(c.clockId);
    expect(metadata.currentDetails).toContain('Max (monthly), active');
  });
});
