import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { invoiceGrants } from '../../domain/billing/invoice-grants.js';
import { type LifecycleState, nextDueEvent } from '../../domain/lifecycle/index.js';
import { signStripePayload } from '../../payments/webhooks.js';
import { lifecycleStateQuery } from '../../workflows/messages.js';
import { authenticateOnHostedPage } from '../helpers/hosted-page.js';
import { ADMIN_KEY, startStack, WEBHOOK_SECRET } from '../helpers/stack.js';
import { eventually } from '../helpers/temporal.js';

/**
 * Breaker (states, issue 15 review, fresh eyes): random histories over HTTP that mix the states earlier reviewers
 * drove apart — a scheduled downgrade or pause at the period end, cancel-at-period-end, past due and dunning, a pause
 * and its end, 3-D Secure on changes, renewals and pause ends (completed on the hosted page or left to lapse),
 * disputed renewals (pm_card_createDispute) closed won or lost, packs, spends, payment and dispute webhooks sent again
 * under a new event id, and clock advances to just before/after the period end or across several boundaries at once.
 *
 * After every step, once the sandbox's webhooks are delivered and the clock is ready:
 * - liveness: no due event of the workflow lies at or before the clock's time; every open subscription invoice is
 *   awaited by the workflow (first payment, pending change or dunning); packs waiting for 3-D Secure are counted apart
 *   (they lapse within 23 hours or at their subscription's end);
 * - preview = charge: every change is previewed first, then made with the previewed amount due: the same refusal code,
 *   or the same lines, total, balance applied, amount due and credits granted;
 * - upcoming = charge: when an advance passes the upcoming invoice's date (a renewal or a pause's end) with no request
 *   in between, the first subscription invoice made at that instant has its lines, total, balance applied, amount due;
 * - no credits without payment: every plan lot was granted under a key a paid invoice pays for (or gives back a
 *   switch's clawback); every pack lot's invoice is paid;
 * - the customer balance is never negative and equals what non-void invoices put in and took out, plus the balance
 *   parts of issued credit notes; available credits are never negative;
 * - disputes: the first lot a disputed invoice granted (unexpired, with unheld credits) is frozen while its dispute is
 *   open and spendable again once it is won, also a lot the workflow granted after the dispute was applied;
 *   the customer balance less what lost disputes took back from it (balance_taken_back_cents).
 * BREAKER_STATES_SEED replays a run (printed); BREAKER_STATES_RUNS sets the histories (default 4); BREAKER_STATES_PATH
 * (fast-check's `path` of a failure) replays one history alone.
 */
const SEED = Number(process.env.BREAKER_STATES_SEED ?? Math.floor(Math.random() * 2 ** 31));
const RUNS = Number(process.env.BREAKER_STATES_RUNS ?? 4);
const DAY = 86_400_000;
const PLANS = ['plus', 'max', 'generative', 'team'] as const;
const CARDS = { visa: 'pm_card_visa', declined: 'pm_card_chargeDeclined', '3ds': 'pm_card_authenticationRequired', dispute: 'pm_card_createDispute' } as const;
type Card = keyof typeof CARDS;

type Action =
  | { kind: 'advance'; ms: number }
  /** To the current period's end plus `offsetMs` (negative: just before), when that is ahead. */
  | { kind: 'to_period_end'; offsetMs: number }
  | { kind: 'change'; plan?: string; interval?: 'month' | 'year' }
  | { kind: 'withdraw' } | { kind: 'cancel' } | { kind: 'resume' }
  | { kind: 'pause'; cycles: number }
  | { kind: 'card'; card: Card }
  | { kind: 'authenticate'; pick: number }
  | { kind: 'close_dispute'; pick: number; outcome: 'won' | 'lost' }
  | { kind: 'duplicate_webhook'; pick: number }
  | { kind: 'pack'; size: 100 | 500 }
  | { kind: 'spend'; seconds: number };

