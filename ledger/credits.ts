import type { Sql } from './db.js';
import { availableAt, journal, onceInLedger } from './operations.js';
import { workspaceNow } from './workspaces.js';

export type LotSource = 'monthly' | 'upgrade' | 'pack';

export interface GrantRequest {
  key: string;
  workspaceId: string;
  source: LotSource;
  amount: number;
  grantedAt: Date;
  expiresAt: Date | null;
}

export async function grantLot(sql: Sql, req: GrantRequest): Promise<{ lotId: number }> {
  return onceInLedger(sql, { key: req.key, workspaceId: req.workspaceId }, async (tx) => {
    const [lot] = await tx<{ id: number }[]>`
      INSERT INTO lots (workspace_id, source, granted, remaining, granted_at, expires_at)
      VALUES (${req.workspaceId}, ${req.source}, ${req.amount}, ${req.amount}, ${req.grantedAt}, ${req.expiresAt})
      RETURNING id`;
    await journal(tx, [{
      workspaceId: req.workspaceId, kind: 'grant', lotId: lot!.id, remainingDelta: req.amount, heldDelta: 0,
      balanceAfter: await availableAt(tx, req.workspaceId, req.grantedAt), at: req.grantedAt, key: req.key,
    }]);
    return { lotId: lot!.id };
  });
}

/**
 * Journals a lot's expiry: its unheld remainder leaves the balance. A held portion stays capturable
 * until its hold ends (the hold's release expires it then).
 */
export async function expireLot(sql: Sql, req: { workspaceId: string; lotId: number; at: Date }): Promise<{ expired: number }> {
  const key = `lot:${req.lotId}:expire`;
  return onceInLedger(sql, { key, workspaceId: req.workspaceId }, async (tx) => {
    const [lot] = await tx<{ remaining: number; held: number }[]>`
      SELECT remaining, held FROM lots WHERE id = ${req.lotId} AND workspace_id = ${req.workspaceId} FOR UPDATE`;
    if (!lot) throw new Error(`lot ${req.lotId} not found in workspace ${req.workspaceId}`);
    const expired = lot.remaining - lot.held;
    await tx`UPDATE lots SET remaining = held, expired_at = ${req.at} WHERE id = ${req.lotId}`;
    if (expired > 0) {
      await journal(tx, [{
        workspaceId: req.workspaceId, kind: 'expire', lotId: req.lotId, remainingDelta: -expired, heldDelta: 0,
        balanceAfter: await availableAt(tx, req.workspaceId, req.at), at: req.at, key,
      }]);
    }
    return { expired };
  });
}

export interface LotView {
  id: string;
  source: LotSource;
  granted: number;
  remaining: number;
  held: number;
  granted_at: string;
  expires_at: string | null;
  frozen: boolean;
}

export interface BalanceView {
  available: number;
  held: number;
  as_of: string;
  lots: LotView[];
}

export function formatLotId(id: number): string {
  return `lot_${id}`;
}

/** The balance at the workspace's current time (its test clock's when it has one), lots in burn order. */
export async function getBalance(sql: Sql, workspaceId: string): Promise<BalanceView> {
  const now = await workspaceNow(sql, workspaceId);
  const lots = await sql<{
    id: number; source: LotSource; granted: number; remaining: number; held: number;
    granted_at: Date; expires_at: Date | null; frozen: boolean;
  }[]>`
    SELECT id, source, granted, remaining, held, granted_at, expires_at, frozen FROM lots
    WHERE workspace_id = ${workspaceId}
      -- unexpired lots, used-up ones included until they expire; a lapsed lot while part of it is held
      AND ((expires_at > ${now}) OR (expires_at IS NULL AND remaining > 0) OR held > 0)
    ORDER BY expires_at NULLS LAST, granted_at, id`;
  const available = await availableAt(sql, workspaceId, now);
  return {
    available,
    held: lots.reduce((sum, lot) => sum + lot.held, 0),
    as_of: now.toISOString(),
    lots: lots.map((lot) => ({
      id: formatLotId(lot.id),
      source: lot.source,
      granted: lot.granted,
      // A lot past its expiry keeps only its held portion, whatever the journal has caught up to.
      remaining: lot.expires_at && lot.expires_at <= now ? lot.held : lot.remaining,
      held: lot.held,
      granted_at: lot.granted_at.toISOString(),
      expires_at: lot.expires_at?.toISOString() ?? null,
      frozen: lot.frozen,
    })),
  };
}
