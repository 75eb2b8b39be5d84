import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/common';
import { createActivities } from '../../activities/index.js';
import { refundInvoice } from '../../billing/refunds.js';
import { periodBounds, refreshLotExpiry } from '../../domain/calendar.js';
import { type Interval, planById, priceCents } from '../../domain/catalog.js';
import { initialState, type LifecycleState, planChange } from '../../domain/lifecycle/index.js';
import { periodLine } from '../../domain/lifecycle/effects.js';
import { prorateCents, remainingFraction } from '../../domain/proration.js';
import { Refusal } from '../../domain/refusals.js';
import { grantLot } from '../../ledger/credits.js';
import { AmountDueChanged, draftInvoice, type InvoiceRow, markInvoice, voidInvoice } from '../../ledger/invoices.js';
import { changeLedgerView } from '../../ledger/period-in-force.js';
import { createSandboxProvider } from '../../payments/sandbox.js';
import { freshDatabase } from '../helpers/database.js';
import { clockWorkspace, setClock } from '../helpers/invoice-fixtures.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 0, 1);
const JAN_11 = T0 + 10 * DAY;

/**
 * SPEC §4/§10, README "Billing rules": an operator refund of the invoice in force made while an upgrade or
 * interval switch is in flight is paid back once, by the refund or by the change's unused-time credit, never by
 * both. The race is ordered by calling the functions in the bad order against real Postgres (no timing): the
 * workflow's read of the refunds (changeLedgerView), the refund (billing/refunds.ts refundInvoice), the change's
 * draft (ledger/invoices.ts draftInvoice, as the charge activity and draftConfirmedCharge call it), its payment or
 * void. A refund between the read and the draft lowers the drafted credit (a confirmed change: preview_outdated);
 * a refund after the draft (the invoice open for 3-D Secure, or paid) is limited by the credit. Both sides hold
 * the credited invoice's row, so run at the same time they end in one of the two orders (checked, no deadlock).
 * INFLIGHT_REFUND_SEED replays the property over the order of {read, refund, draft, pay or void}.
 */