const plan = fc.constantFrom(...PLANS);
const interval = fc.constantFrom<'month' | 'year'>('month', 'year');
const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 3, arbitrary: fc.oneof(fc.constantFrom(60_000, 23 * 3_600_000, DAY, 2 * DAY, 8 * DAY, 31 * DAY), fc.integer({ min: 60_000, max: 100 * DAY }))
    .map((ms): Action => ({ kind: 'advance', ms })) },
  { weight: 3, arbitrary: fc.constantFrom(-12 * 3_600_000, -60_000, 0, 60_000, 2 * DAY).map((offsetMs): Action => ({ kind: 'to_period_end', offsetMs })) },
  { weight: 4, arbitrary: fc.record({ plan: fc.option(plan, { nil: undefined }), interval: fc.option(interval, { nil: undefined }) })
    .map((r): Action => ({ kind: 'change', ...(r.plan ? { plan: r.plan } : {}), ...(r.interval ? { interval: r.interval } : {}) })) },
  { weight: 1, arbitrary: fc.constant<Action>({ kind: 'withdraw' }) },
  { weight: 2, arbitrary: fc.constant<Action>({ kind: 'cancel' }) },
  { weight: 2, arbitrary: fc.constant<Action>({ kind: 'resume' }) },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 3 }).map((cycles): Action => ({ kind: 'pause', cycles })) },
  { weight: 3, arbitrary: fc.constantFrom<Card>('visa', 'visa', 'declined', '3ds', 'dispute').map((card): Action => ({ kind: 'card', card })) },
  { weight: 2, arbitrary: fc.nat(9).map((pick): Action => ({ kind: 'authenticate', pick })) },
  { weight: 2, arbitrary: fc.record({ pick: fc.nat(9), outcome: fc.constantFrom<'won' | 'lost'>('won', 'lost') }).map((r): Action => ({ kind: 'close_dispute', ...r })) },
  { weight: 2, arbitrary: fc.nat(9).map((pick): Action => ({ kind: 'duplicate_webhook', pick })) },
  { weight: 1, arbitrary: fc.constantFrom<100 | 500>(100, 500).map((size): Action => ({ kind: 'pack', size })) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 300 }).map((seconds): Action => ({ kind: 'spend', seconds })) },
);
const history = fc.record({
  plan, interval, card: fc.constantFrom<Card>('visa', 'visa', 'dispute'),
  start: fc.constantFrom('2026-01-01T00:00:00Z', '2026-01-31T10:00:00Z', '2028-02-29T09:00:00Z'),
  actions: fc.array(action, { minLength: 6, maxLength: 16 }),
});

const stats: Record<string, number> = {};
const count = (what: string) => { stats[what] = (stats[what] ?? 0) + 1; };

interface InvoiceRow {
  id: string; business_key: string; kind: 'subscription' | 'upgrade' | 'interval_switch' | 'pack'; status: string; created_at: Date;
  lines: { description: string; amount_cents: number }[]; metadata: Record<string, unknown>;
  total_cents: number; balance_applied_cents: number; amount_due_cents: number;
}

