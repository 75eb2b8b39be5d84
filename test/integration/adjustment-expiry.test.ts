import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adjustCredits, expireDueAdjustmentLots } from '../../ledger/adjustments.js';
import type { Sql } from '../../ledger/db.js';
import { balanceChange } from '../../ledger/history.js';
import type { EntryKind } from '../../ledger/operations.js';
import { availableAt } from '../../ledger/operations.js';
import { createTestClock } from '../../ledger/test-clocks.js';
import { createWorkspace, newId } from '../../ledger/workspaces.js';
import { freshDatabase } from '../helpers/database.js';

/**
 * Adjustment lots with an expiry (SPEC §10) have no workflow timer: the worker's sweep journals their expiry
 * (expireDueAdjustmentLots), once, at the lot's expiry instant; a frozen one's entry has amount 0 (its freeze
 * already took it out of the balance), so the journal's balance changes still add up to the available balance.
 */
describe('adjustment lots expire through the sweep', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let sql: Sql;
  beforeAll(async () => {
    db = await freshDatabase();
    sql = db.sql;
  });
  afterAll(async () => db?.drop());

  async function workspace(live: boolean) {
    const clock = await createTestClock(sql, new Date('2026-01-01T00:00:00Z'));
    const { id } = await createWorkspace(sql, { name: 'adjustment expiry', testClockId: clock.id });
    if (live) {
      await sql`INSERT INTO subscriptions (id, workspace_id, plan, interval, status, current_period_start, current_period_end)
                VALUES (${newId('sub')}, ${id}, 'max', 'month', 'active', '2026-01-01', '2026-01-31')`;
    }
    return { id, clockId: clock.id };
  }
  const entries = (ws: string) => sql<{ kind: EntryKind; amount: number; remaining_delta: number; at: Date }[]>`
    SELECT kind, amount, remaining_delta, at FROM ledger_entries WHERE workspace_id = ${ws} ORDER BY id`;

  it('journals each due lot once at its expiry, leaving the rest; frozen ones with amount 0', async () => {
    const live = await workspace(true);
    const frozen = await workspace(false);
    await adjustCredits(sql, { id: newId('adj'), workspaceId: live.id, credits: 30, reason: 'short', expiresAt: new Date('2026-01-05T00:00:00Z') });
    await adjustCredits(sql, { id: newId('adj'), workspaceId: live.id, credits: 20, reason: 'long', expiresAt: new Date('2026-03-01T00:00:00Z') });
    await adjustCredits(sql, { id: newId('adj'), workspaceId: frozen.id, credits: 15, reason: 'frozen', expiresAt: new Date('2026-01-05T00:00:00Z') });
    expect(await expireDueAdjustmentLots(sql)).toBe(0);

    await sql`UPDATE test_clocks SET frozen_time = '2026-01-10T00:00:00Z' WHERE id IN (${live.clockId}, ${frozen.clockId})`;
    expect(await expireDueAdjustmentLots(sql)).toBe(2);
    expect(await expireDueAdjustmentLots(sql)).toBe(0);

    const liveEntries = await entries(live.id);
    expect(liveEntries.map((e) => [e.kind, e.amount])).toEqual([['adjust', 30], ['adjust', 20], ['expire', -30]]);
    expect(liveEntries[2]!.at).toEqual(new Date('2026-01-05T00:00:00Z'));
    const frozenEntries = await entries(frozen.id);
    expect(frozenEntries.map((e) => [e.kind, e.amount, e.remaining_delta])).toEqual([['adjust', 15, 15], ['freeze', -15, 0], ['expire', 0, -15]]);
    for (const ws of [live.id, frozen.id]) {
      const journal = await entries(ws);
      const [row] = await sql<{ now: Date }[]>`SELECT workspace_now(${ws}) AS now`;
      expect(journal.reduce((sum, e) => sum + balanceChange(e.kind, e.amount), 0)).toBe(await availableAt(sql, ws, row!.now));
    }
  });
});
