import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAutoTopUps } from '../../worker/auto-top-up.js';
import { authenticateOnHostedPage } from '../helpers/hosted-page.js';
import { ADMIN_KEY, advanceClock, apiClient, startStack } from '../helpers/stack.js';
import { eventually } from '../helpers/temporal.js';

/*
 * Breaker (customer balance, automatic top-ups, dunning; fresh eyes): random histories on the whole stack (Temporal
 * dev server, worker, API, Postgres, sandbox provider, a test clock per run, the worker's automatic top-up loop).
 * Unlike the money breaker (refunds and disputes on a good card), the card changes between `pm_card_visa`,
 * `pm_card_chargeDeclined` and `pm_card_authenticationRequired`, so renewals go past due, changes and packs wait for
 * 3-D Secure (sometimes completed on the hosted page), and the customer or the operator cancels (at the period end or
 * now), resumes, pauses and retries payment; yearly → monthly switches put money on the customer balance, which
 * renewals, packs, top-ups and changes then use. Checked after every step:
 *  - customer_balance_conserved: balance ≥ 0 and = Σ (negative totals − balance applied) of non-void invoices + Σ
 *    balance parts of issued notes − their take-backs (each applied cent leaves once, comes back once on a void);
 *  - refund_within_paid: per invoice, notes ≤ max(total, 0), card parts ≤ what the card paid, notes only on paid
 *    invoices, the sandbox's refunds = the operator notes' card parts;
 *  - nothing_hangs: no invoice open longer than 23 hours of the workspace's time, except the renewal of a past-due
 *    subscription for at most the 7 days of dunning; no automatic top-up left in flight;
 *  - top_up_cap: automatic top-ups paid in a calendar month ≤ the monthly limit; at most one in flight;
 *  - preview_is_charge (a change made with its preview's amount charges the previewed lines, balance applied and
 *    amount due) and upcoming_is_renewal (the renewal an advance makes is the upcoming invoice shown before it);
 *  - journal_explains_available: GET /v1/credits `available` = Σ journal amounts other than captures.
 * Seed: BREAKER_BALANCE_SEED (printed); histories per seed: BREAKER_BALANCE_RUNS (default 4).
 */

const SEED = Number(process.env.BREAKER_BALANCE_SEED ?? Math.floor(Math.random() * 2 ** 31));
const RUNS = Number(process.env.BREAKER_BALANCE_RUNS ?? 4);
const TIERS = ['plus', 'max', 'generative', 'team'];
const CARDS = { visa: 'pm_card_visa', declined: 'pm_card_chargeDeclined', threeDs: 'pm_card_authenticationRequired' } as const;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

