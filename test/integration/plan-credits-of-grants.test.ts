import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adjustCredits } from '../../ledger/adjustments.js';
import { grantLot } from '../../ledger/credits.js';
import { planCreditsOfGrants } from '../../ledger/grants.js';
import { createWorkspace } from '../../ledger/workspaces.js';
import { freshDatabase } from '../helpers/database.js';

const DAY = 86_400_000;

/**
 * SPEC §4/§10: what an interval switch reads of its plan lots (ledger/grants.ts planCreditsOfGrants): available,
 * frozen by an open dispute (unheld), and taken by operators' negative adjustments — only those lots', up to `at`.
 */
describe('planCreditsOfGrants', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  beforeAll(async () => {
    db = await freshDatabase();
  });
  afterAll(async () => db?.drop());

  it('available, dispute-frozen and adjusted-away credits of the given grants only', async () => {
    const ws = await createWorkspace(db.sql, { name: 'plan credits', testClockId: null });
    const now = Date.now();
    await grantLot(db.sql, { key: 'prev', workspaceId: ws.id, source: 'monthly', amount: 100, grantedAt: new Date(now - 35 * DAY), expiresAt: new Date(now + 25 * DAY) });
    await grantLot(db.sql, { key: 'cur', workspaceId: ws.id, source: 'monthly', amount: 400, grantedAt: new Date(now - 5 * DAY), expiresAt: new Date(now + 55 * DAY) });
    await grantLot(db.sql, { key: 'pack', workspaceId: ws.id, source: 'pack', amount: 500, grantedAt: new Date(now - 5 * DAY), expiresAt: null });
    // Burn order: 'prev' (earliest expiry) gives its 100, then 'cur' 50; the pack is not a plan lot.
    const adjusted = await adjustCredits(db.sql, { id: 'adj_1', workspaceId: ws.id, credits: -150, reason: 'duplicate grant', expiresAt: null });
    expect(adjusted.lots.map((l) => l.credits)).toEqual([-100, -50]);
    // A positive adjustment is its own lot, never a plan lot's.
    await adjustCredits(db.sql, { id: 'adj_2', workspaceId: ws.id, credits: 30, reason: 'goodwill', expiresAt: null });
    const at = new Date(Date.now() + 1000);
    expect(await planCreditsOfGrants(db.sql, ws.id, ['prev', 'cur', 'never-granted'], at)).toEqual({ available: 350, frozen: 0, adjustedAway: 150 });
    expect(await planCreditsOfGrants(db.sql, ws.id, ['cur'], at)).toEqual({ available: 350, frozen: 0, adjustedAway: 50 });
    // An adjustment after `at` is not counted yet.
    expect(await planCreditsOfGrants(db.sql, ws.id, ['prev', 'cur'], new Date(now - DAY))).toMatchObject({ adjustedAway: 0 });
    // A dispute's freeze of 'cur' (as freezeForDispute marks it), 20 of it held: 330 unheld frozen, nothing available.
    await db.sql`UPDATE lots SET held = 20, dispute_freeze_key = 'dispute:dp_1:freeze' WHERE workspace_id = ${ws.id} AND granted = 400`;
    expect(await planCreditsOfGrants(db.sql, ws.id, ['prev', 'cur'], at)).toEqual({ available: 0, frozen: 330, adjustedAway: 150 });
    // Past the lot's expiry it is neither available nor frozen.
    expect(await planCreditsOfGrants(db.sql, ws.id, ['cur'], new Date(now + 56 * DAY))).toEqual({ available: 0, frozen: 0, adjustedAway: 50 });
    expect(await planCreditsOfGrants(db.sql, ws.id, [], at)).toEqual({ available: 0, frozen: 0, adjustedAway: 0 });
  });
});
