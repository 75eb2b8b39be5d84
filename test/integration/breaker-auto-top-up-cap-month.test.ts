import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chargeTopUp, setAutoTopUp } from '../../billing/auto-top-up.js';
import { buyPack } from '../../billing/packs.js';
import { findPlan, PACKS, packPriceCents } from '../../domain/catalog.js';
import { type AutoTopUpRow, monthSpend, pendingTopUps } from '../../ledger/auto-top-up.js';
import type { Sql } from '../../ledger/db.js';
import { createTestClock } from '../../ledger/test-clocks.js';
import { createWorkspace, getWorkspace, newId, setPaymentMethod } from '../../ledger/workspaces.js';
import { createSandboxProvider } from '../../payments/sandbox.js';
import { freshDatabase } from '../helpers/database.js';

/**
 * Breaker tests of the automatic top-up's monthly cap and charge (SPEC §11) on real Postgres with the sandbox,
 * no Temporal. Invariant: for every calendar month (UTC, workspace's time) the automatic top-ups that count in
 * it (GET /v1/auto-top-up this_month, ledger/auto-top-up.ts monthSpend: by the top-up's recording time) never
 * exceed monthly_limit_cents, whenever the worker gets to charge them; and one pending top-up is charged once
 * however many passes race on it.
 */