describe('breaker states: random histories across lifecycle states keep money, credits and liveness', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => stack?.stop());

  async function play(h: { plan: string; interval: 'month' | 'year'; card: Card; start: string; actions: Action[] }): Promise<void> {
    const operator = stack.api(ADMIN_KEY);
    const clock = (await operator.post('/v1/test-clocks', { frozen_time: h.start })).body;
    const ws = (await operator.post('/v1/workspaces', { name: 'breaker states', test_clock_id: clock.id })).body;
    const customer = stack.api(ws.api_key);
    const steps: string[] = [`subscribe ${h.plan} ${h.interval} at ${h.start} with ${h.card}`];
    let now = Date.parse(h.start);
    const fail = (what: string, detail?: unknown): never => {
      throw new Error(`${what}${detail === undefined ? '' : `: ${JSON.stringify(detail)}`}\nhistory:\n  ${steps.join('\n  ')}`);
    };
    const invoicesOf = async () => stack.sql<InvoiceRow[]>`
      SELECT id, business_key, kind, status, created_at, lines, metadata, total_cents::int AS total_cents,
        balance_applied_cents::int AS balance_applied_cents, amount_due_cents::int AS amount_due_cents
      FROM invoices WHERE workspace_id = ${ws.id} ORDER BY created_at, seq`;

    async function settled(): Promise<void> {
      await eventually(async () => (await stack.sql<{ n: number }[]>`
        SELECT (SELECT count(*) FROM sandbox_outbox WHERE delivered_at IS NULL)::int
             + (SELECT count(*) FROM webhook_events WHERE forwarded_at IS NULL)::int AS n`)[0]!.n, (n) => n === 0, 30_000)
        .catch(() => fail('webhooks never settled'));
      // A dispute the sandbox opened is recorded by its webhook.
      await eventually(() => stack.sql`SELECT s.id FROM sandbox_disputes s LEFT JOIN disputes d ON d.id = s.id WHERE s.workspace_id = ${ws.id} AND d.id IS NULL`,
        (rows) => rows.length === 0, 30_000).catch(() => fail('a sandbox dispute was never recorded'));
      await eventually(() => operator.get(`/v1/test-clocks/${clock.id}`), (r) => r.body.status === 'ready', 30_000)
        .catch(() => fail('the test clock never became ready'));
    }

    async function states(): Promise<{ id: string; state: LifecycleState }[]> {
      const subs = await stack.sql<{ id: string }[]>`SELECT id FROM subscriptions WHERE workspace_id = ${ws.id} ORDER BY created_at`;
      return Promise.all(subs.map(async (s) => ({ id: s.id, state: await stack.temporal.workflow.getHandle(`subscription-${s.id}`).query(lifecycleStateQuery) })));
    }

    async function check(): Promise<void> {
      await settled();
      const all = await states();
      for (const { id, state } of all) {
        const due = nextDueEvent(state);
        if (due && due.at <= now) fail(`subscription ${id} left a due event in the past`, { due, now: new Date(now).toISOString() });
      }
      const invoices = await invoicesOf();
      const awaited = new Set(all.flatMap(({ state }) => [state.incomplete?.invoiceId, state.pendingChange?.invoiceId, state.dunning?.invoiceId]));
      for (const invoice of invoices.filter((i) => i.status === 'open')) {
        // A pack waiting for 3-D Secure lapses 23 hours after its purchase or at its subscription's end (README), by a
        // worker sweep every 15 s: open here is legitimate; the regression test pack-3ds-lapse checks the lapse.
        if (invoice.kind === 'pack') count('pack invoice open (lapses within 23 hours or at the end)');
        else if (!awaited.has(invoice.id)) fail(`open invoice ${invoice.id} (${invoice.kind}) is awaited by no workflow`, invoice.lines);
      }
      const paidGrantKeys = new Set(invoices.filter((i) => i.status === 'paid').flatMap((i) => invoiceGrants(i).map((g) => g.key)));
      const lots = await stack.sql<{ id: number; source: string; granted: number; key: string | null }[]>`
        SELECT l.id, l.source, l.granted, (SELECT o.key FROM ledger_operations o WHERE o.workspace_id = l.workspace_id
          AND o.result ? 'lotId' AND (o.result->>'lotId')::bigint = l.id LIMIT 1) AS key
        FROM lots l WHERE l.workspace_id = ${ws.id} ORDER BY l.id`;
      for (const lot of lots) {
        if (lot.key === null) fail(`lot ${lot.id} has no grant operation`);
        if (lot.key!.endsWith(':restore')) continue;
        if (!paidGrantKeys.has(lot.key!)) fail(`lot ${lot.id} (${lot.source} ${lot.granted}) was granted without a paid invoice for it`, { key: lot.key });
      }
      // A dispute freezes what its invoice granted while it is open, and nothing after it closed won (SPEC §10). Only
      // each invoice's first grant is checked: a yearly invoice's later refreshes granted while it is disputed are not
      // frozen (README, known limits).
      const disputes = await stack.sql<{ invoice_id: string; outcome: string | null }[]>`
        SELECT DISTINCT ON (invoice_id) invoice_id, outcome FROM disputes WHERE workspace_id = ${ws.id} ORDER BY invoice_id, opened_at DESC, id`;
      for (const d of disputes) {
        const invoice = invoices.find((i) => i.id === d.invoice_id);
        const first = invoice && invoiceGrants(invoice)[0];
        if (!first || (d.outcome !== null && d.outcome !== 'won')) continue;
        const [lot] = await stack.sql<{ id: number; remaining: number; held: number; frozen: boolean; expired: boolean }[]>`
          SELECT l.id, l.remaining, l.held, l.dispute_freeze_key IS NOT NULL AS frozen,
            (l.expired_at IS NOT NULL OR (l.expires_at IS NOT NULL AND l.expires_at <= ${new Date(now)})) AS expired
          FROM lots l JOIN ledger_operations o ON o.key = ${first.key} AND (o.result->>'lotId')::bigint = l.id WHERE l.workspace_id = ${ws.id}`;
        if (!lot || lot.expired || lot.remaining - lot.held <= 0) continue;
        // (A dispute applied before the workflow granted the lot froze nothing until ledger/late-refresh.ts: the grant now
        // freezes it; test/integration/dispute-before-grant pins the order.)
        if (lot.frozen !== (d.outcome === null)) fail(`lot ${lot.id} of invoice ${d.invoice_id} is ${lot.frozen ? '' : 'not '}frozen with its dispute ${d.outcome ?? 'open'}`);
        count(`dispute ${d.outcome ?? 'open'}: first lot ${lot.frozen ? 'frozen' : 'thawed'}`);
      }
      const [row] = await stack.sql<{ cents: number }[]>`SELECT customer_balance_cents::int AS cents FROM workspaces WHERE id = ${ws.id}`;
      const [notes] = await stack.sql<{ cents: number }[]>`
        SELECT coalesce(sum(credited_to_balance_cents - balance_taken_back_cents), 0)::int AS cents FROM credit_notes WHERE workspace_id = ${ws.id} AND status = 'issued'`;
      const expected = invoices.filter((i) => i.status !== 'void').reduce((sum, i) => sum + Math.max(-i.total_cents, 0) - i.balance_applied_cents, 0) + notes!.cents;
      if (row!.cents < 0 || row!.cents !== expected) fail('customer balance differs from the invoices and notes', { balance: row!.cents, expected });
      const credits = (await customer.get('/v1/credits')).body;
      if (credits.available < 0) fail('negative available credits', credits);
    }

    expect((await customer.put('/v1/payment-method', { payment_method: CARDS[h.card] })).status).toBe(200);
    if ((await customer.post('/v1/subscription', { plan: h.plan, interval: h.interval })).status !== 201) fail('subscribe failed');
    await check();
    for (const a of h.actions) {
      steps.push(`${new Date(now).toISOString()} ${JSON.stringify(a)}`);
      let response: { status: number; body: any } | undefined;
      switch (a.kind) {
        case 'advance': case 'to_period_end': {
          const sub = (await customer.get('/v1/subscription')).body;
          const to = a.kind === 'advance' ? now + a.ms : Date.parse(sub.current_period_end) + a.offsetMs;
          if (to <= now) break;
          const upcoming = await customer.get('/v1/invoices/upcoming');
          const before = new Set((await invoicesOf()).map((i) => i.id));
          now = to;
          response = await operator.post(`/v1/test-clocks/${clock.id}/advance`, { frozen_time: new Date(now).toISOString() });
          await settled();
          const u = upcoming.body;
          if (upcoming.status === 200 && (u.reason === 'renewal' || u.reason === 'pause_end') && Date.parse(u.next_attempt_at) <= now) {
            const charged = (await invoicesOf()).find((i) => !before.has(i.id) && i.kind === 'subscription');
            if (!charged) fail('upcoming_is_charge: no invoice was made at the upcoming date', u);
            const got = { at: charged!.created_at.toISOString(), lines: charged!.lines, total: charged!.total_cents, applied: charged!.balance_applied_cents, due: charged!.amount_due_cents };
            const want = { at: new Date(u.next_attempt_at).toISOString(), lines: u.lines, total: u.total_cents, applied: u.balance_applied_cents, due: u.amount_due_cents };
            if (JSON.stringify(got) !== JSON.stringify(want)) fail('upcoming_is_charge: the charge differs from the upcoming invoice', { got, want });
            count(`upcoming ${u.reason} = charge`);
          }
          break;
        }
        case 'change': {
          const body = { ...(a.plan ? { plan: a.plan } : {}), ...(a.interval ? { interval: a.interval } : {}) };
          const preview = await customer.post('/v1/subscription/change/preview', body);
          response = await customer.post('/v1/subscription/change', {
            ...body, ...(preview.status === 200 ? { expected_amount_due_cents: preview.body.invoice?.amount_due_cents ?? 0 } : {}),
          });
          if ((preview.body.code ?? null) !== (response.body.code ?? null)) {
            // A card that is declined is only found out by the charge.
            if (!(preview.status === 200 && response.body.code === 'payment_declined')) fail('preview_is_change: refusals differ', { preview: preview.body, made: response.body });
          }
          if (preview.status === 200 && response.status === 200 && preview.body.invoice) {
            const inv = (await invoicesOf()).find((i) => i.id === response!.body.invoice_id);
            const got = { lines: inv?.lines, total: inv?.total_cents, applied: inv?.balance_applied_cents, due: inv?.amount_due_cents, credits: response.body.pending ? preview.body.credits_granted : response.body.credits_granted };
            const want = { lines: preview.body.invoice.lines, total: preview.body.invoice.total_cents, applied: preview.body.invoice.balance_applied_cents, due: preview.body.invoice.amount_due_cents, credits: preview.body.credits_granted };
            if (JSON.stringify(got) !== JSON.stringify(want)) fail('preview_is_change: the change differs from its preview', { got, want });
            count(`change ${preview.body.kind}${response.body.pending ? ' pending' : ''} = preview`);
          }
          break;
        }
        case 'withdraw':
          response = await customer.delete('/v1/subscription/scheduled-change');
          break;
        case 'cancel': case 'resume':
          response = await customer.post(`/v1/subscription/${a.kind}`);
          break;
        case 'pause':
          response = await customer.post('/v1/subscription/pause', { cycles: a.cycles });
          break;
        case 'card':
          response = await customer.put('/v1/payment-method', { payment_method: CARDS[a.card] });
          break;
        case 'authenticate': {
          const open = await stack.sql<{ id: string }[]>`SELECT id FROM invoices WHERE workspace_id = ${ws.id} AND status = 'open' ORDER BY created_at, seq`;
          const waiting = [];
          for (const i of open) if (await stack.payments.pendingAuthentication(i.id)) waiting.push(i.id);
          const id = waiting[a.pick % Math.max(waiting.length, 1)];
          if (id) response = { status: (await authenticateOnHostedPage(`${stack.baseUrl}/sandbox/invoices/${id}`)).status, body: null };
          break;
        }
        case 'close_dispute': {
          const open = await stack.sql<{ id: string }[]>`SELECT id FROM sandbox_disputes WHERE workspace_id = ${ws.id} AND status NOT IN ('won', 'lost') ORDER BY id`;
          const d = open[a.pick % Math.max(open.length, 1)];
          if (d) response = await operator.post(`/v1/admin/sandbox/disputes/${d.id}/close`, { outcome: a.outcome });
          break;
        }
        case 'duplicate_webhook': {
          // Any payment or dispute event of this workspace again, under a new event id (Stripe retries keep the id;
          // a new one is the harder case: only the business keys and the workflow's own checks stop a second effect).
          const events = await stack.sql<{ event: Record<string, any> }[]>`
            SELECT o.payload AS event FROM sandbox_outbox o WHERE o.payload->'data'->'object'->'metadata'->>'workspace_id' = ${ws.id} ORDER BY o.id`;
          const original = events[a.pick % Math.max(events.length, 1)]?.event;
          if (!original) break;
          const text = JSON.stringify({ ...original, id: `${original.id}_dup${steps.length}` });
          const r = await fetch(`${stack.baseUrl}/webhooks/stripe`, {
            method: 'POST', body: text, headers: { 'content-type': 'application/json', 'stripe-signature': signStripePayload(text, WEBHOOK_SECRET) },
          });
          response = { status: r.status, body: null };
          break;
        }
        case 'pack':
          response = await customer.post('/v1/credit-packs', { pack: a.size });
          break;
        case 'spend': {
          const quote = await customer.post('/v1/credits/estimate', { model: 'veo-2', duration_s: a.seconds });
          const hold = await customer.post('/v1/creations', { quote_id: quote.body.quote_id });
          response = hold.status === 201 ? await customer.post(`/v1/creations/${hold.body.id}/complete`, { credits: hold.body.held }) : hold;
          break;
        }
      }
      if (response && response.status >= 500) fail(`${a.kind} answered ${response.status}`, response.body);
      if (response) steps[steps.length - 1] += ` -> ${response.status}${response.body?.code ? ` ${response.body.code}` : ''}`;
      count(`${a.kind} ${response?.status ?? 'skipped'}`);
      await check();
    }
  }

  it(`keep them on ${RUNS} random histories (seed ${SEED})`, { timeout: 1_800_000 }, async () => {
    console.log(`[breaker-states] seed ${SEED} (BREAKER_STATES_SEED=${SEED} to replay), ${RUNS} histories`);
    await fc.assert(fc.asyncProperty(history, play), { seed: SEED, numRuns: RUNS, endOnFailure: true, ...(process.env.BREAKER_STATES_PATH ? { path: process.env.BREAKER_STATES_PATH } : {}) });
    console.log(`[breaker-states] steps checked: ${JSON.stringify(stats)}`);
  });
});
