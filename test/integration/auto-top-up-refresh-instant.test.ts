import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chargeTopUp, setAutoTopUp } from '../../billing/auto-top-up.js';
import { type AutoTopUpRow, pendingTopUps, readAutoTopUp } from '../../ledger/auto-top-up.js';
import { expireLot, getBalance, grantLot } from '../../ledger/credits.js';
import type { Sql } from '../../ledger/db.js';
import { createTestClock } from '../../ledger/test-clocks.js';
import { createWorkspace, newId, setPaymentMethod } from '../../ledger/workspaces.js';
import { createSandboxProvider } from '../../payments/sandbox.js';
import { startAutoTopUps } from '../../worker/auto-top-up.js';
import { freshDatabase } from '../helpers/database.js';
import { eventually } from '../helpers/temporal.js';

/**
 * An automatic top-up an expiry records at an instant where the subscription's refresh is also due (SPEC §2:
 * every renewal of a monthly plan) is decided on the balance after that whole instant (SPEC §11; billing/auto-top-up.ts
 * chargeTopUp with domain/auto-top-up.ts refreshAwaited). The workflow processes the expiry first and the refresh's
 * grant waits for the renewal's payment; here those steps are taken one by one, no Temporal, so the worker's pass
 * lands deterministically in the window between them.
 */