describe('breaker: automatic top-up cap and charge', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let sql: Sql;
  let payments: ReturnType<typeof createSandboxProvider>;
  beforeAll(async () => {
    db = await freshDatabase();
    sql = db.sql;
    payments = createSandboxProvider({ publicUrl: 'http://127.0.0.1:1', sql });
  });
  afterAll(async () => db?.drop());

  const price = packPriceCents(PACKS.find((p) => p.credits === 100)!, findPlan('max'));

  async function workspace(at: Date) {
    const clock = await createTestClock(sql, at);
    const { id } = await createWorkspace(sql, { name: 'breaker', testClockId: clock.id });
    await sql`INSERT INTO subscriptions (id, workspace_id, plan, interval, status, current_period_start, current_period_end, cancel_at_period_end)
              VALUES (${newId('sub')}, ${id}, 'max', 'month', 'active', ${at}, ${new Date(at.getTime() + 30 * 86_400_000)}, false)`;
    await setPaymentMethod(sql, id, 'pm_card_visa');
    const saved = await setAutoTopUp(sql, id, { enabled: true, threshold: 50, pack: 100, monthly_limit_cents: price });
    if ('invalid' in saved) throw new Error(saved.invalid.reason);
    return { id, setClock: (to: Date) => sql`UPDATE test_clocks SET frozen_time = ${to} WHERE id = ${clock.id}` };
  }
  const hook = (ws: string, available: number, cause: string, key: string, at: Date) =>
    sql`SELECT ledger_auto_top_up_check(${ws}, ${available}, ${cause}, ${key}, ${at})`;
  /** A new crossing at `at`: a check sees the balance at the threshold, then a refused hold. */
  const crossing = async (ws: string, key: string, at: Date) => {
    await hook(ws, 1000, 'capture', `${key}:above`, at);
    await hook(ws, 0, 'refusal', key, at);
  };
  const pendingOf = async (ws: string) => (await pendingTopUps(sql, 1000)).find((t) => t.workspace_id === ws)!;
  const topUps = (ws: string) => sql<AutoTopUpRow[]>`SELECT * FROM auto_top_ups WHERE workspace_id = ${ws} ORDER BY seq`;

  it('cap_month_never_exceeded: a top-up recorded on the last minute of a month and charged after midnight counts against that month, so the month stays within its limit', async () => {
    const mar31 = new Date('2026-03-31T23:58:00Z');
    const { id, setClock } = await workspace(new Date('2026-03-10T00:00:00Z'));
    // March's one allowed top-up, paid.
    await crossing(id, 'refusal:q1', new Date('2026-03-10T00:00:00Z'));
    expect(await chargeTopUp({ sql, payments }, await pendingOf(id))).toBe('paid');
    // A second crossing on 31 March, 23:58; the worker reaches it after the test clock passed midnight.
    await setClock(mar31);
    await crossing(id, 'refusal:q2', mar31);
    await setClock(new Date('2026-04-01T00:05:00Z'));
    const outcome = await chargeTopUp({ sql, payments }, await pendingOf(id));
    // The top-up counts in March (its recording month: what GET /v1/auto-top-up's this_month reads).
    const march = await monthSpend(sql, id, mar31);
    expect({ outcome, march }).toEqual({ outcome: 'skipped', march: { month: '2026-03', spent_cents: price, count: 1 } });
  });

  it('charge_once: two worker passes racing on the same pending top-up make one paid invoice and one pack', async () => {
    const at = new Date('2026-05-10T00:00:00Z');
    const { id } = await workspace(at);
    await crossing(id, 'refusal:r1', at);
    const pending = await pendingOf(id);
    const outcomes = await Promise.all([chargeTopUp({ sql, payments }, pending), chargeTopUp({ sql, payments }, pending)]);
    expect(outcomes).toEqual(['paid', 'paid']);
    const invoices = await sql<{ status: string; total_cents: number }[]>`SELECT status, total_cents FROM invoices WHERE workspace_id = ${id}`;
    expect(invoices).toEqual([{ status: 'paid', total_cents: price }]);
    const lots = await sql<{ remaining: number }[]>`SELECT remaining FROM lots WHERE workspace_id = ${id}`;
    expect(lots).toEqual([{ remaining: 100 }]);
    expect((await topUps(id)).map((t) => [t.status, t.amount_cents])).toEqual([['paid', price]]);
  });

  it('paid_top_up_counts_in_cap: a pass that decided after another pass already charged the same top-up never records it skipped (a paid pack always counts in the month and says top_up.succeeded)', async () => {
    const at = new Date('2026-07-10T00:00:00Z');
    const { id } = await workspace(at);
    await crossing(id, 'refusal:t1', at);
    const pending = await pendingOf(id);
    // Pass B looks for the top-up's invoice (none yet), then is held at a gate before it decides.
    let open!: () => void;
    const gate = new Promise<void>((resolve) => { open = resolve; });
    let held = false;
    const gated = new Proxy(sql, {
      apply(target, self, args: unknown[]) {
        const query = Reflect.apply(target as never, self, args) as Promise<unknown>;
        const text = Array.isArray(args[0]) ? (args[0] as string[]).join('?') : '';
        if (!held && text.includes('FROM invoices WHERE business_key')) {
          held = true;
          return query.then(async (rows) => { await gate; return rows; });
        }
        return query;
      },
    });
    const passB = chargeTopUp({ sql: gated, payments }, pending);
    await expect.poll(() => held).toBe(true);
    // Pass A charges the same top-up meanwhile (its purchase, with the top-up's own idempotency key) and stops
    // before recording it; the customer then turns automatic top-ups off.
    await buyPack({ sql, payments }, (await getWorkspace(sql, id))!, { size: 100, idempotencyKey: `auto-top-up:${pending.id}` });
    await setAutoTopUp(sql, id, { enabled: false, threshold: 50, pack: 100, monthly_limit_cents: price });
    open();
    await passB;
    const invoices = await sql<{ status: string }[]>`SELECT status FROM invoices WHERE workspace_id = ${id}`;
    expect(invoices).toEqual([{ status: 'paid' }]);
    expect((await topUps(id)).map((t) => [t.status, t.amount_cents])).toEqual([['paid', price]]);
    expect((await monthSpend(sql, id, at)).spent_cents).toBe(price);
  });

  it('charge_once_after_crash: a pass that stopped after its invoice was paid is carried on by the next without a second charge', async () => {
    const at = new Date('2026-06-10T00:00:00Z');
    const { id } = await workspace(at);
    await crossing(id, 'refusal:s1', at);
    const pending = await pendingOf(id);
    expect(await chargeTopUp({ sql, payments }, pending)).toBe('paid');
    // The first pass "crashed" before settling: its row pending again, its paid invoice kept.
    await sql`UPDATE auto_top_ups SET status = 'pending' WHERE id = ${pending.id}`;
    expect(await chargeTopUp({ sql, payments }, pending)).toBe('paid');
    const invoices = await sql<{ status: string }[]>`SELECT status FROM invoices WHERE workspace_id = ${id}`;
    expect(invoices).toEqual([{ status: 'paid' }]);
    expect(await sql`SELECT remaining FROM lots WHERE workspace_id = ${id}`).toEqual([{ remaining: 100 }]);
  });
});