type Command =
  | { kind: 'advance'; hours: number }
  | { kind: 'card'; card: keyof typeof CARDS }
  | { kind: 'pack'; size: 100 | 500 }
  | { kind: 'authenticate'; pick: number }
  | { kind: 'change'; what: 'upgrade' | 'downgrade' | 'switch' }
  | { kind: 'cancel' }
  | { kind: 'cancel_now' }
  | { kind: 'resume' }
  | { kind: 'pause'; cycles: number }
  | { kind: 'retry' }
  | { kind: 'refund'; pick: number; share: number | 'all' }
  | { kind: 'spend'; images: number };

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  { weight: 7, arbitrary: fc.record({ kind: fc.constant('advance' as const), hours: fc.oneof(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 5 * 24, max: 40 * 24 })) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('card' as const), card: fc.constantFrom('visa' as const, 'declined' as const, 'threeDs' as const) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('pack' as const), size: fc.constantFrom(100 as const, 500 as const) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('authenticate' as const), pick: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('change' as const), what: fc.constantFrom('upgrade' as const, 'downgrade' as const, 'switch' as const, 'switch' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('cancel' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('cancel_now' as const) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('resume' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('pause' as const), cycles: fc.integer({ min: 1, max: 2 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('retry' as const) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('refund' as const), pick: fc.nat(), share: fc.oneof(fc.constant('all' as const), fc.double({ min: 0.05, max: 1, noNaN: true })) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('spend' as const), images: fc.integer({ min: 1, max: 10 }) }) },
);

const topUpArb = fc.option(fc.record({ threshold: fc.integer({ min: 50, max: 500 }), pack: fc.constantFrom(100, 500), packs: fc.integer({ min: 1, max: 4 }) }), { nil: undefined });

/** What the histories exercised (printed at the end, so a green run shows it tested something). */
const stats: Record<string, number> = {};
const count = (what: string) => { stats[what] = (stats[what] ?? 0) + 1; };

interface InvoiceRow { id: string; kind: string; status: string; total_cents: number; amount_due_cents: number; balance_applied_cents: number; created_at: Date; lines: { description: string; amount_cents: number }[] }
interface NoteRow { invoice_id: string; amount_cents: number; refunded_to_card_cents: number; credited_to_balance_cents: number; balance_taken_back_cents: number; source: string; status: string }

describe('breaker balance: random histories of cards, dunning, 3-D Secure, cancels, packs, top-ups and refunds', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  let stopTopUps: () => Promise<void>;
  const operator = () => stack.api(ADMIN_KEY);
  beforeAll(async () => {
    stack = await startStack();
    stopTopUps = startAutoTopUps({ sql: stack.sql, payments: stack.payments }, 200);
  });
  afterAll(async () => {
    await stopTopUps?.();
    await stack?.stop();
  });

  const invoicesOf = async (ws: string) => (await stack.sql<InvoiceRow[]>`
    SELECT id, kind, status, total_cents::int, amount_due_cents::int, balance_applied_cents::int, created_at, lines
    FROM invoices WHERE workspace_id = ${ws} AND status <> 'draft' ORDER BY seq`);
  const notesOf = async (ws: string) => (await stack.sql<NoteRow[]>`
    SELECT invoice_id, amount_cents::int, refunded_to_card_cents::int, credited_to_balance_cents::int, balance_taken_back_cents::int, source, status
    FROM credit_notes WHERE workspace_id = ${ws} ORDER BY seq`);
  const quiet = () => eventually(
    () => stack.sql`SELECT (SELECT count(*) FROM sandbox_outbox WHERE delivered_at IS NULL)::int + (SELECT count(*) FROM webhook_events WHERE forwarded_at IS NULL)::int AS n`,
    (rows) => rows[0]!.n === 0,
  );
  /** The worker's top-up loop has decided every recorded top-up (a pending one waits at most a pass or two). */
  const topUpsDecided = (ws: string) => eventually(
    () => stack.sql`SELECT count(*)::int AS n FROM auto_top_ups WHERE workspace_id = ${ws} AND status = 'pending'`,
    (rows) => rows[0]!.n === 0, 20_000,
  ).then(() => true, () => false);

  async function checkInvariants(ws: string, customer: ReturnType<typeof apiClient>, now: number, limitCents: number | undefined, log: string[]) {
    await quiet();
    const problems: string[] = [];
    if (!(await topUpsDecided(ws))) problems.push('nothing_hangs: an automatic top-up is still in flight after 20 s');
    await quiet();
    const [invoices, notes, [wsRow], refunds, [sub], topUps] = await Promise.all([
      invoicesOf(ws), notesOf(ws), stack.sql`SELECT customer_balance_cents FROM workspaces WHERE id = ${ws}`,
      stack.sql<{ invoice_id: string; cents: number }[]>`
        SELECT r.invoice_id, sum(r.amount_cents)::bigint AS cents FROM sandbox_refunds r JOIN invoices i ON i.id = r.invoice_id
        WHERE i.workspace_id = ${ws} GROUP BY r.invoice_id`,
      stack.sql<{ status: string }[]>`SELECT status FROM subscriptions WHERE workspace_id = ${ws} ORDER BY created_at DESC LIMIT 1`,
      stack.sql<{ status: string; amount_cents: number | null; created_at: Date }[]>`SELECT status, amount_cents, created_at FROM auto_top_ups WHERE workspace_id = ${ws}`,
    ]);
    for (const inv of invoices) {
      const mine = notes.filter((n) => n.invoice_id === inv.id);
      const sum = mine.reduce((s, n) => s + n.amount_cents, 0);
      const card = mine.reduce((s, n) => s + n.refunded_to_card_cents, 0);
      if (mine.length > 0 && inv.status !== 'paid') problems.push(`refund_within_paid: notes on ${inv.status} invoice ${inv.id}`);
      if (sum > Math.max(inv.total_cents, 0)) problems.push(`refund_within_paid: ${inv.id} notes ${sum} > total ${inv.total_cents}`);
      if (card > inv.amount_due_cents) problems.push(`refund_within_paid: ${inv.id} card parts ${card} > card paid ${inv.amount_due_cents}`);
      const operatorCard = mine.filter((n) => n.source === 'operator').reduce((s, n) => s + n.refunded_to_card_cents, 0);
      const atProvider = Number(refunds.find((r) => r.invoice_id === inv.id)?.cents ?? 0);
      if (operatorCard !== atProvider) problems.push(`refund_within_paid: ${inv.id} sandbox refunded ${atProvider}, operator card parts ${operatorCard}`);
      if (inv.status === 'open') {
        const age = now - inv.created_at.getTime();
        const dunning = inv.kind === 'subscription' && sub?.status === 'past_due' && age <= 7 * DAY;
        if (age > 23 * HOUR && !dunning) problems.push(`nothing_hangs: ${inv.kind} invoice ${inv.id} open for ${(age / HOUR).toFixed(1)} h (subscription ${sub?.status})`);
      }
    }
    const expected = invoices.filter((i) => i.status !== 'void').reduce((s, i) => s + Math.max(-i.total_cents, 0) - i.balance_applied_cents, 0)
      + notes.filter((n) => n.status === 'issued').reduce((s, n) => s + n.credited_to_balance_cents - n.balance_taken_back_cents, 0);
    const balance = Number(wsRow!.customer_balance_cents);
    if (balance < 0) problems.push(`customer_balance_conserved: balance ${balance} < 0`);
    if (balance !== expected) problems.push(`customer_balance_conserved: balance ${balance}, invoices and notes say ${expected}`);
    if (topUps.filter((t) => t.status === 'pending').length > 1) problems.push('top_up_cap: more than one automatic top-up in flight');
    if (limitCents !== undefined) {
      const byMonth = new Map<string, number>();
      for (const t of topUps.filter((x) => x.status === 'paid')) {
        const month = t.created_at.toISOString().slice(0, 7);
        byMonth.set(month, (byMonth.get(month) ?? 0) + Number(t.amount_cents ?? 0));
      }
      for (const [month, cents] of byMonth) if (cents > limitCents) problems.push(`top_up_cap: ${cents} cents of top-ups paid in ${month} > limit ${limitCents}`);
    }
    const journal = async () => {
      const [row] = await stack.sql<{ sum: number }[]>`SELECT coalesce(sum(amount) FILTER (WHERE kind <> 'capture'), 0)::int AS sum FROM ledger_entries WHERE workspace_id = ${ws}`;
      return { journal: row!.sum, available: (await customer.get('/v1/credits')).body.available as number };
    };
    const j = await eventually(journal, (x) => x.journal === x.available, 5_000).catch(async () => journal());
    if (j.journal !== j.available) problems.push(`journal_explains_available: journal ${j.journal}, available ${j.available}`);
    if (problems.length > 0) {
      console.log(`BREAKER_BALANCE_SEED=${SEED} history so far:\n  ${log.join('\n  ')}`);
      console.log('invoices', JSON.stringify(invoices.map((i) => [i.id, i.kind, i.status, i.created_at.toISOString(), i.total_cents, i.balance_applied_cents, i.amount_due_cents])));
      console.log('notes', JSON.stringify(notes));
    }
    expect(problems).toEqual([]);
  }

  async function run(plan: string, interval: 'month' | 'year', topUp: { threshold: number; pack: number; packs: number } | undefined, commands: Command[]) {
    const start = Date.parse('2026-01-01T00:00:00Z');
    const clockId = (await operator().post('/v1/test-clocks', { frozen_time: new Date(start).toISOString() })).body.id as string;
    const made = await operator().post('/v1/workspaces', { name: 'balance history', test_clock_id: clockId });
    const ws = made.body.id as string;
    const customer = apiClient(stack.baseUrl, made.body.api_key);
    const log: string[] = [`subscribe ${plan} ${interval} top-up ${JSON.stringify(topUp ?? null)}`];
    expect((await customer.put('/v1/payment-method', { payment_method: CARDS.visa })).status).toBe(200);
    expect((await customer.post('/v1/subscription', { plan, interval })).status).toBe(201);
    let limitCents: number | undefined;
    if (topUp) {
      // Limit in whole packs at the list price (≥ one pack at any plan's price).
      limitCents = topUp.packs * (topUp.pack === 100 ? 1000 : 4100);
      expect((await customer.put('/v1/auto-top-up', { enabled: true, threshold: topUp.threshold, pack: topUp.pack, monthly_limit_cents: limitCents })).status).toBe(200);
    }
    let now = start;
    for (const c of commands) {
      log.push(JSON.stringify(c));
      const subscription = (await customer.get('/v1/subscription')).body as { status: string; plan: string; interval: 'month' | 'year' };
      if (c.kind === 'advance') {
        const upcoming = await customer.get('/v1/invoices/upcoming');
        const before = new Set((await invoicesOf(ws)).map((i) => i.id));
        const to = now + c.hours * HOUR;
        await advanceClock(operator(), clockId, new Date(to).toISOString());
        now = to;
        await quiet();
        await topUpsDecided(ws);
        count(`advance ${subscription.status}`);
        const made = (await invoicesOf(ws)).filter((i) => !before.has(i.id));
        log.push(`  -> ${new Date(now).toISOString()} made ${JSON.stringify(made.map((i) => [i.kind, i.status, i.total_cents, i.balance_applied_cents, i.amount_due_cents]))}`);
        // upcoming_is_renewal: the first renewal of the advance, unless a top-up's pack drew on the balance before it.
        const renewal = made.find((i) => i.kind === 'subscription');
        const packFirst = renewal && made.some((i) => i.kind === 'pack' && i.created_at.getTime() <= renewal.created_at.getTime());
        if (upcoming.status === 200 && upcoming.body.reason !== 'dunning_retry' && Date.parse(upcoming.body.next_attempt_at) <= to && !packFirst) {
          expect(renewal, `upcoming_is_renewal: a renewal was made (${JSON.stringify(upcoming.body)})`).toBeDefined();
          count(`renewal ${upcoming.body.reason}${upcoming.body.balance_applied_cents > 0 ? ' with balance' : ''}`);
          expect({ lines: renewal!.lines, total: renewal!.total_cents, applied: renewal!.balance_applied_cents, due: renewal!.amount_due_cents }, 'upcoming_is_renewal')
            .toEqual({ lines: upcoming.body.lines, total: upcoming.body.total_cents, applied: upcoming.body.balance_applied_cents, due: upcoming.body.amount_due_cents });
        }
      } else if (c.kind === 'card') {
        expect((await customer.put('/v1/payment-method', { payment_method: CARDS[c.card] })).status).toBe(200);
        count(`card ${c.card}`);
      } else if (c.kind === 'pack') {
        const bought = await customer.post('/v1/credit-packs', { size: c.size });
        log.push(`  -> ${bought.status} ${bought.body.code ?? JSON.stringify([bought.body.invoice?.status, bought.body.invoice?.total_cents, bought.body.invoice?.amount_due_cents])}`);
        expect(bought.status, JSON.stringify(bought.body)).toBeLessThan(500);
        count(`pack ${bought.status}${bought.body.invoice?.status === 'open' ? ' open' : ''}${bought.body.invoice?.balance_applied_cents > 0 ? ' with balance' : ''}`);
      } else if (c.kind === 'authenticate') {
        const open = (await invoicesOf(ws)).filter((i) => i.status === 'open');
        if (open.length === 0) continue;
        const inv = open[c.pick % open.length]!;
        const status = await authenticateOnHostedPage(`${stack.baseUrl}/sandbox/invoices/${inv.id}`).then((r) => r.status).catch((e: Error) => e.message.slice(0, 40));
        log.push(`  -> authenticate ${inv.kind} ${inv.id}: ${status}`);
        count(`authenticate ${inv.kind} ${status === 303 ? 'paid' : 'no form'}`);
        // The payment's webhook reaches the workflow; wait until the invoice is settled here.
        if (status === 303) await eventually(() => invoicesOf(ws), (rows) => rows.find((i) => i.id === inv.id)!.status !== 'open', 20_000).catch(() => undefined);
      } else if (c.kind === 'change') {
        const i = TIERS.indexOf(subscription.plan);
        const request = c.what === 'switch' ? { interval: subscription.interval === 'month' ? 'year' : 'month' }
          : { plan: TIERS[Math.max(0, Math.min(TIERS.length - 1, i + (c.what === 'upgrade' ? 1 : -1)))] };
        const preview = await customer.post('/v1/subscription/change/preview', request);
        const made = await customer.post('/v1/subscription/change', {
          ...request, ...(preview.status === 200 ? { expected_amount_due_cents: preview.body.invoice?.amount_due_cents ?? 0 } : {}),
        });
        log.push(`  -> ${JSON.stringify(request)} preview ${preview.status} ${preview.body.code ?? JSON.stringify([preview.body.invoice?.total_cents, preview.body.invoice?.balance_applied_cents, preview.body.invoice?.amount_due_cents])} made ${made.status} ${made.body.code ?? JSON.stringify([made.body.latest_invoice?.status, made.body.latest_invoice?.total_cents, made.body.latest_invoice?.amount_due_cents])}`);
        expect(made.status, JSON.stringify(made.body)).toBeLessThan(500);
        if (preview.status !== 200) {
          expect(made.body.code, 'a refused preview is the same refusal').toBe(preview.body.code);
        } else if (made.status === 200 && made.body.invoice_id) {
          const inv = (await invoicesOf(ws)).find((x) => x.id === made.body.invoice_id)!;
          expect({ lines: inv.lines, total: inv.total_cents, applied: inv.balance_applied_cents, due: inv.amount_due_cents }, 'preview_is_charge')
            .toEqual({ lines: preview.body.invoice.lines, total: preview.body.invoice.total_cents, applied: preview.body.invoice.balance_applied_cents, due: preview.body.invoice.amount_due_cents });
        }
        count(`change ${c.what} ${made.status}${made.body.pending ? ' pending' : ''}${preview.body.invoice?.balance_applied_cents > 0 ? ' with balance' : ''}${(preview.body.invoice?.total_cents ?? 0) < 0 ? ' to balance' : ''}`);
      } else if (c.kind === 'cancel' || c.kind === 'resume' || c.kind === 'pause') {
        const done = c.kind === 'pause' ? await customer.post('/v1/subscription/pause', { cycles: c.cycles }) : await customer.post(`/v1/subscription/${c.kind}`);
        log.push(`  -> ${done.status} ${done.body.code ?? done.body.status}`);
        expect(done.status, JSON.stringify(done.body)).toBeLessThan(500);
        count(`${c.kind} ${subscription.status} ${done.status}`);
      } else if (c.kind === 'cancel_now' || c.kind === 'retry') {
        const path = c.kind === 'retry' ? 'retry-payment' : 'cancel';
        const done = await operator().post(`/v1/admin/workspaces/${ws}/subscription/${path}`, c.kind === 'cancel_now' ? { at_period_end: false } : undefined);
        log.push(`  -> ${done.status} ${done.body.code ?? done.body.status}`);
        expect(done.status, JSON.stringify(done.body)).toBeLessThan(500);
        count(`${c.kind} ${subscription.status} ${done.status}`);
      } else if (c.kind === 'refund') {
        const paid = (await invoicesOf(ws)).filter((i) => i.status === 'paid' && i.total_cents > 0);
        if (paid.length === 0) continue;
        const inv = paid[c.pick % paid.length]!;
        const amount = c.share === 'all' ? undefined : Math.max(1, Math.round(c.share * inv.total_cents));
        const done = await operator().post(`/v1/admin/invoices/${inv.id}/refund`, { ...(amount === undefined ? {} : { amount_cents: amount }), reason: `breaker ${log.length}` });
        log.push(`  -> refund ${inv.kind} ${inv.id} (total ${inv.total_cents}, applied ${inv.balance_applied_cents}, due ${inv.amount_due_cents}) ${amount ?? 'all'}: ${done.status} ${done.body.code ?? JSON.stringify([done.body.amount_cents, done.body.refunded_to_card_cents, done.body.credited_to_balance_cents])}`);
        expect(done.status, JSON.stringify(done.body)).toBeLessThan(500);
        if (done.status === 201) {
          // The card part first, up to what the card paid less earlier card parts; the rest to the balance.
          const earlierCard = (await notesOf(ws)).filter((n) => n.invoice_id === inv.id && n.status === 'issued').reduce((s, n) => s + n.refunded_to_card_cents, 0) - done.body.refunded_to_card_cents;
          expect(done.body.refunded_to_card_cents).toBe(Math.min(done.body.amount_cents, inv.amount_due_cents - earlierCard));
        }
        count(`refund ${inv.kind} ${done.status === 201 ? (done.body.credited_to_balance_cents > 0 ? 'to balance' : 'to card') : done.body.code}`);
      } else if (c.kind === 'spend') {
        const quote = await customer.post('/v1/credits/estimate', { model: 'imagen-3', count: c.images, resolution: 'high' });
        const hold = await customer.post('/v1/creations', { quote_id: quote.body.quote_id });
        if (hold.status === 201) expect((await customer.post(`/v1/creations/${hold.body.id}/complete`, { credits: c.images * 3 })).status).toBe(200);
        count(`spend ${hold.status}`);
      }
      await checkInvariants(ws, customer, now, limitCents, log);
    }
    for (const t of await stack.sql<{ status: string; failure_code: string | null }[]>`SELECT status, failure_code FROM auto_top_ups WHERE workspace_id = ${ws}`) {
      count(`top-up ${t.status}${t.failure_code ? ` ${t.failure_code}` : ''}`);
    }
  }

  it('the customer balance, dunning, 3-D Secure and top-ups keep their invariants over random histories', async () => {
    console.log(`BREAKER_BALANCE_SEED=${SEED} BREAKER_BALANCE_RUNS=${RUNS}`);
    await fc.assert(fc.asyncProperty(
      fc.constantFrom('plus', 'max', 'generative'), fc.constantFrom('month' as const, 'year' as const), topUpArb,
      fc.array(commandArb, { minLength: 12, maxLength: 24 }),
      async (plan, interval, topUp, commands) => run(plan, interval, topUp, commands),
    ), { seed: SEED, numRuns: RUNS, endOnFailure: true });
    console.log('exercised', JSON.stringify(stats));
  }, 1_200_000);
});
