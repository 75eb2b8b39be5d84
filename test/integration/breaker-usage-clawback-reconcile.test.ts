import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grantLot } from '../../ledger/credits.js';
import type { Sql } from '../../ledger/db.js';
import { clawBackForRefund, freezeForDispute, thawForDispute } from '../../ledger/invoice-clawback.js';
import { readUsage } from '../../ledger/usage.js';
import { freshDatabase } from '../helpers/database.js';
import { clockWorkspace, finish, hold, paidPack, setClock } from '../helpers/invoice-fixtures.js';

/**
 * Breaker test of GET /v1/usage's reconciliation (SPEC §11: "the window's grants, captures, expiries, clawbacks
 * and adjustments reconcile to the change of balance") through refunds and disputes of packs while credits are
 * held. Invariant usage_reconciles_through_clawbacks_and_disputes: for every window between two instants of the
 * history, opening + net_change = closing, and the journal's last balance is the available balance.
 */
describe('breaker: usage reconciliation through clawbacks and dispute freezes', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let sql: Sql;
  beforeAll(async () => {
    db = await freshDatabase();
    sql = db.sql;
  });
  afterAll(async () => db?.drop());

  const MIN = 60_000;

  it('usage_reconciles_through_clawbacks_and_disputes: pending clawbacks settled by releases and captures, a frozen held part, an adjustment', async () => {
    const t0 = new Date('2026-04-02T08:00:00Z').getTime();
    const { workspaceId: ws, clockId } = await clockWorkspace(sql, new Date(t0));
    let minute = 0;
    const step = async () => { minute += 1; await setClock(sql, clockId, new Date(t0 + minute * MIN)); return new Date(t0 + minute * MIN); };

    const a = await paidPack(sql, ws, new Date(t0), 100, 1000, 'a');
    const b = await paidPack(sql, ws, await step(), 100, 1000, 'b');
    await grantLot(sql, { key: `${ws}:adjust`, workspaceId: ws, source: 'adjustment', amount: 30, grantedAt: await step(), expiresAt: null });
    await step();
    const c1 = await hold(sql, ws, 150);
    await step();
    const c2 = await hold(sql, ws, 60);
    // Refund all of pack a while its credits are held (pending), half of b; dispute b.
    await clawBackForRefund(sql, { key: 'refund-a', invoiceId: a.invoice.id, refundedCentsTotal: 1000, at: await step() });
    await clawBackForRefund(sql, { key: 'refund-b', invoiceId: b.invoice.id, refundedCentsTotal: 500, at: await step() });
    await freezeForDispute(sql, { key: 'dispute-b', invoiceId: b.invoice.id, at: await step() });
    await step();
    await finish(sql, ws, c1, 40);
    await step();
    await finish(sql, ws, c2, 0);
    await thawForDispute(sql, { key: 'won-b', invoiceId: b.invoice.id, at: await step() });
    await step();

    const instants = (await sql<{ at: Date }[]>`SELECT DISTINCT at FROM ledger_entries WHERE workspace_id = ${ws} ORDER BY at`).map((r) => r.at.getTime());
    const bounds = [...instants, t0 + (minute + 1) * MIN];
    const failures: unknown[] = [];
    for (let i = 0; i < bounds.length; i++) {
      for (let j = i + 1; j < bounds.length; j++) {
        const usage = await readUsage(sql, ws, { from: new Date(bounds[i]!), to: new Date(bounds[j]!) }, 'day');
        const r = usage.reconciliation;
        if (r.opening_available + r.net_change !== r.closing_available) failures.push({ from: (bounds[i]! - t0) / MIN, to: (bounds[j]! - t0) / MIN, r });
      }
    }
    expect(failures).toEqual([]);
    const [last] = await sql<{ balance_after: number }[]>`
      SELECT balance_after FROM ledger_entries WHERE workspace_id = ${ws} ORDER BY at DESC, id DESC LIMIT 1`;
    const [now] = await sql<{ available: number }[]>`SELECT coalesce(sum(available), 0)::int AS available FROM spendable_lots(${ws}, workspace_now(${ws}))`;
    // Burn order: the adjustment (30), a, then b. c1 captures 40 (adjustment 30, a 10): a's released 90 goes to
    // its refund; b's refund takes 50 (20 at once, 20 and 10 as c1's and c2's parts come back); the rest of b
    // (50) freezes with the dispute and thaws when it is won.
    expect([last!.balance_after, now!.available]).toEqual([50, 50]);
  });
});
