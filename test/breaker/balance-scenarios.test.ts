import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAutoTopUps } from '../../worker/auto-top-up.js';
import { authenticateOnHostedPage } from '../helpers/hosted-page.js';
import { ADMIN_KEY, advanceClock, startStack } from '../helpers/stack.js';
import { eventually } from '../helpers/temporal.js';

/**
 * Breaker (customer balance, fresh eyes): the customer balance carried across invoices, worked by hand on the whole
 * stack (Temporal dev server, worker, API, Postgres, sandbox provider, one test clock per case). The only source of
 * balance is a negative invoice total (Max yearly → monthly on 2026-07-02: −10469 + 2900 = −7569, SPEC §9.5); it then
 * pays renewals, packs and changes, comes back when an invoice holding it is voided (a declined renewal canceled, a
 * 3-D Secure upgrade lapsing at the period end, a restart), and a refund of an invoice paid partly by it returns the
 * card part first, then the balance part (SPEC §10). After every step the balance is checked against what the
 * invoices and credit notes say it must be (customer_balance_conserved) and never negative.
 */
interface Invoice { id: string; kind: string; status: string; total_cents: number; amount_due_cents: number; balance_applied_cents: number; created_at: Date; lines: { description: string; amount_cents: number }[] }

const T = (day: string) => (day.includes('T') ? day : `${day}T00:00:00.000Z`);

