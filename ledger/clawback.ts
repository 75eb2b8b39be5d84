import { lotOfGrant } from './grants.js';
import type { Sql } from './db.js';
import { availableAt, journal, noteLowBalance, onceInLedger } from './operations.js';

/**
 * Takes back up to `credits` unspent, unheld credits from the lots of the given grants (by their business
 * keys), in the order given, frozen by an open dispute or not, once per `key`; journaled as `clawback`. What was spent or is held is not taken
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
    // Unexpired, unheld credits, spendable or frozen by an open dispute: a switch keeps dispute-frozen credits
    // (priced as kept, domain/lifecycle/changes.ts), so its clawback takes them too (journal amount 0: they do not
    // count towards the balance), or a won dispute would thaw credits the switch deducted.
    const lots = await tx<{ id: number; unheld: number; spendable: boolean }[]>`
      SELECT l.id, l.remaining - l.held AS unheld, lot_spendable(l, ${req.at}) AS spendable FROM lots l
      WHERE l.workspace_id = ${req.workspaceId} AND l.id IN ${tx(lotIds)} AND l.expired_at IS NULL AND l.remaining > l.held
        AND NOT l.frozen AND NOT lot_expired(l, ${req.at})
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
      if (lot.spendable) balance -= take;
      entries.push({ workspaceId: req.workspaceId, kind: 'clawback' as const, lotId: lot.id, remainingDelta: -take, heldDelta: 0, amount: lot.spendable ? -take : 0, balanceAfter: balance, at: req.at, key: req.key });
    }
    await journal(tx, entries);
    await noteLowBalance(tx, { workspaceId: req.workspaceId, ctx, before, after: balance, key: req.key });
    return { clawedBack: req.credits - left, shortfall: left };
  });
}
