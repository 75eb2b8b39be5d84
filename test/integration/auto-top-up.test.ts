import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chargeTopUp, setAutoTopUp } from '../../billing/auto-top-up.js';
import { buyPack } from '../../billing/packs.js';
import { type AutoTopUpRow, pendingTopUps, readAutoTopUp } from '../../ledger/auto-top-up.js';
import { expireLot, getBalance, grantLot } from '../../ledger/credits.js';
import type { Sql } from '../../ledger/db.js';
import { getInvoice } from '../../ledger/invoices.js';
import { createTestClock } from '../../ledger/test-clocks.js';
import { createWorkspace, newId, setPaymentMethod } from '../../ledger/workspaces.js';
import { createSandboxProvider } from '../../payments/sandbox.js';
import { freshDatabase } from '../helpers/database.js';

/**
 * Automatic top-ups (SPEC §11) on real Postgres with the sandbox provider, no Temporal: the spend path's
 * hook (ledger_auto_top_up_check, migration 1732400000020) records one top-up per crossing in the caller's
 * transaction; the worker's charge (billing/auto-top-up.ts chargeTopUp) re-checks the setting, the monthly
 * cap and the subscription, buys the pack through the pack service, and counts failures.
 */
describe('automatic top-ups: the hook and the charge', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let sql: Sql;
  let payments: ReturnType<typeof createSandboxProvider>;
  beforeAll(async () => {
    db = await freshDatabase();
    sql = db.sql;
    payments = createSandboxProvider({ publicUrl: 'http://127.0.0.1:1', sql });
  });
  afterAll(async () => db?.drop());

  const T0 = new Date('2026-03-10T00:00:00Z');

  /** A workspace on its own clock at T0 with a Max subscription (`status`) and a card. */
  async function workspace(opts: { status?: string; cancelAtPeriodEnd?: boolean; card?: string } = {}) {
    const clock = await createTestClock(sql, T0);
    const { id } = await createWorkspace(sql, { name: 'auto top-up', testClockId: clock.id });
    await sql`INSERT INTO subscriptions (id, workspace_id, plan, interval, status, current_period_start, current_period_end, cancel_at_period_end)
              VALUES (${newId('sub')}, ${id}, 'max', 'month', ${opts.status ?? 'active'}, ${T0}, '2026-04-09', ${opts.cancelAtPeriodEnd ?? false})`;
    await setPaymentMethod(sql, id, opts.card ?? 'pm_card_visa');
    return { id, clockId: clock.id };
  }
  const setClock = (clockId: string, at: Date) => sql`UPDATE test_clocks SET frozen_time = ${at} WHERE id = ${clockId}`;
  const save = async (ws: string, s: { enabled?: boolean; threshold?: number; pack?: number; monthly_limit_cents?: number } = {}) => {
    const saved = await setAutoTopUp(sql, ws, { enabled: true, threshold: 50, pack: 100, monthly_limit_cents: 10_000, ...s });
    if ('invalid' in saved) throw new Error(saved.invalid.reason);
    return saved.view;
  };
  /** Calls the hook as the spend path does (available after the change, the change's business key). */
  const hook = async (ws: string, available: number, cause: string, key: string, at = T0) =>
    (await sql<{ r: Record<string, unknown> }[]>`SELECT ledger_auto_top_up_check(${ws}, ${available}, ${cause}, ${key}, ${at}) AS r`)[0]!.r;
  /** A new crossing: the balance back at the threshold (a check sees it), then a refused hold. */
  const crossing = async (ws: string, key: string, at = T0) => {
    await hook(ws, 1000, 'capture', `${key}:above`, at);
    return hook(ws, 0, 'refusal', key, at);
  };
  const topUps = (ws: string) => sql<AutoTopUpRow[]>`SELECT * FROM auto_top_ups WHERE workspace_id = ${ws} ORDER BY seq`;
  const pendingOf = async (ws: string) => (await pendingTopUps(sql, 1000)).find((t) => t.workspace_id === ws)!;
  const notes = async (ws: string) => (await sql<{ kind: string }[]>`
    SELECT kind FROM notifications WHERE workspace_id = ${ws} AND kind IN ('top_up_skipped', 'top_up_failed', 'auto_top_up_disabled') ORDER BY id`)
    .map((n) => n.kind);

  it('no setting: the hook records nothing and answers nothing', async () => {
    const { id } = await workspace();
    expect(await hook(id, 0, 'capture', 'capture:a')).toEqual({});
    expect(await topUps(id)).toEqual([]);
  });

  it('one top-up per crossing: recorded below the threshold, keyed by the crossing, at most one in flight; the refusal answer says top_up_pending', async () => {
    const { id } = await workspace();
    await save(id);
    expect(await hook(id, 60, 'capture', 'capture:1')).toEqual({});
    expect(await hook(id, 40, 'capture', 'capture:2')).toEqual({ top_up_pending: true });
    // The same crossing replayed, further captures below, a refusal: still the one top-up.
    expect(await hook(id, 40, 'capture', 'capture:2')).toEqual({ top_up_pending: true });
    expect(await hook(id, 30, 'capture', 'capture:3')).toEqual({ top_up_pending: true });
    expect(await hook(id, 30, 'refusal', 'refusal:q1')).toEqual({ top_up_pending: true });
    expect((await topUps(id)).map((t) => [t.trigger_key, t.cause, t.status, t.pack_credits, t.available])).toEqual([
      ['capture:2', 'capture', 'pending', 100, 40],
    ]);
  });

  it('disabled: crossings record nothing', async () => {
    const { id } = await workspace();
    await save(id, { enabled: false });
    expect(await hook(id, 0, 'capture', 'capture:off')).toEqual({});
    expect(await hook(id, 0, 'refusal', 'refusal:off')).toEqual({});
    expect(await topUps(id)).toEqual([]);
  });

  it('a refused hold is a crossing even above the threshold (the customer wanted more than there is)', async () => {
    const { id } = await workspace();
    await save(id, { threshold: 10 });
    expect(await hook(id, 80, 'refusal', 'refusal:q2')).toEqual({ top_up_pending: true });
    expect((await topUps(id)).map((t) => t.cause)).toEqual(['refusal']);
  });

  it('an expiry that leaves available below the threshold records a top-up in the expiry\'s transaction, keyed by the expiry', async () => {
    const { id, clockId } = await workspace();
    const expiring = await grantLot(sql, { key: `${id}:m1`, workspaceId: id, source: 'monthly', amount: 100, grantedAt: T0, expiresAt: new Date('2026-03-20T00:00:00Z') });
    await grantLot(sql, { key: `${id}:m2`, workspaceId: id, source: 'monthly', amount: 30, grantedAt: T0, expiresAt: new Date('2026-05-01T00:00:00Z') });
    await save(id);
    await setClock(clockId, new Date('2026-03-21T00:00:00Z'));
    await expireLot(sql, { workspaceId: id, lotId: expiring.lotId, at: new Date('2026-03-20T00:00:00Z') });
    expect((await topUps(id)).map((t) => [t.trigger_key, t.cause, t.status, t.available, t.created_at.toISOString()])).toEqual([
      [`lot:${expiring.lotId}:expire`, 'expiry', 'pending', 30, '2026-03-20T00:00:00.000Z'],
    ]);
  });

  it('armed again by any grant that lifted the balance since the crossing: one drop after a pack is a new crossing; without one it is not', async () => {
    const { id } = await workspace();
    await save(id);
    await hook(id, 10, 'capture', 'capture:c1');
    await chargeTopUp({ sql, payments }, await pendingOf(id)); // +100: 100 ≥ 50, journaled as a grant
    expect((await readAutoTopUp(sql, id, T0))?.armed).toBe(true);
    // A hold took it to 20 without a check; the capture's check sees 20: a new crossing.
    expect(await hook(id, 20, 'capture', 'capture:c2')).toEqual({ top_up_pending: true });
    await sql`UPDATE auto_top_ups SET status = 'failed' WHERE workspace_id = ${id} AND status = 'pending'`;
    // Still below the threshold, nothing granted since: the same crossing, nothing recorded.
    expect(await hook(id, 15, 'capture', 'capture:c3')).toEqual({});
    expect((await topUps(id)).map((t) => t.trigger_key)).toEqual(['capture:c1', 'capture:c2']);
  });

  it('pays a top-up with the pack service: the plan\'s pack price, a never-expiring pack lot, the failure count reset', async () => {
    const { id } = await workspace();
    await save(id, { pack: 500 });
    await hook(id, 0, 'capture', 'capture:p1');
    expect(await chargeTopUp({ sql, payments }, await pendingOf(id))).toBe('paid');
    const [topUp] = await topUps(id);
    expect(topUp).toMatchObject({ status: 'paid', amount_cents: 3280, failure_code: null });
    expect(await getInvoice(sql, topUp!.invoice_id!)).toMatchObject({ kind: 'pack', status: 'paid', total_cents: 3280 });
    const balance = await getBalance(sql, id);
    expect(balance.lots.map((l) => [l.source, l.granted, l.expires_at])).toEqual([['pack', 500, null]]);
    // A second pass over the same top-up charges nothing more.
    expect(await chargeTopUp({ sql, payments }, topUp!)).toBe('paid');
    expect((await getBalance(sql, id)).available).toBe(500);
    expect((await sql`SELECT count(*)::int AS n FROM invoices WHERE workspace_id = ${id}`)[0]!.n).toBe(1);
  });

  it('the monthly cap counts paid automatic top-ups of the calendar month (manual packs apart): over it skipped, notified once a month; the next month buys again', async () => {
    const { id, clockId } = await workspace();
    await save(id, { monthly_limit_cents: 1600 }); // two 100-packs at Max's 800
    await buyPack({ sql, payments }, { id, name: 'auto top-up', test_clock_id: clockId }, { size: 500 }); // manual: not counted
    const results: string[] = [];
    for (let i = 0; i < 4; i += 1) {
      await crossing(id, `refusal:cap${i}`);
      results.push(await chargeTopUp({ sql, payments }, await pendingOf(id)));
    }
    expect(results).toEqual(['paid', 'paid', 'skipped', 'skipped']);
    expect((await topUps(id)).map((t) => [t.status, t.failure_code]).sort()).toEqual([
      ['paid', null], ['paid', null], ['skipped', 'monthly_limit'], ['skipped', 'monthly_limit'],
    ]);
    expect(await notes(id)).toEqual(['top_up_skipped']);
    expect((await readAutoTopUp(sql, id, T0))?.this_month).toEqual({ month: '2026-03', spent_cents: 1600, count: 2 });

    await setClock(clockId, new Date('2026-04-01T00:00:00Z'));
    await crossing(id, 'refusal:april', new Date('2026-04-01T00:00:00Z'));
    expect(await chargeTopUp({ sql, payments }, await pendingOf(id))).toBe('paid');
  });

  it('a declined card fails the top-up (no payable invoice left); two in a row disable it; a paid one between resets the count', async () => {
    const { id } = await workspace({ card: 'pm_card_chargeDeclined' });
    await save(id);
    await hook(id, 0, 'refusal', 'refusal:d1');
    expect(await chargeTopUp({ sql, payments }, await pendingOf(id))).toBe('failed');
    await setPaymentMethod(sql, id, 'pm_card_visa');
    await crossing(id, 'refusal:d2');
    expect(await chargeTopUp({ sql, payments }, await pendingOf(id))).toBe('paid');
    expect((await readAutoTopUp(sql, id, T0))?.failures_in_row).toBe(0);

    await setPaymentMethod(sql, id, 'pm_card_chargeDeclined');
    await crossing(id, 'refusal:d3');
    expect(await chargeTopUp({ sql, payments }, await pendingOf(id))).toBe('failed');
    expect((await readAutoTopUp(sql, id, T0))).toMatchObject({ enabled: true, failures_in_row: 1 });
    await crossing(id, 'refusal:d4');
    expect(await chargeTopUp({ sql, payments }, await pendingOf(id))).toBe('failed');
    expect((await readAutoTopUp(sql, id, T0))).toMatchObject({ enabled: false, failures_in_row: 2, disabled_reason: 'payment_failed_twice' });
    expect(await notes(id)).toEqual(['top_up_failed', 'top_up_failed', 'top_up_failed', 'auto_top_up_disabled']);

    const failed = (await topUps(id)).filter((t) => t.status === 'failed');
    expect(failed.map((t) => t.failure_code)).toEqual(['card_declined', 'card_declined', 'card_declined']);
    for (const t of failed) expect((await getInvoice(sql, t.invoice_id!))?.status).toBe('void');
    // Disabled: the next crossing records nothing.
    expect(await crossing(id, 'refusal:d5')).toEqual({});
    // Saving again enables it with the count cleared.
    expect(await save(id)).toMatchObject({ enabled: true, failures_in_row: 0, disabled_reason: null, armed: true });
  });

  it('a card that needs 3-D Secure fails the top-up (the customer is not there) and voids its invoice', async () => {
    const { id } = await workspace({ card: 'pm_card_authenticationRequired' });
    await save(id);
    await hook(id, 0, 'capture', 'capture:3ds');
    expect(await chargeTopUp({ sql, payments }, await pendingOf(id))).toBe('failed');
    const [topUp] = await topUps(id);
    expect(topUp).toMatchObject({ status: 'failed', failure_code: 'authentication_required' });
    expect((await getInvoice(sql, topUp!.invoice_id!))?.status).toBe('void');
    expect((await getBalance(sql, id)).available).toBe(0);
    expect(await notes(id)).toEqual(['top_up_failed']);
  });

  it('no top-up while past due or canceling at the period end (skipped, nothing charged); paused buys', async () => {
    for (const [opts, expected] of [
      [{ status: 'past_due' }, 'past_due'], [{ cancelAtPeriodEnd: true }, 'cancel_at_period_end'], [{ status: 'canceled' }, 'no_live_subscription'],
    ] as const) {
      const { id } = await workspace(opts);
      await save(id);
      await hook(id, 0, 'capture', `capture:${expected}`);
      expect(await chargeTopUp({ sql, payments }, await pendingOf(id))).toBe('skipped');
      expect((await topUps(id)).map((t) => [t.status, t.failure_code, t.invoice_id])).toEqual([['skipped', expected, null]]);
      expect(await notes(id)).toEqual(['top_up_skipped']);
    }
    const paused = await workspace({ status: 'paused' });
    await save(paused.id);
    await hook(paused.id, 0, 'capture', 'capture:paused');
    expect(await chargeTopUp({ sql, payments }, await pendingOf(paused.id))).toBe('paid');
  });

  it('a monthly limit below one pack\'s price is refused, naming the field; nothing saved', async () => {
    const { id } = await workspace();
    expect(await setAutoTopUp(sql, id, { enabled: true, threshold: 10, pack: 500, monthly_limit_cents: 3279 }))
      .toEqual({ invalid: { field: 'monthly_limit_cents', reason: expect.stringContaining('3280') } });
    expect(await readAutoTopUp(sql, id, T0)).toBeUndefined();
  });
});