describe('breaker balance: the customer balance across invoices, voids, refunds and disputes', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  let stopTopUps: () => Promise<void>;
  beforeAll(async () => {
    stack = await startStack();
    stopTopUps = startAutoTopUps({ sql: stack.sql, payments: stack.payments }, 200);
  });
  afterAll(async () => {
    await stopTopUps?.();
    await stack?.stop();
  });
  const operator = () => stack.api(ADMIN_KEY);

  /** A Max yearly customer from 2026-01-01 switched to monthly on 2026-07-02: customer balance 7569. */
  async function customerWithBalance(card = 'pm_card_visa') {
    const clock = (await operator().post('/v1/test-clocks', { frozen_time: T('2026-01-01') })).body;
    const ws = (await operator().post('/v1/workspaces', { name: 'breaker balance', test_clock_id: clock.id })).body;
    const customer = stack.api(ws.api_key);
    const workspaceId = ws.id as string;
    const setCard = async (pm: string) => expect((await customer.put('/v1/payment-method', { payment_method: pm })).status).toBe(200);
    await setCard(card);
    const settled = () => eventually(async () => (await stack.sql<{ n: number }[]>`
      SELECT (SELECT count(*) FROM sandbox_outbox WHERE delivered_at IS NULL)::int
           + (SELECT count(*) FROM webhook_events WHERE forwarded_at IS NULL)::int AS n`)[0]!.n, (n) => n === 0, 30_000);
    const balance = async () => Number((await stack.sql`SELECT customer_balance_cents FROM workspaces WHERE id = ${workspaceId}`)[0]!.customer_balance_cents);
    const invoices = async () => (await stack.sql<Invoice[]>`
      SELECT id, kind, status, total_cents::int, amount_due_cents::int, balance_applied_cents::int, created_at, lines
      FROM invoices WHERE workspace_id = ${workspaceId} AND status <> 'draft' ORDER BY seq`);
    /** customer_balance_conserved: every cent of the balance traces to a negative total or a note's balance part. */
    const conserved = async () => {
      await settled();
      const [[row], inv] = await Promise.all([
        stack.sql<{ notes: number }[]>`
          SELECT coalesce(sum(credited_to_balance_cents - balance_taken_back_cents) FILTER (WHERE status = 'issued'), 0)::int AS notes
          FROM credit_notes WHERE workspace_id = ${workspaceId}`,
        invoices(),
      ]);
      const expected = inv.filter((i) => i.status !== 'void').reduce((s, i) => s + Math.max(-i.total_cents, 0) - i.balance_applied_cents, 0) + row!.notes;
      const actual = await balance();
      expect(actual, 'customer balance never negative').toBeGreaterThanOrEqual(0);
      expect(actual, 'customer_balance_conserved').toBe(expected);
      return actual;
    };
    const advance = async (to: string) => { await advanceClock(operator(), clock.id, T(to)); await settled(); };
    expect((await customer.post('/v1/subscription', { plan: 'max', interval: 'year' })).status).toBe(201);
    await advance('2026-07-02');
    const switched = await customer.post('/v1/subscription/change', { interval: 'month' });
    expect(switched.status).toBe(200);
    expect(switched.body.latest_invoice).toMatchObject({ total_cents: -7569, amount_due_cents: 0 });
    expect(await conserved()).toBe(7569);
    return {
      customer, workspaceId, clockId: clock.id as string, setCard, settled, balance, invoices, conserved, advance,
      subscription: async () => (await customer.get('/v1/subscription')).body,
      yearly: async () => (await invoices())[0]!,
    };
  }
  type Customer = Awaited<ReturnType<typeof customerWithBalance>>;
  const refund = (invoiceId: string, body: Record<string, unknown>) => operator().post(`/v1/admin/invoices/${invoiceId}/refund`, { reason: 'breaker balance', ...body });
  const brief = (invoices: Invoice[]) => invoices.map((i) => `${i.created_at.toISOString().slice(0, 10)} ${i.kind} ${i.status} ${i.total_cents} applied ${i.balance_applied_cents} due ${i.amount_due_cents}`);
  const sandboxRefunds = async (invoiceId: string) =>
    (await stack.sql`SELECT amount_cents FROM sandbox_refunds WHERE invoice_id = ${invoiceId} ORDER BY seq`).map((r) => Number(r.amount_cents));

  /** Renewals 08-01 and 08-31 paid from the balance: 1769 left on 2026-09-01 (SPEC §9.5). */
  async function renewedTwice(c: Customer) {
    await c.advance('2026-09-01');
    expect(await c.conserved()).toBe(1769);
  }

  it('A: a pack paid partly by the balance, refunded in two parts: the card part first (1511), then the balance part back once', async () => {
    const c = await customerWithBalance();
    await renewedTwice(c);
    const pack = await c.customer.post('/v1/credit-packs', { size: 500 });
    expect(pack.status).toBe(201);
    // Max's 20% off: 3280, of which the balance pays 1769 and the card 1511.
    expect(pack.body.invoice).toMatchObject({ total_cents: 3280, amount_due_cents: 1511 });
    expect(await c.conserved()).toBe(0);
    const first = await refund(pack.body.invoice.id, { amount_cents: 2000 });
    expect(first.status).toBe(201);
    // Card first: all the card paid (1511), the other 489 to the balance; ceil(500 × 2000 / 3280) = 305 credits back.
    expect(first.body).toMatchObject({ amount_cents: 2000, refunded_to_card_cents: 1511, credited_to_balance_cents: 489, credits_clawed_back: 305 });
    expect(await c.conserved()).toBe(489);
    const rest = await refund(pack.body.invoice.id, {});
    expect(rest.body).toMatchObject({ amount_cents: 1280, refunded_to_card_cents: 0, credited_to_balance_cents: 1280, credits_clawed_back: 195 });
    expect(await c.conserved()).toBe(1769);
    expect(await sandboxRefunds(pack.body.invoice.id)).toEqual([1511]);
    const over = await refund(pack.body.invoice.id, { amount_cents: 1 });
    expect([over.status, over.body.code]).toEqual([409, 'refund_exceeds_paid']);
    expect(await c.conserved()).toBe(1769);
  });

  it('B: a renewal holding the balance is declined, the past-due subscription canceled: the balance comes back once and pays the restart', async () => {
    const c = await customerWithBalance();
    await renewedTwice(c);
    await c.setCard('pm_card_chargeDeclined');
    await c.advance('2026-10-01');
    expect(await c.subscription()).toMatchObject({ status: 'past_due' });
    const upcoming = (await c.customer.get('/v1/invoices/upcoming')).body;
    expect(upcoming).toMatchObject({ reason: 'dunning_retry', total_cents: 2900, balance_applied_cents: 1769, amount_due_cents: 1131 });
    expect(await c.conserved()).toBe(0);
    // A retry by the operator with the same declined card changes nothing.
    expect((await operator().post(`/v1/admin/workspaces/${c.workspaceId}/subscription/retry-payment`)).status).toBe(202);
    await c.settled();
    expect(await c.conserved()).toBe(0);
    expect((await c.customer.post('/v1/subscription/cancel')).status).toBe(200);
    expect(await c.subscription()).toMatchObject({ status: 'canceled' });
    expect(await c.conserved()).toBe(1769);
    // The voided renewal is not refundable: its balance came back once, by the void.
    const voided = (await c.invoices()).at(-1)!;
    expect(voided).toMatchObject({ kind: 'subscription', status: 'void', balance_applied_cents: 1769 });
    const refused = await refund(voided.id, {});
    expect([refused.status, refused.body.code]).toEqual([409, 'invoice_not_refundable']);
    // The clock moving on past every retry date gives nothing back a second time.
    await c.advance('2026-10-12');
    expect(await c.conserved()).toBe(1769);
    await c.setCard('pm_card_visa');
    const restarted = await c.customer.post('/v1/subscription/resume');
    expect(restarted.body).toMatchObject({ status: 'active', plan: 'max', interval: 'month' });
    expect(await c.conserved()).toBe(0);
    expect(brief((await c.invoices()).slice(-2))).toEqual([
      '2026-09-30 subscription void 2900 applied 1769 due 1131',
      '2026-10-12 subscription paid 2900 applied 1769 due 1131',
    ]);
  });

  it('C: a 3-D Secure upgrade holding the balance lapses at the period end: the renewal at that instant uses the balance back, as the upcoming invoice said', async () => {
    const c = await customerWithBalance();
    await renewedTwice(c);
    // Two 100-credit packs from the balance (800 each): 169 left.
    for (let i = 0; i < 2; i++) expect((await c.customer.post('/v1/credit-packs', { size: 100 })).body.invoice).toMatchObject({ total_cents: 800, amount_due_cents: 0 });
    expect(await c.conserved()).toBe(169);
    await c.setCard('pm_card_authenticationRequired');
    await c.advance('2026-09-29T02:00:00.000Z');
    // 22 hours of 30 days left: −round(2900 × 22/720) + round(29900 × 22/720) = −89 + 914 = 825; 169 from the balance.
    const change = await c.customer.post('/v1/subscription/change', { plan: 'team' });
    expect(change.body).toMatchObject({ pending: true, latest_invoice: { total_cents: 825, amount_due_cents: 656 } });
    expect(await c.conserved()).toBe(0);
    expect((await c.subscription()).pending_upgrade).toMatchObject({ plan: 'team', expires_at: T('2026-09-30') });
    const upcoming = (await c.customer.get('/v1/invoices/upcoming')).body;
    expect(upcoming).toMatchObject({ reason: 'renewal', plan: 'max', total_cents: 2900, balance_applied_cents: 169, amount_due_cents: 2731 });
    await c.setCard('pm_card_visa');
    await c.advance('2026-09-30T01:00:00.000Z');
    expect(await c.subscription()).toMatchObject({ status: 'active', plan: 'max', pending_upgrade: null });
    expect(brief((await c.invoices()).slice(-2))).toEqual([
      '2026-09-29 upgrade void 825 applied 169 due 656',
      '2026-09-30 subscription paid 2900 applied 169 due 2731',
    ]);
    expect(await c.conserved()).toBe(0);
    // The voided upgrade can no longer be paid on its hosted page.
    expect(await authenticateOnHostedPage(`${stack.baseUrl}/sandbox/invoices/${change.body.invoice_id}`).then((r) => r.status).catch((e: Error) => e.message)).toMatch(/no 3-D Secure form/);
    await c.settled();
    expect(await c.conserved()).toBe(0);
  });

  it('D: a dispute of a pack paid partly by the balance: the bank returns the card part only; lost, nothing comes back to the balance', async () => {
    const c = await customerWithBalance();
    await renewedTwice(c);
    await c.setCard('pm_card_createDispute');
    const pack = await c.customer.post('/v1/credit-packs', { size: 500 });
    await c.setCard('pm_card_visa');
    expect(pack.body.invoice).toMatchObject({ total_cents: 3280, amount_due_cents: 1511 });
    const [sandbox] = await eventually(() => stack.sql<{ id: string; amount_cents: number }[]>`SELECT id, amount_cents FROM sandbox_disputes WHERE invoice_id = ${pack.body.invoice.id}`, (r) => r.length === 1);
    expect(Number(sandbox!.amount_cents)).toBe(1511);
    await eventually(() => stack.sql`SELECT id FROM disputes WHERE invoice_id = ${pack.body.invoice.id}`, (r) => r.length === 1);
    const refused = await refund(pack.body.invoice.id, { amount_cents: 100 });
    expect([refused.status, refused.body.code]).toEqual([409, 'invoice_disputed']);
    expect((await operator().post(`/v1/admin/sandbox/disputes/${sandbox!.id}/close`, { outcome: 'lost' })).status).toBe(200);
    const [note] = await eventually(() => stack.sql<{ amount_cents: number; refunded_to_card_cents: number; credited_to_balance_cents: number; credits_clawed_back: number; status: string }[]>`
      SELECT amount_cents::int, refunded_to_card_cents::int, credited_to_balance_cents::int, credits_clawed_back, status FROM credit_notes WHERE invoice_id = ${pack.body.invoice.id}`,
    (r) => r.length === 1 && r[0]!.status === 'issued');
    // ceil(500 × 1511 / 3280) = 231 credits back; the 1769 of balance stay spent on the 269 credits kept.
    expect(note).toMatchObject({ amount_cents: 1511, refunded_to_card_cents: 1511, credited_to_balance_cents: 0, credits_clawed_back: 231 });
    expect(await c.conserved()).toBe(0);
    expect(await sandboxRefunds(pack.body.invoice.id)).toEqual([]);
  });

  it('E: after the switch, an operator refund of the yearly invoice is capped at what the switch did not credit (10411)', async () => {
    const c = await customerWithBalance();
    const yearly = await c.yearly();
    const over = await refund(yearly.id, { amount_cents: 10412 });
    expect([over.status, over.body.code, over.body.refundable_cents, over.body.prorated_cents]).toEqual([409, 'refund_exceeds_paid', 10411, 10469]);
    const done = await refund(yearly.id, {});
    expect(done.body).toMatchObject({ amount_cents: 10411, refunded_to_card_cents: 10411, credited_to_balance_cents: 0 });
    expect(await c.conserved()).toBe(7569);
  });

  it('F: automatic top-ups partly paid by the balance fail on 3-D Secure, then on a declined card: each voided with the balance back once, then disabled', async () => {
    const c = await customerWithBalance();
    await renewedTwice(c);
    for (let i = 0; i < 2; i++) expect((await c.customer.post('/v1/credit-packs', { size: 100 })).status).toBe(201);
    expect(await c.conserved()).toBe(169);
    const available = async () => (await c.customer.get('/v1/credits')).body.available as number;
    const threshold = (await available()) + 1;
    expect((await c.customer.put('/v1/auto-top-up', { enabled: true, threshold, pack: 100, monthly_limit_cents: 5000 })).status).toBe(200);
    const state = () => c.customer.get('/v1/auto-top-up').then((r) => r.body);
    const decided = (n: number) => eventually(state, (s) => s.pending_top_up === null && s.top_ups.length === n, 20_000);
    // A capture below the threshold (armed since saved): the worker's pack is 800, 169 from the balance, 631 by 3-D Secure → voided.
    await c.setCard('pm_card_authenticationRequired');
    const quote = await c.customer.post('/v1/credits/estimate', { model: 'imagen-3', count: 1, resolution: 'high' });
    const hold = await c.customer.post('/v1/creations', { quote_id: quote.body.quote_id });
    expect((await c.customer.post(`/v1/creations/${hold.body.id}/complete`, { credits: 3 })).status).toBe(200);
    const first = await decided(1);
    expect(first.top_ups[0]).toMatchObject({ status: 'failed', cause: 'capture', failure_code: 'authentication_required', amount_cents: 800 });
    expect(await c.conserved()).toBe(169);
    // Re-armed by a goodwill adjustment that lifts available to the threshold; a hold refused for want of credits
    // (1200 credits, more than there is) is the next crossing; the declined card fails it: two in a row disable.
    expect((await operator().post(`/v1/admin/workspaces/${c.workspaceId}/credit-adjustments`, { credits: 10, reason: 'goodwill' })).status).toBe(201);
    expect(await available()).toBeGreaterThanOrEqual(threshold);
    await c.setCard('pm_card_chargeDeclined');
    const big = await c.customer.post('/v1/credits/estimate', { model: 'veo-2', duration_s: 600 });
    expect((await c.customer.post('/v1/creations', { quote_id: big.body.quote_id })).status).toBe(402);
    const second = await decided(2);
    expect(second).toMatchObject({ enabled: false, disabled_reason: 'payment_failed_twice', failures_in_row: 2 });
    expect(second.top_ups[0]).toMatchObject({ status: 'failed', cause: 'refusal', amount_cents: 800 });
    const packs = (await c.invoices()).filter((i) => i.kind === 'pack').slice(-2);
    expect(packs.map((i) => [i.status, i.total_cents, i.balance_applied_cents, i.amount_due_cents])).toEqual([['void', 800, 169, 631], ['void', 800, 169, 631]]);
    expect(await c.conserved()).toBe(169);
  });

  it('G: a negative adjustment takes neither dispute-frozen nor held credits; the won dispute thaws the lot untouched', async () => {
    const clock = (await operator().post('/v1/test-clocks', { frozen_time: T('2026-01-01') })).body;
    const ws = (await operator().post('/v1/workspaces', { name: 'breaker balance adjustments', test_clock_id: clock.id })).body;
    const customer = stack.api(ws.api_key);
    expect((await customer.put('/v1/payment-method', { payment_method: 'pm_card_createDispute' })).status).toBe(200);
    expect((await customer.post('/v1/subscription', { plan: 'max', interval: 'month' })).status).toBe(201);
    expect((await customer.put('/v1/payment-method', { payment_method: 'pm_card_visa' })).status).toBe(200);
    const [sandbox] = await eventually(() => stack.sql<{ id: string }[]>`SELECT id FROM sandbox_disputes WHERE workspace_id = ${ws.id}`, (r) => r.length === 1);
    const credits = () => customer.get('/v1/credits').then((r) => r.body as { available: number; held: number; lots: { source: string; remaining: number; frozen: boolean }[] });
    await eventually(credits, (c) => c.available === 0);
    expect((await customer.post('/v1/credit-packs', { size: 100 })).status).toBe(201);
    // 30 of the pack's 100 held by a running creation: 70 available.
    const quote = await customer.post('/v1/credits/estimate', { model: 'imagen-3', count: 10, resolution: 'high' });
    const hold = await customer.post('/v1/creations', { quote_id: quote.body.quote_id });
    expect(hold.status).toBe(201);
    expect((await credits()).available).toBe(70);
    const adjust = (n: number) => operator().post(`/v1/admin/workspaces/${ws.id}/credit-adjustments`, { credits: n, reason: 'breaker' });
    const refused = await adjust(-71);
    expect([refused.status, refused.body.code]).toEqual([409, 'insufficient_credits']);
    expect((await adjust(-70)).status).toBe(201);
    expect((await credits()).available).toBe(0);
    expect((await customer.post(`/v1/creations/${hold.body.id}/complete`, { credits: 30 })).status).toBe(200);
    expect((await operator().post(`/v1/admin/sandbox/disputes/${sandbox!.id}/close`, { outcome: 'won' })).status).toBe(200);
    const after = await eventually(credits, (c) => c.available === 400);
    expect(after.lots.filter((l) => l.source === 'monthly').map((l) => [l.remaining, l.frozen])).toEqual([[400, false]]);
  });
});