describe('a refund while an upgrade or interval switch is in flight', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let sandbox: ReturnType<typeof createSandboxProvider>;
  beforeAll(async () => {
    db = await freshDatabase();
    sandbox = createSandboxProvider({ publicUrl: 'http://sandbox.test', sql: db.sql });
  });
  afterAll(async () => db?.drop());

  /** A workspace on `plan`/`interval` since 2026-01-01: its first invoice paid, its first lot granted, the clock at `at`. */
  async function subscribed(plan: string, interval: Interval, at = JAN_11) {
    const { workspaceId, clockId } = await clockWorkspace(db.sql, new Date(T0));
    const subscriptionId = `sub_${workspaceId}`;
    const cycleKey = `${subscriptionId}:c0:${T0}`;
    const { start, end } = periodBounds(T0, interval, 0);
    const draft = await draftInvoice(db.sql, {
      businessKey: `${cycleKey}:period:0:subscription`, workspaceId, subscriptionId, kind: 'subscription', createdAt: new Date(T0),
      lines: [periodLine(plan, interval, start, end)],
    });
    const first = await markInvoice(db.sql, draft.id, { status: 'paid', paidAt: new Date(T0) });
    await grantLot(db.sql, {
      key: `${cycleKey}:refresh:0:grant`, workspaceId, source: 'monthly', amount: planById(plan).monthlyCredits,
      grantedAt: new Date(T0), expiresAt: new Date(refreshLotExpiry(T0, interval, 0)),
    });
    await setClock(db.sql, clockId, new Date(at));
    const state: LifecycleState = {
      ...initialState({ subscriptionId, plan, interval, startedAt: T0 }), status: 'active', nextRefresh: 1,
      lots: [{ key: `${cycleKey}:refresh:0:grant`, expiresAt: refreshLotExpiry(T0, interval, 0) }], currentLotExpiresAt: refreshLotExpiry(T0, interval, 0),
    };
    return { workspaceId, subscriptionId, state, first, at };
  }
  type Subscribed = Awaited<ReturnType<typeof subscribed>>;

  /** The workflow's step: read the refunds (the local activity changeLedgerView), price the change. Returns the charge. */
  async function readAndPrice(s: Subscribed, request: { plan?: string; interval?: Interval }) {
    const switching = request.interval !== undefined && request.interval !== s.state.interval;
    const view = await changeLedgerView(db.sql, { workspaceId: s.workspaceId, subscriptionId: s.subscriptionId, grantKeys: s.state.lots.map((l) => l.key), at: new Date(s.at), switching });
    const planned = planChange(s.state, request, s.at, view);
    if (planned.kind === 'downgrade') throw new Error('not a charge');
    return planned.charge;
  }
  /** The change's draft, as the charge activity makes it (unconfirmed) or draftConfirmedCharge (`expected`). */
  const draft = (s: Subscribed, charge: Awaited<ReturnType<typeof readAndPrice>>, expectedAmountDueCents?: number) => draftInvoice(db.sql, {
    businessKey: charge.businessKey, workspaceId: s.workspaceId, subscriptionId: s.subscriptionId, kind: charge.invoiceKind as 'upgrade' | 'interval_switch',
    lines: charge.lines, createdAt: new Date(s.at), ...(expectedAmountDueCents === undefined ? {} : { expectedAmountDueCents }),
  });
  const refund = (invoiceId: string, amountCents?: number) =>
    refundInvoice({ sql: db.sql, payments: sandbox }, { invoiceId, reason: 'in flight', ...(amountCents === undefined ? {} : { amountCents }) });
  /** A refund's outcome: the amount refunded, or the refusal's code and what it said was left. */
  const tryRefund = (invoiceId: string, amountCents?: number) => refund(invoiceId, amountCents).then(
    (note) => ({ refunded: Number(note.amount_cents) }),
    (error: unknown) => {
      if (!(error instanceof Refusal)) throw error;
      return { code: error.code, refundable: error.detail.refundable_cents as number, proratedBy: error.detail.prorated_by };
    });
  /** Credit notes of an invoice (cents) and what the sandbox refunded to the card. */
  async function returned(invoiceId: string) {
    const [notes] = await db.sql<{ cents: number }[]>`SELECT coalesce(sum(amount_cents), 0)::int AS cents FROM credit_notes WHERE invoice_id = ${invoiceId}`;
    const [card] = await db.sql<{ cents: number }[]>`SELECT coalesce(sum(amount_cents), 0)::int AS cents FROM sandbox_refunds WHERE invoice_id = ${invoiceId}`;
    return { notes: notes!.cents, card: card!.cents };
  }
  const credit = (invoice: InvoiceRow) => Math.max(0, -invoice.lines[0]!.amount_cents);

  it('Plus → Max on 01-11, 500 refunded after the read: the draft credits 800 × 700 ÷ 1200 = 467, 1466 due; 233 left to refund', async () => {
    const s = await subscribed('plus', 'month');
    const charge = await readAndPrice(s, { plan: 'max' });
    expect(charge.lines).toEqual([{ description: 'Unused time on Plus (monthly)', amount_cents: -800 }, { description: 'Remaining time on Max (monthly)', amount_cents: 1933 }]);
    expect(await tryRefund(s.first.id, 500)).toEqual({ refunded: 500 });
    const upgrade = await draft(s, charge);
    expect(upgrade).toMatchObject({
      kind: 'upgrade', status: 'draft', subtotal_cents: 1466, total_cents: 1466, amount_due_cents: 1466,
      lines: [{ description: 'Unused time on Plus (monthly), less 333 refunded', amount_cents: -467 }, { description: 'Remaining time on Max (monthly)', amount_cents: 1933 }],
    });
    await markInvoice(db.sql, upgrade.id, { status: 'paid', paidAt: new Date(s.at) });
    // The refund is a discount on the month (700 of 1200 kept): the unused time is credited at that share, once;
    // the 10 used days at the same share (400 × 700 ÷ 1200 = 233) are all that is left to refund.
    expect(await tryRefund(s.first.id, 234)).toMatchObject({ code: 'refund_exceeds_paid', refundable: 233 });
    expect(await tryRefund(s.first.id)).toEqual({ refunded: 233 });
    expect(await returned(s.first.id)).toEqual({ notes: 733, card: 733 });
    expect(733 + credit(upgrade)).toBe(1200);
    // A retry of the charge activity finds the same draft (by its key): nothing re-priced twice.
    expect((await draft(s, charge)).id).toBe(upgrade.id);
  });

  it('refunded in full after the read: the credit is 0 ("less 800 refunded"), the remaining time on Max in full', async () => {
    const s = await subscribed('plus', 'month');
    const charge = await readAndPrice(s, { plan: 'max' });
    expect(await tryRefund(s.first.id)).toEqual({ refunded: 1200 });
    const upgrade = await draft(s, charge);
    expect(upgrade).toMatchObject({ total_cents: 1933, lines: [{ description: 'Unused time on Plus (monthly), less 800 refunded', amount_cents: 0 }, { amount_cents: 1933 }] });
  });

  it('a confirmed change (1133 previewed) after a 500 refund: preview_outdated at 1466, nothing drafted', async () => {
    const s = await subscribed('plus', 'month');
    const charge = await readAndPrice(s, { plan: 'max' });
    expect(await tryRefund(s.first.id, 500)).toEqual({ refunded: 500 });
    await expect(draft(s, charge, 1133)).rejects.toBeInstanceOf(AmountDueChanged);
    // Through the activity the workflow calls: non-retryable preview_outdated with the fresh amount.
    const activities = createActivities({ sql: db.sql, payments: sandbox });
    const refused = await activities.draftConfirmedCharge({
      subscriptionId: s.subscriptionId, workspaceId: s.workspaceId, businessKey: charge.businessKey, kind: 'upgrade', lines: charge.lines, at: s.at, expectedAmountDueCents: 1133,
    }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ApplicationFailure);
    expect(refused).toMatchObject({ type: 'preview_outdated', nonRetryable: true, details: [{ amount_due_cents: 1466, expected_amount_due_cents: 1133 }] });
    expect(await db.sql`SELECT id FROM invoices WHERE business_key = ${charge.businessKey}`).toHaveLength(0);
  });

  it('Max monthly → yearly on 01-11, 1000 refunded after the read: −1266 + 20880 (not −1933)', async () => {
    const s = await subscribed('max', 'month');
    const charge = await readAndPrice(s, { interval: 'year' });
    expect(charge.lines.map((l) => l.amount_cents)).toEqual([-1933, 20880]);
    expect(await tryRefund(s.first.id, 1000)).toEqual({ refunded: 1000 });
    const switched = await draft(s, charge);
    expect(switched).toMatchObject({
      kind: 'interval_switch', total_cents: 19614, amount_due_cents: 19614,
      lines: [{ description: 'Unused time on Max (monthly), less 667 refunded', amount_cents: -1266 }, { description: 'Max (yearly)', amount_cents: 20880 }],
    });
  });

  it('Max yearly → monthly on 07-02, 15000 refunded after the read: the credit at 5880 ÷ 20880 (2948) pays July, 48 left for the balance', async () => {
    const s = await subscribed('max', 'year', Date.UTC(2026, 6, 2));
    const charge = await readAndPrice(s, { interval: 'month' });
    expect(charge.lines.map((l) => l.amount_cents)).toEqual([-10469, 2900]);
    expect(await tryRefund(s.first.id, 15000)).toEqual({ refunded: 15000 });
    const switched = await draft(s, charge);
    expect(switched).toMatchObject({ total_cents: -48, amount_due_cents: 0, lines: [{ description: 'Unused time on Max (yearly), less 7521 refunded', amount_cents: -2948 }, { amount_cents: 2900 }] });
    expect(15000 + 2948).toBeLessThanOrEqual(20880);
    const [ws] = await db.sql<{ cents: number }[]>`SELECT customer_balance_cents AS cents FROM workspaces WHERE id = ${s.workspaceId}`;
    // The draft's negative total (what the credit leaves after July) goes to the customer balance, as any change's does.
    expect(ws!.cents).toBe(48);
  });

  it('a refund while the change waits for 3-D Secure (open) counts its credit: 400 left; voided, the 800 come back', async () => {
    const s = await subscribed('plus', 'month');
    const charge = await readAndPrice(s, { plan: 'max' });
    const upgrade = await draft(s, charge);
    // Drafted only (draftConfirmedCharge before the charge): already counted.
    expect(await tryRefund(s.first.id, 1200)).toMatchObject({ code: 'refund_exceeds_paid', refundable: 400, proratedBy: [{ invoice_id: upgrade.id, amount_cents: 800 }] });
    await markInvoice(db.sql, upgrade.id, { status: 'open', error: 'authentication_required' });
    expect(await tryRefund(s.first.id, 401)).toMatchObject({ code: 'refund_exceeds_paid', refundable: 400 });
    expect(await tryRefund(s.first.id, 300)).toEqual({ refunded: 300 });
    // The change lapses unpaid: its credit was never given, so the rest of the period can be refunded.
    await voidInvoice(db.sql, upgrade.id);
    expect(await tryRefund(s.first.id)).toEqual({ refunded: 900 });
    expect(await returned(s.first.id)).toEqual({ notes: 1200, card: 1200 });
  });

  it('run at the same time, a refund of 1000 and the draft end in one of the two orders (five times, no deadlock)', async () => {
    for (let i = 0; i < 5; i++) {
      const s = await subscribed('plus', 'month');
      const charge = await readAndPrice(s, { plan: 'max' });
      const [outcome, upgrade] = await Promise.all([tryRefund(s.first.id, 1000), draft(s, charge)]);
      const refunded = 'refunded' in outcome ? outcome.refunded : 0;
      // Refund first: accepted, credit 800 × 200 ÷ 1200 = 133. Draft first: credit 800, the refund refused (400 left).
      expect([refunded, credit(upgrade)]).toEqual(refunded > 0 ? [1000, 133] : [0, 800]);
      if (refunded === 0) expect(outcome).toMatchObject({ code: 'refund_exceeds_paid', refundable: 400 });
      expect(refunded + credit(upgrade)).toBeLessThanOrEqual(1200);
    }
  });

  const SEED = Number(process.env.INFLIGHT_REFUND_SEED ?? Math.floor(Math.random() * 2 ** 31));
  const RUNS = Number(process.env.INFLIGHT_REFUND_RUNS ?? 16);
  const STEPS = ['before the read', 'between the read and the draft', 'while the draft is open', 'after it is settled'] as const;

  it(`property: ${RUNS} orders of {read, refund, draft, pay or void}, refund + credit never above what was paid (seed ${SEED})`, async () => {
    console.log(`[refund-inflight-change] seed ${SEED} (INFLIGHT_REFUND_SEED=${SEED} to replay), ${RUNS} runs`);
    await fc.assert(fc.asyncProperty(
      fc.constantFrom(
        { plan: 'plus', interval: 'month' as Interval, request: { plan: 'max' } },
        { plan: 'max', interval: 'month' as Interval, request: { interval: 'year' as Interval } },
      ),
      fc.integer({ min: 1, max: 29 }), fc.integer({ min: 0, max: 3 }), fc.double({ min: 0, max: 1, noNaN: true }), fc.boolean(),
      async (change, day, step, share, pays) => {
        const s = await subscribed(change.plan, change.interval, T0 + day * DAY);
        const paid = priceCents(planById(change.plan), change.interval);
        const { start, end } = periodBounds(T0, change.interval, 0);
        const unused = prorateCents(paid, remainingFraction(start, end, s.at));
        const amount = Math.max(1, Math.round(paid * share));
        let outcome: Awaited<ReturnType<typeof tryRefund>> | undefined;
        if (step === 0) outcome = await tryRefund(s.first.id, amount);
        const charge = await readAndPrice(s, change.request);
        if (step === 1) outcome = await tryRefund(s.first.id, amount);
        let invoice = await draft(s, charge);
        await markInvoice(db.sql, invoice.id, { status: 'open', error: 'authentication_required' });
        if (step === 2) outcome = await tryRefund(s.first.id, amount);
        if (pays) invoice = await markInvoice(db.sql, invoice.id, { status: 'paid', paidAt: new Date(s.at) });
        else await voidInvoice(db.sql, invoice.id);
        if (step === 3) outcome = await tryRefund(s.first.id, amount);

        const refunded = outcome && 'refunded' in outcome ? outcome.refunded : 0;
        const given = pays ? credit(invoice) : 0;
        const left = paid - unused;
        // Refunded before the draft: always made, and the draft credits what it left of the unused time.
        // After the draft (open or paid): only what the credit left; after a void: anything paid.
        const expected = step <= 1
          ? { refunded: amount, credit: Math.min(paid - amount, Math.floor((2 * unused * (paid - amount) + paid) / (2 * paid))) }
          : { refunded: step === 3 && !pays ? amount : amount <= left ? amount : 0, credit: unused };
        expect({ refunded, credit: credit(invoice) }, `${STEPS[step]}, ${amount} of ${paid}, unused ${unused}`).toEqual(expected);
        if (refunded === 0) expect(outcome).toMatchObject({ code: 'refund_exceeds_paid', refundable: left });
        // What the period in force was paid is returned at most once: refunds + the credit given.
        expect(refunded + given).toBeLessThanOrEqual(paid);
        expect(await returned(s.first.id)).toEqual({ notes: refunded, card: refunded });
      },
    ), { seed: SEED, numRuns: RUNS });
  });
});