describe('automatic top-ups at a refresh instant', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let sql: Sql;
  let payments: ReturnType<typeof createSandboxProvider>;
  beforeAll(async () => {
    db = await freshDatabase();
    sql = db.sql;
    payments = createSandboxProvider({ publicUrl: 'http://127.0.0.1:1', sql });
  });
  afterAll(async () => db?.drop());

  const T0 = new Date('2026-01-31T00:00:00Z'); // the current period's start
  const T1 = new Date('2026-03-02T00:00:00Z'); // its end: the renewal's refresh, and lot A's expiry

  /**
   * Max monthly, period [T0, T1), clock at T1 not yet processed: lot A (10 left, expires T1), lot B (400, expires
   * 04-01); auto top-up saved at `threshold` (pack 100); lot A expired at T1 (its hook records the top-up when
   * 400 < threshold). Answers the workspace and its pending top-up.
   */
  async function atTheInstant(threshold: number, at = T1) {
    const clock = await createTestClock(sql, T0);
    const { id } = await createWorkspace(sql, { name: 'top-up at refresh', testClockId: clock.id });
    await sql`INSERT INTO subscriptions (id, workspace_id, plan, interval, status, current_period_start, current_period_end)
              VALUES (${newId('sub')}, ${id}, 'max', 'month', 'active', ${T0}, ${T1})`;
    await setPaymentMethod(sql, id, 'pm_card_visa');
    const a = await grantLot(sql, { key: `${id}:a`, workspaceId: id, source: 'monthly', amount: 10, grantedAt: new Date('2026-01-01T00:00:00Z'), expiresAt: at });
    await grantLot(sql, { key: `${id}:b`, workspaceId: id, source: 'monthly', amount: 400, grantedAt: T0, expiresAt: new Date('2026-04-01T00:00:00Z') });
    const saved = await setAutoTopUp(sql, id, { enabled: true, threshold, pack: 100, monthly_limit_cents: 10_000 });
    if ('invalid' in saved) throw new Error(saved.invalid.reason);
    await sql`UPDATE test_clocks SET frozen_time = ${at} WHERE id = ${clock.id}`;
    await expireLot(sql, { workspaceId: id, lotId: a.lotId, at });
    const topUp = (await pendingTopUps(sql, 1000)).find((t) => t.workspace_id === id)!;
    expect([topUp.cause, topUp.available, topUp.created_at]).toEqual(['expiry', 400, at]);
    return { id, topUp };
  }
  const refresh = (ws: string, amount = 400) =>
    grantLot(sql, { key: `${ws}:c`, workspaceId: ws, source: 'monthly', amount, grantedAt: T1, expiresAt: new Date('2026-05-01T00:00:00Z') });
  const rows = (ws: string) => sql<AutoTopUpRow[]>`SELECT * FROM auto_top_ups WHERE workspace_id = ${ws}`;
  const skippedNotes = async (ws: string) =>
    (await sql`SELECT 1 FROM notifications WHERE workspace_id = ${ws} AND kind = 'top_up_skipped'`).length;

  it('a pass before the refresh decides nothing; after it, the balance recovered: skipped `recovered`, no charge, no notification, armed again', async () => {
    const { id, topUp } = await atTheInstant(405);
    expect(await chargeTopUp({ sql, payments }, topUp)).toBe('pending');
    expect(await chargeTopUp({ sql, payments }, topUp)).toBe('pending');
    expect((await rows(id)).map((t) => t.status)).toEqual(['pending']);
    expect((await sql`SELECT 1 FROM invoices WHERE workspace_id = ${id}`).length).toBe(0);

    await refresh(id); // lot C: 800
    expect(await chargeTopUp({ sql, payments }, topUp)).toBe('skipped');
    expect((await rows(id)).map((t) => [t.status, t.failure_code, t.amount_cents])).toEqual([['skipped', 'recovered', null]]);
    expect((await sql`SELECT 1 FROM invoices WHERE workspace_id = ${id}`).length).toBe(0);
    expect(await skippedNotes(id)).toBe(0);
    expect((await getBalance(sql, id)).available).toBe(800);
    expect((await readAutoTopUp(sql, id, T1))!.armed).toBe(true);
  });

  it('the refresh leaves the balance below the threshold: charged after it', async () => {
    const { id, topUp } = await atTheInstant(900);
    expect(await chargeTopUp({ sql, payments }, topUp)).toBe('pending');
    await refresh(id);
    expect(await chargeTopUp({ sql, payments }, topUp)).toBe('paid');
    expect((await getBalance(sql, id)).available).toBe(900);
  });

  it('the renewal fails (past due, no lot): decided at once on the low balance, skipped `past_due` as SPEC §11 says, the customer told', async () => {
    const { id, topUp } = await atTheInstant(405);
    expect(await chargeTopUp({ sql, payments }, topUp)).toBe('pending');
    await sql`UPDATE subscriptions SET status = 'past_due' WHERE workspace_id = ${id}`;
    expect(await chargeTopUp({ sql, payments }, topUp)).toBe('skipped');
    expect((await rows(id)).map((t) => [t.status, t.failure_code])).toEqual([['skipped', 'past_due']]);
    expect(await skippedNotes(id)).toBe(1);
  });

  it('the subscription goes on paused at that instant (no refresh): decided at once, charged (paused is fine)', async () => {
    const { id, topUp } = await atTheInstant(405);
    await sql`UPDATE subscriptions SET status = 'paused' WHERE workspace_id = ${id}`;
    expect(await chargeTopUp({ sql, payments }, topUp)).toBe('paid');
    expect((await getBalance(sql, id)).available).toBe(500);
  });

  it('an expiry at an instant with no refresh due is decided at once', async () => {
    const at = new Date('2026-02-20T00:00:00Z');
    const { id, topUp } = await atTheInstant(405, at);
    expect(await chargeTopUp({ sql, payments }, topUp)).toBe('paid');
    expect((await getBalance(sql, id)).available).toBe(500);
  });

  it('the worker: more waiting top-ups than a page (21) do not hold up a later one, which is charged; they stay pending', async () => {
    const waiting = [];
    for (let i = 0; i < 21; i++) waiting.push((await atTheInstant(405)).id);
    const { id } = await atTheInstant(405, new Date('2026-02-20T00:00:00Z'));
    const stop = startAutoTopUps({ sql, payments }, 50);
    try {
      await eventually(() => rows(id), (r) => r[0]!.status === 'paid');
    } finally {
      await stop();
    }
    expect((await sql`SELECT count(*)::int AS n FROM auto_top_ups WHERE workspace_id IN ${sql(waiting)} AND status = 'pending'`)[0]!.n).toBe(21);
  });
});
