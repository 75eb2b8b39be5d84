import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clawBack } from '../../ledger/clawback.js';
import { grantLot } from '../../ledger/credits.js';
import { createWorkspace } from '../../ledger/workspaces.js';
import { freshDatabase } from '../helpers/database.js';

/** SPEC §4 interval switch onto fewer credits: unspent, unheld credits are taken back once, newest lot first. */
describe('clawback of a switch', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  beforeAll(async () => {
    db = await freshDatabase();
  });
  afterAll(async () => db?.drop());

  it('takes from the given grants in order, only what is available, journals clawback entries, and runs once per key', async () => {
    const ws = await createWorkspace(db.sql, { name: 'clawback', testClockId: null });
    const at = new Date('2043-01-16T00:00:00Z');
    await grantLot(db.sql, { key: 'old', workspaceId: ws.id, source: 'monthly', amount: 100, grantedAt: new Date('2042-12-01T00:00:00Z'), expiresAt: new Date('2043-01-30T00:00:00Z') });
    await grantLot(db.sql, { key: 'new', workspaceId: ws.id, source: 'monthly', amount: 400, grantedAt: new Date('2043-01-01T00:00:00Z'), expiresAt: new Date('2043-03-02T00:00:00Z') });
    await grantLot(db.sql, { key: 'gone', workspaceId: ws.id, source: 'monthly', amount: 50, grantedAt: new Date('2042-11-01T00:00:00Z'), expiresAt: new Date('2043-01-10T00:00:00Z') });

    const first = await clawBack(db.sql, { key: 'switch-1', workspaceId: ws.id, grantKeys: ['new', 'old', 'gone', 'never-granted'], credits: 450, at });
    expect(first).toEqual({ clawedBack: 450, shortfall: 0 });
    const again = await clawBack(db.sql, { key: 'switch-1', workspaceId: ws.id, grantKeys: ['new', 'old'], credits: 450, at });
    expect(again).toEqual(first);
    const lots = await db.sql<{ granted: number; remaining: number }[]>`SELECT granted, remaining FROM lots WHERE workspace_id = ${ws.id} ORDER BY granted`;
    // The expired lot (50) is not touched; the newest lot gives all 400, the older one 50 of its 100.
    expect(lots.map((l) => [l.granted, l.remaining])).toEqual([[50, 50], [100, 50], [400, 0]]);
    const entries = await db.sql<{ kind: string; amount: number }[]>`
      SELECT kind, amount FROM ledger_entries WHERE workspace_id = ${ws.id} AND kind = 'clawback' ORDER BY id`;
    expect(entries.map((e) => [e.kind, e.amount])).toEqual([['clawback', -400], ['clawback', -50]]);

    const short = await clawBack(db.sql, { key: 'switch-2', workspaceId: ws.id, grantKeys: ['new', 'old'], credits: 80, at });
    expect(short).toEqual({ clawedBack: 50, shortfall: 30 });
  });
});
