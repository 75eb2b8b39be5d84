import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chargeTopUp, setAutoTopUp } from '../../billing/auto-top-up.js';
import { Refusal } from '../../domain/refusals.js';
import { type AutoTopUpRow, pendingTopUps, settleTopUp } from '../../ledger/auto-top-up.js';
import { clawBackForRefund } from '../../ledger/invoice-clawback.js';
import { grantLot } from '../../ledger/credits.js';
import type { Sql } from '../../ledger/db.js';
import { createQuote, endCreation, holdForQuote } from '../../ledger/spend.js';
import { createTestClock } from '../../ledger/test-clocks.js';
import { createWorkspace, newId, setPaymentMethod } from '../../ledger/workspaces.js';
import { createSandboxProvider } from '../../payments/sandbox.js';
import { freshDatabase } from '../helpers/database.js';

/**
 * Breaker test of the automatic top-up's arming (SPEC §11: "armed ... whenever available is at or above the
 * threshold; when a capture ... takes available below it, or a hold is refused for want of credits, one pack is
 * bought") through the real spend path (ledger_hold, ledger_end) and the worker's charge, on real Postgres with
 * the sandbox. Invariant crossing_after_rise_buys_one: once available was at or above the threshold again, the
 * next capture that takes it below buys a pack, whatever refusals came in between (a client retrying the hold of
 * a quote that already triggered a top-up included).
 */
describe('breaker: automatic top-up re-arming', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let sql: Sql;
  let payments: ReturnType<typeof createSandboxProvider>;
  beforeAll(async () => {
    db = await freshDatabase();
    sql = db.sql;
    payments = createSandboxProvider({ publicUrl: 'http://127.0.0.1:1', sql });
  });
  afterAll(async () => db?.drop());

  const refusalOf = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => {
    if (e instanceof Refusal) return e;
    throw e;
  });

  it('crossing_after_rise_buys_one: a retried hold of the quote that triggered a paid top-up does not use up the next crossing', async () => {
    const at = new Date('2026-03-10T12:00:00Z');
    const clock = await createTestClock(sql, at);
    const { id: ws } = await createWorkspace(sql, { name: 'breaker re-arm', testClockId: clock.id });
    await sql`INSERT INTO subscriptions (id, workspace_id, plan, interval, status, current_period_start, current_period_end, cancel_at_period_end)
              VALUES (${newId('sub')}, ${ws}, 'max', 'month', 'active', ${at}, '2026-04-09', false)`;
    await setPaymentMethod(sql, ws, 'pm_card_visa');
    const saved = await setAutoTopUp(sql, ws, { enabled: true, threshold: 50, pack: 100, monthly_limit_cents: 100_000 });
    if ('invalid' in saved) throw new Error(saved.invalid.reason);
    const topUps = () => sql<AutoTopUpRow[]>`SELECT * FROM auto_top_ups WHERE workspace_id = ${ws} ORDER BY seq`;

    // A 500-credit creation is refused with nothing available: one top-up, paid: 100 available (at or above 50).
    const big = await createQuote(sql, ws, { model: 'veo-2', duration_s: 250 }, 500);
    expect((await refusalOf(holdForQuote(sql, ws, big.quote_id)))?.detail).toMatchObject({ top_up_pending: true, available: 0 });
    expect(await chargeTopUp({ sql, payments }, (await pendingTopUps(sql, 1000)).find((t) => t.workspace_id === ws)!)).toBe('paid');
    // The client retries the same hold: still too little (100 < 500).
    expect((await refusalOf(holdForQuote(sql, ws, big.quote_id)))?.code).toBe('insufficient_credits');
    // A 70-credit creation (one lot) captured in full takes available from 100 to 30, below 50: a new crossing buys a pack.
    const small = await createQuote(sql, ws, { model: 'veo-2', duration_s: 35 }, 70);
    const { creation } = await holdForQuote(sql, ws, small.quote_id);
    await endCreation(sql, ws, creation.id, { status: 'succeeded', reported: 70 });
    const recorded = (await topUps()).map((t) => [t.trigger_key, t.status]);
    expect(recorded).toContainEqual([`capture:${creation.id}`, 'pending']);
  });

  it('no_rearm_without_rise: a release into a lot whose refund takes it back at once never re-arms (the balance never reached the threshold)', async () => {
    const at = new Date('2026-03-10T12:00:00Z');
    const clock = await createTestClock(sql, at);
    const { id: ws } = await createWorkspace(sql, { name: 'breaker phantom', testClockId: clock.id });
    await sql`INSERT INTO subscriptions (id, workspace_id, plan, interval, status, current_period_start, current_period_end, cancel_at_period_end)
              VALUES (${newId('sub')}, ${ws}, 'max', 'month', 'active', ${at}, '2026-04-09', false)`;
    await setPaymentMethod(sql, ws, 'pm_card_visa');
    await grantLot(sql, { key: `${ws}:adjust`, workspaceId: ws, source: 'adjustment', amount: 30, grantedAt: at, expiresAt: null });
    const saved = await setAutoTopUp(sql, ws, { enabled: true, threshold: 50, pack: 100, monthly_limit_cents: 100_000 });
    if ('invalid' in saved) throw new Error(saved.invalid.reason);
    const topUps = () => sql<AutoTopUpRow[]>`SELECT * FROM auto_top_ups WHERE workspace_id = ${ws} ORDER BY seq`;
    const pendingOf = async () => (await pendingTopUps(sql, 1000)).find((t) => t.workspace_id === ws)!;
    const quote = (credits: number) => createQuote(sql, ws, { model: 'veo-2', duration_s: credits / 2 }, credits);

    // 30 available, a 40-credit hold refused: top-up 1, paid (130 available).
    await refusalOf(holdForQuote(sql, ws, (await quote(40)).quote_id));
    expect(await chargeTopUp({ sql, payments }, await pendingOf())).toBe('paid');
    const pack = (await topUps())[0]!;
    // A long job holds 125 (the adjustment's 30, the pack's 95); a 4-credit job captured takes available to 1:
    // top-up 2, which fails (its crossing is served).
    const long = (await holdForQuote(sql, ws, (await quote(125)).quote_id)).creation;
    const shortJob = (await holdForQuote(sql, ws, (await quote(4)).quote_id)).creation;
    await endCreation(sql, ws, shortJob.id, { status: 'succeeded', reported: 4 });
    await settleTopUp(sql, (await pendingOf()).id, { status: 'failed', failureCode: 'card_declined', at });
    // The pack is refunded in full while the long job holds 95 of it: its unheld 1 is taken now, the 95 when
    // released. The long job fails: 30 come back to the adjustment, the pack's 95 go to the refund; available
    // 30, never 50 (the journal's release of the 95 says 125 before the clawback beside it takes them).
    await clawBackForRefund(sql, { key: 'refund-pack', invoiceId: pack.invoice_id!, refundedCentsTotal: pack.amount_cents!, at });
    await endCreation(sql, ws, long.id, { status: 'failed' });
    const [bal] = await sql<{ available: number }[]>`SELECT coalesce(sum(available), 0)::int AS available FROM spendable_lots(${ws}, ${at})`;
    expect(bal!.available).toBe(30);
    // A 10-credit capture (30 → 20): the same crossing, still below the threshold since top-up 2: no pack.
    const next = (await holdForQuote(sql, ws, (await quote(10)).quote_id)).creation;
    await endCreation(sql, ws, next.id, { status: 'succeeded', reported: 10 });
    expect((await topUps()).map((t) => t.status)).toEqual(['paid', 'failed']);
  });
});
