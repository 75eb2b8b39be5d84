import { Refusal } from '../domain/refusals.js';
import { expireLot, formatLotId } from './credits.js';
import type { Sql } from './db.js';
import { availableAt, type Entry, journal, noteLowBalance, onceInLedger } from './operations.js';

/** What an adjustment did (kept in ledger_operations.result under its key, so a replay returns it). */
export interface AdjustmentView {
  id: string;
  workspace_id: string;
  /** Signed credits: positive granted, negative taken. */
  credits: number;
  reason: string;
  /** ISO instant, the workspace's time (its test clock's when it has one). */
  at: string;
  /** The new lot's expiry (positive adjustments only); null = never. */
  expires_at: string | null;
  /** The lots touched and by how much (signed), in burn order for a negative adjustment. */
  lots: { lot: string; credits: number }[];
  /** Available balance right after the adjustment. */
  balance_after: number;
  /** True when the credits were granted while the workspace has no live subscription (frozen until one starts). */
  frozen: boolean;
}

export interface AdjustmentRequest {
  /** The adjustment's id (e.g. `adj_…`); its ledger operation key is `adjustment:<id>`. */
  id: string;
  workspaceId: string;
  /** Non-zero integer credits. */
  credits: number;
  reason: string;
  /** Positive adjustments only: when the new lot expires; null = never (burns after every expiring lot, before packs). */
  expiresAt: Date | null;
}

/**
 * SPEC §10 adjustments, once per id (onceInLedger): a positive one grants a lot of source `adjustment` at the
 * workspace's current time (frozen, like a pack, while the workspace has no live subscription: journaled as
 * `adjust` +N then `freeze` −N, so the journal's amounts keep adding up to the available balance); a
 * negative one takes unspent, unheld, spendable credits in burn order (`adjust` −n per lot).
 * Throws Refusal `insufficient_credits` (detail: required, available) when a negative one asks for more than
 * is available, and Refusal `invalid_request` when expires_at is not after the workspace's time; nothing is
 * changed then (the transaction, operation key included, rolls back).
 */
export async function adjustCredits(sql: Sql, req: AdjustmentRequest): Promise<AdjustmentView> {
  return onceInLedger(sql, { key: adjustmentKey(req.id), workspaceId: req.workspaceId }, async (tx, ctx) => {
    const now = ctx.now;
    const before = await availableAt(tx, req.workspaceId, now);
    const entry = (lotId: number, credits: number, balanceAfter: number, kind: 'adjust' | 'freeze' = 'adjust'): Entry => ({
      workspaceId: req.workspaceId, kind, lotId, remainingDelta: kind === 'adjust' ? credits : 0, heldDelta: 0, amount: credits,
      balanceAfter, at: now, key: adjustmentKey(req.id), ...(kind === 'adjust' ? { reason: req.reason } : {}),
    });
    let entries: Entry[];
    let lots: { lot: string; credits: number }[];
    let frozen = false;
    if (req.credits > 0) {
      if (req.expiresAt && req.expiresAt.getTime() <= now.getTime()) {
        throw new Refusal('invalid_request', `expires_at: must be after the workspace's current time ${now.toISOString()}`);
      }
      frozen = !ctx.live;
      const [lot] = await tx<{ id: number }[]>`
        INSERT INTO lots (workspace_id, source, granted, remaining, granted_at, expires_at, frozen)
        VALUES (${req.workspaceId}, 'adjustment', ${req.credits}, ${req.credits}, ${now}, ${req.expiresAt}, ${frozen})
        RETURNING id`;
      entries = [entry(lot!.id, req.credits, before + req.credits)];
      if (frozen) entries.push(entry(lot!.id, -req.credits, before, 'freeze'));
      lots = [{ lot: formatLotId(lot!.id), credits: req.credits }];
    } else {
      const wanted = -req.credits;
      // spendable_lots: unexpired, unfrozen lots with unheld credits, in burn order (one definition, SQL).
      const spendable = await tx<{ id: number; available: number }[]>`SELECT id, available FROM spendable_lots(${req.workspaceId}, ${now})`;
      const available = spendable.reduce((sum, lot) => sum + lot.available, 0);
      if (available < wanted) {
        throw new Refusal('insufficient_credits', `the adjustment takes ${wanted} credits; ${available} are available`, { required: wanted, available });
      }
      let left = wanted;
      let balance = before;
      entries = [];
      lots = [];
      for (const lot of spendable) {
        if (left === 0) break;
        const take = Math.min(left, lot.available);
        await tx`UPDATE lots SET remaining = remaining - ${take} WHERE id = ${lot.id}`;
        left -= take;
        balance -= take;
        entries.push(entry(lot.id, -take, balance));
        lots.push({ lot: formatLotId(lot.id), credits: -take });
      }
    }
    await journal(tx, entries);
    const after = entries[entries.length - 1]!.balanceAfter;
    await noteLowBalance(tx, { workspaceId: req.workspaceId, ctx, before, after, key: adjustmentKey(req.id) });
    return {
      id: req.id, workspace_id: req.workspaceId, credits: req.credits, reason: req.reason, at: now.toISOString(),
      expires_at: req.credits > 0 ? req.expiresAt?.toISOString() ?? null : null, lots, balance_after: after, frozen,
    };
  });
}

export function adjustmentKey(id: string): string {
  return `adjustment:${id}`;
}

/**
 * Journals the expiry of adjustment lots whose expires_at has come (the workflow expires only the lots it
 * granted; an adjustment's expiry has no timer). A lot past its expiry already counts for nothing in the
 * balance (lot_expired); this writes its `expire` entry once, through expireLot (key `lot:<id>:expire`; a
 * frozen lot's entry has amount 0: its freeze already took it out of the available balance).
 * Returns the number of lots expired.
 */
export async function expireDueAdjustments(sql: Sql, workspaceId: string): Promise<number> {
  const due = await sql<{ id: number; expires_at: Date }[]>`
    SELECT l.id, l.expires_at FROM lots l
    WHERE l.workspace_id = ${workspaceId} AND l.source = 'adjustment' AND l.expired_at IS NULL AND l.remaining > 0
      AND lot_expired(l, workspace_now(${workspaceId}))`;
  for (const lot of due) await expireLot(sql, { workspaceId, lotId: lot.id, at: lot.expires_at });
  return due.length;
}

/**
 * The same for every workspace (the worker's sweep, so the journal catches up without a read): adjustment
 * lots past their expiry at their workspace's time, up to `limit` per call. Returns the number expired.
 */
export async function expireDueAdjustmentLots(sql: Sql, opts: { limit?: number } = {}): Promise<number> {
  const due = await sql<{ id: number; workspace_id: string; expires_at: Date }[]>`
    SELECT l.id, l.workspace_id, l.expires_at FROM lots l
    WHERE l.source = 'adjustment' AND l.expired_at IS NULL AND l.remaining > 0 AND l.expires_at IS NOT NULL
      AND lot_expired(l, workspace_now(l.workspace_id))
    ORDER BY l.expires_at LIMIT ${opts.limit ?? 1000}`;
  for (const lot of due) await expireLot(sql, { workspaceId: lot.workspace_id, lotId: lot.id, at: lot.expires_at });
  return due.length;
}
