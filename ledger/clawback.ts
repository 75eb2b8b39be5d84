import { lotOfGrant } from './grants.js';
import type { Sql } from './db.js';
import { availableAt, journal, noteLowBalance, onceInLedger } from './operations.js';

/**
 * Takes back up to `credits` unspent, unheld credits from the lots of the given grants (by their business
 * keys), in the order given, once per `key`; journaled as `clawback`. What was spent or is held is not taken
 * (the shortfall is returned). Used by an interval switch onto fewer credits than the current lot's unused
 * part (SPEC §4: switching never creates credits).
 */
export async function clawBack(
  sql: Sql,
  req: { key: string; workspaceId: string; grantKeys: string[]; credits: number; at: Date },
): Promise<{ clawedBack: number; shortfall: number }> {
  const lotIds: number[] = [];
  for (const grantKey of req.grantKeys) {
    const lotId = await lotOfGrant(sql, req.workspaceId, grantKey);
    if (lotId !== undefined) lotIds.push(lotId);
  }
  return onceInLedger(sql, { key: req.key, workspaceId: req.workspaceId }, async (tx, ctx) => {
    if (lotIds.length === 0 || req.credits <= 0) return { clawedBack: 0, shortfall: Math.max(req.credits, 0) };
    const before = await availableAt(tx, req.workspaceId, req.at);
    // Only what still counts towards the balance at `at` (lot_available: unexpired, unfrozen, unheld).
    const lots = await tx<{ id: number; unheld: number }[]>`
      SELECT l.id, lot_available(l, ${req.at}) AS unheld FROM lots l
      WHERE l.workspace_id = ${req.workspaceId} AND l.id IN ${tx(lotIds)} AND l.expired_at IS NULL AND lot_available(l, ${req.at}) > 0
      ORDER BY l.id FOR UPDATE`;
    lots.sort((a, b) => lotIds.indexOf(Number(a.id)) - lotIds.indexOf(Number(b.id)));
    let left = req.credits;
    let balance = before;
    const entries = [];
    for (const lot of lots) {
      const take = Math.min(left, lot.unheld);
      if (take === 0) break;
      await tx`UPDATE lots SET remaining = remaining - ${take} WHERE id = ${lot.id}`;
      left -= take;
      balance -= take;
      entries.push({ workspaceId: req.workspaceId, kind: 'clawback' as const, lotId: lot.id, remainingDelta: -take, heldDelta: 0, amount: -take, balanceAfter: balance, at: req.at, key: req.key });
    }
    await journal(tx, entries);
    await noteLowBalance(tx, { workspaceId: req.workspaceId, ctx, before, after: balance, key: req.key });
    return { clawedBack: req.credits - left, shortfall: left };
  });
}
