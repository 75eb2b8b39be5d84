import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grantLot, readBalances } from '../../ledger/credits.js';
import type { Sql } from '../../ledger/db.js';
import { createTestClock } from '../../ledger/test-clocks.js';
import { createWorkspace } from '../../ledger/workspaces.js';
import { freshDatabase } from '../helpers/database.js';

/**
 * readBalances (the balance read's one query, issue 15): one workspace (`=`) and several (`= ANY`) answer the
 * same, each on its own clock, lots in burn order; an id without a workspace reads as an empty balance.
 */
describe('readBalances', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let sql: Sql;
  beforeAll(async () => {
    db = await freshDatabase();
    sql = db.sql;
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('reads one workspace and several alike, each at its own time, and an unknown id as empty', async () => {
    const clock = await createTestClock(sql, new Date('2026-03-10T12:00:00Z'));
    const onClock = await createWorkspace(sql, { name: 'on a clock', testClockId: clock.id });
    const realTime = await createWorkspace(sql, { name: 'real time', testClockId: null });
    await grantLot(sql, { key: `${onClock.id}:pack`, workspaceId: onClock.id, source: 'upgrade', amount: 100, grantedAt: new Date('2026-03-02T00:00:00Z'), expiresAt: new Date('2026-04-01T00:00:00Z') });
    await grantLot(sql, { key: `${onClock.id}:monthly`, workspaceId: onClock.id, source: 'monthly', amount: 800, grantedAt: new Date('2026-03-01T00:00:00Z'), expiresAt: new Date('2026-03-31T00:00:00Z') });
    // Expired at the clock's time: left out of the balance.
    await grantLot(sql, { key: `${onClock.id}:old`, workspaceId: onClock.id, source: 'monthly', amount: 50, grantedAt: new Date('2026-01-01T00:00:00Z'), expiresAt: new Date('2026-03-01T00:00:00Z') });
    await grantLot(sql, { key: `${realTime.id}:pack`, workspaceId: realTime.id, source: 'monthly', amount: 500, grantedAt: new Date(), expiresAt: new Date(Date.now() + 86_400_000) });

    const alone = await readBalances(sql, [onClock.id]);
    const together = await readBalances(sql, [realTime.id, 'ws_missing', onClock.id]);
    const clocked = alone.get(onClock.id)!;
    expect(clocked.balance.available).toBe(900);
    expect(clocked.balance.as_of).toBe('2026-03-10T12:00:00.000Z');
    expect(clocked.balance.lots.map((l) => [l.source, l.remaining])).toEqual([['monthly', 800], ['upgrade', 100]]);
    expect(together.get(onClock.id)).toEqual(clocked);
    expect(together.get(realTime.id)!.balance.available).toBe(500);
    expect(Math.abs(Date.parse(together.get(realTime.id)!.balance.as_of) - Date.now())).toBeLessThan(60_000);
    expect(together.get('ws_missing')!.balance).toMatchObject({ available: 0, held: 0, lots: [] });
    expect((await readBalances(sql, ['ws_missing'])).get('ws_missing')!.lapsedHolds).toBe(false);
  });

  it('writes the JSON GET /v1/credits sends: instants as toISOString writes them, null for no expiry, held and frozen lots', async () => {
    const clock = await createTestClock(sql, new Date('2026-03-10T12:00:00.123456Z'));
    const ws = await createWorkspace(sql, { name: 'json', testClockId: clock.id });
    const grantedAt = new Date('2026-03-02T08:09:10.987Z');
    const { lotId: pack } = await grantLot(sql, { key: `${ws.id}:pack`, workspaceId: ws.id, source: 'pack', amount: 40, grantedAt, expiresAt: null });
    const { lotId: expiredHeld } = await grantLot(sql, { key: `${ws.id}:old`, workspaceId: ws.id, source: 'monthly', amount: 70, grantedAt: new Date('2026-02-01T00:00:00Z'), expiresAt: new Date('2026-03-03T00:00:00Z') });
    const { lotId: adjustment } = await grantLot(sql, { key: `${ws.id}:adj`, workspaceId: ws.id, source: 'adjustment', amount: 5, grantedAt: new Date('2026-03-06T00:00:00Z'), expiresAt: null });
    const { lotId: disputed } = await grantLot(sql, { key: `${ws.id}:up`, workspaceId: ws.id, source: 'upgrade', amount: 30, grantedAt: new Date('2026-03-05T00:00:00Z'), expiresAt: new Date('2026-04-04T00:00:00Z') });
    // The read only: a held portion of an expired lot and a dispute's freeze, written directly.
    await sql`UPDATE lots SET held = 20 WHERE id = ${expiredHeld}`;
    await sql`UPDATE lots SET dispute_freeze_key = 'dispute:test' WHERE id = ${disputed}`;
    const read = (await readBalances(sql, [ws.id])).get(ws.id)!;
    const expected = {
      // The pack waits frozen (no live subscription), the upgrade is frozen by its dispute: only the adjustment counts.
      available: 5, held: 20, as_of: '2026-03-10T12:00:00.123Z',
      lots: [
        { id: `lot_${expiredHeld}`, source: 'monthly', granted: 70, remaining: 20, held: 20, granted_at: '2026-02-01T00:00:00.000Z', expires_at: '2026-03-03T00:00:00.000Z', frozen: false },
        { id: `lot_${disputed}`, source: 'upgrade', granted: 30, remaining: 30, held: 0, granted_at: '2026-03-05T00:00:00.000Z', expires_at: '2026-04-04T00:00:00.000Z', frozen: true },
        // lot_burn_key: an adjustment before a pack
        { id: `lot_${adjustment}`, source: 'adjustment', granted: 5, remaining: 5, held: 0, granted_at: '2026-03-06T00:00:00.000Z', expires_at: null, frozen: false },
        { id: `lot_${pack}`, source: 'pack', granted: 40, remaining: 40, held: 0, granted_at: grantedAt.toISOString(), expires_at: null, frozen: true },
      ],
    };
    expect(JSON.parse(read.json)).toStrictEqual(expected);
    expect(read.balance).toStrictEqual(expected);
    expect(Object.keys(JSON.parse(read.json) as object)).toEqual(['available', 'held', 'as_of', 'lots']);
  });
});
