/**
 * The spend path: quote → hold → capture or release. Each step is one short transaction that first
 * locks the workspace row, so concurrent holds of one workspace serialise (no overdraw, no lost update)
 * while different workspaces never wait on each other. It never calls Temporal.
 */
import { formatLotId } from './credits.js';
import type { Sql } from './db.js';
import { availableAt, type Entry, journal, lockWorkspace, noteLowBalance, type Tx } from './operations.js';
import { newId } from './workspaces.js';

export const QUOTE_TTL_MS = 15 * 60 * 1000;
export const HOLD_TTL_MS = 60 * 60 * 1000;

export class SpendError extends Error {
  constructor(
    readonly code: 'quote_not_found' | 'quote_expired' | 'insufficient_credits' | 'creation_not_found' | 'creation_not_running',
    message: string,
    readonly detail: Record<string, number> = {},
  ) {
    super(message);
  }
}

export interface QuoteView {
  quote_id: string;
  credits: number;
  expires_at: string;
}

export async function createQuote(sql: Sql, workspaceId: string, request: object, credits: number): Promise<QuoteView> {
  const id = newId('quote');
  const [row] = await sql<{ expires_at: Date }[]>`
    INSERT INTO quotes (id, workspace_id, request, credits, created_at, expires_at)
    SELECT ${id}, ${workspaceId}, ${sql.json(request as never)}, ${credits}, t.now, t.now + ${QUOTE_TTL_MS} * interval '1 millisecond'
    FROM (SELECT workspace_now(${workspaceId}) AS now) t
    RETURNING expires_at`;
  return { quote_id: id, credits, expires_at: row!.expires_at.toISOString() };
}

export interface LotDraw {
  lot: string;
  credits: number;
}

export interface CreationView {
  id: string;
  status: 'running' | 'succeeded' | 'failed' | 'expired';
  quoted: number;
  held: number;
  charged: number | null;
  released: number;
  variance: number | null;
  lots: LotDraw[];
  created_at: string;
}

/**
 * Starts a creation from a quote: reserves its credits from specific lots in burn order. A quote
 * starts one creation only, so replaying the request returns the first creation unchanged.
 */
export async function holdForQuote(sql: Sql, workspaceId: string, quoteId: string): Promise<{ creation: CreationView; replayed: boolean }> {
  return sql.begin(async (tx) => {
    const ctx = await lockWorkspace(tx, workspaceId);
    const now = ctx.now;
    const [existing] = await tx<{ id: string }[]>`SELECT id FROM creations WHERE quote_id = ${quoteId} AND workspace_id = ${workspaceId}`;
    if (existing) return { creation: (await readCreation(tx, workspaceId, existing.id))!, replayed: true };
    const [quote] = await tx<{ credits: number; expires_at: Date }[]>`
      SELECT credits, expires_at FROM quotes WHERE id = ${quoteId} AND workspace_id = ${workspaceId}`;
    if (!quote) throw new SpendError('quote_not_found', 'no quote with this id');
    if (quote.expires_at <= now) throw new SpendError('quote_expired', 'the quote expired; ask for a new estimate');

    const lots = await tx<{ id: number; free: number }[]>`
      SELECT id, remaining - held AS free FROM lots
      WHERE workspace_id = ${workspaceId} AND remaining > held AND NOT frozen AND (expires_at IS NULL OR expires_at > ${now})
      ORDER BY expires_at NULLS LAST, granted_at, id`;
    const available = lots.reduce((sum, lot) => sum + lot.free, 0);
    if (available < quote.credits) {
      throw new SpendError('insufficient_credits', `this creation needs ${quote.credits} credits; ${available} are available`,
        { required: quote.credits, available });
    }
    const creationId = newId('cr');
    const key = `hold:${creationId}`;
    let left = quote.credits;
    let balance = available;
    const portions: { creation_id: string; lot_id: number; amount: number }[] = [];
    const entries: Entry[] = [];
    for (const lot of lots) {
      if (left === 0) break;
      const take = Math.min(left, lot.free);
      left -= take;
      balance -= take;
      portions.push({ creation_id: creationId, lot_id: lot.id, amount: take });
      entries.push({ workspaceId, kind: 'hold', lotId: lot.id, remainingDelta: 0, heldDelta: take, amount: -take, balanceAfter: balance, at: now, key });
    }
    await tx`
      INSERT INTO creations (id, workspace_id, quote_id, status, quoted, created_at, hold_expires_at)
      VALUES (${creationId}, ${workspaceId}, ${quoteId}, 'running', ${quote.credits}, ${now}, ${new Date(now.getTime() + HOLD_TTL_MS)})`;
    await tx`INSERT INTO hold_portions ${tx(portions)}`;
    await tx`
      UPDATE lots SET held = lots.held + p.amount
      FROM (SELECT lot_id, amount FROM hold_portions WHERE creation_id = ${creationId}) p WHERE lots.id = p.lot_id`;
    await journal(tx, entries);
    await noteLowBalance(tx, { workspaceId, ctx, before: available, after: balance, key });
    return { creation: (await readCreation(tx, workspaceId, creationId))!, replayed: false };
  });
}

/**
 * Ends a running creation: captures `reported` credits (capped at the quote) from its held portions
 * in burn order and releases the rest. `reported` null is a failure: everything is released.
 * A released portion of a lot that expired meanwhile expires now. Ending an ended creation the same
 * way again returns its result; ending it another way is refused.
 */
export async function endCreation(
  sql: Sql,
  workspaceId: string,
  creationId: string,
  outcome: { status: 'succeeded'; reported: number } | { status: 'failed' | 'expired' },
): Promise<CreationView> {
  return sql.begin(async (tx) => {
    const { now } = await lockWorkspace(tx, workspaceId);
    const [creation] = await tx<{ status: string; quoted: number; hold_expires_at: Date }[]>`
      SELECT status, quoted, hold_expires_at FROM creations WHERE id = ${creationId} AND workspace_id = ${workspaceId}`;
    if (!creation) throw new SpendError('creation_not_found', 'no creation with this id');
    // A lapsed hold is journaled at the moment it lapsed, whenever the sweep gets to it.
    const at = outcome.status === 'expired' ? creation.hold_expires_at : now;
    if (creation.status === outcome.status) return (await readCreation(tx, workspaceId, creationId))!;
    if (creation.status !== 'running') throw new SpendError('creation_not_running', `the creation already ${creation.status}`);
    // A hold not completed within the hour is released (by the sweep, as of its lapse): ending it another
    // way later is refused whether or not the sweep has got to it yet.
    if (outcome.status !== 'expired' && creation.hold_expires_at <= now) {
      throw new SpendError('creation_not_running', 'the creation already expired');
    }

    const reported = outcome.status === 'succeeded' ? outcome.reported : 0;
    const charged = Math.min(reported, creation.quoted);
    const portions = await tx<{ lot_id: number; amount: number; expires_at: Date | null; frozen: boolean }[]>`
      SELECT p.lot_id, p.amount, l.expires_at, l.frozen FROM hold_portions p JOIN lots l ON l.id = p.lot_id
      WHERE p.creation_id = ${creationId} ORDER BY l.expires_at NULLS LAST, l.granted_at, l.id`;
    let balance = await availableAt(tx, workspaceId, now);
    let left = charged;
    const entries: Entry[] = [];
    const draws: { lot_id: number; captured: number; released: number; expired: number }[] = [];
    for (const portion of portions) {
      const captured = Math.min(left, portion.amount);
      const released = portion.amount - captured;
      left -= captured;
      const lapsed = portion.expires_at !== null && portion.expires_at <= now;
      const counts = !lapsed && !portion.frozen; // does this lot count towards `available`?
      const base = { workspaceId, lotId: portion.lot_id, at };
      if (captured > 0) {
        entries.push({ ...base, kind: 'capture', remainingDelta: -captured, heldDelta: -captured, amount: -captured, balanceAfter: balance, key: `capture:${creationId}` });
      }
      if (released > 0) {
        if (counts) balance += released;
        entries.push({ ...base, kind: 'release', remainingDelta: 0, heldDelta: -released, amount: released, balanceAfter: balance, key: `release:${creationId}` });
        if (lapsed) {
          entries.push({ ...base, kind: 'expire', remainingDelta: -released, heldDelta: 0, amount: -released, balanceAfter: balance, key: `release:${creationId}` });
        }
      }
      draws.push({ lot_id: portion.lot_id, captured, released, expired: lapsed ? released : 0 });
    }
    for (const d of draws) {
      await tx`
        UPDATE lots SET held = held - ${d.captured + d.released}, remaining = remaining - ${d.captured + d.expired}
        WHERE id = ${d.lot_id}`;
      await tx`UPDATE hold_portions SET captured = ${d.captured} WHERE creation_id = ${creationId} AND lot_id = ${d.lot_id}`;
    }
    await journal(tx, entries);
    await tx`
      UPDATE creations SET status = ${outcome.status}, reported = ${outcome.status === 'succeeded' ? reported : null},
        charged = ${charged}, variance = ${reported > creation.quoted ? reported - creation.quoted : null}, ended_at = ${at}
      WHERE id = ${creationId}`;
    return (await readCreation(tx, workspaceId, creationId))!;
  });
}

export async function readCreation(tx: Tx | Sql, workspaceId: string, creationId: string): Promise<CreationView | undefined> {
  const [row] = await tx<{
    id: string; status: CreationView['status']; quoted: number; charged: number | null; variance: number | null; created_at: Date;
  }[]>`SELECT id, status, quoted, charged, variance, created_at FROM creations WHERE id = ${creationId} AND workspace_id = ${workspaceId}`;
  if (!row) return undefined;
  const portions = await tx<{ lot_id: number; amount: number; captured: number }[]>`
    SELECT p.lot_id, p.amount, p.captured FROM hold_portions p JOIN lots l ON l.id = p.lot_id
    WHERE p.creation_id = ${creationId} ORDER BY l.expires_at NULLS LAST, l.granted_at, l.id`;
  const running = row.status === 'running';
  const held = running ? portions.reduce((sum, p) => sum + p.amount, 0) : 0;
  return {
    id: row.id,
    status: row.status,
    quoted: row.quoted,
    held,
    charged: row.charged,
    released: running ? 0 : row.quoted - (row.charged ?? 0),
    variance: row.variance,
    lots: portions
      .map((p) => ({ lot: formatLotId(p.lot_id), credits: running ? p.amount : p.captured }))
      .filter((draw) => draw.credits > 0),
    created_at: row.created_at.toISOString(),
  };
}

/**
 * Releases holds not completed within HOLD_TTL_MS of the workspace's time, oldest first. Run by the
 * worker's sweeper and before reading a balance, so an abandoned creation never keeps credits.
 */
export async function expireStaleHolds(
  sql: Sql,
  scope: { workspaceId?: string; testClockId?: string; limit?: number } = {},
): Promise<number> {
  const stale = await sql<{ id: string; workspace_id: string }[]>`
    SELECT c.id, c.workspace_id FROM creations c
    WHERE c.status = 'running' AND c.hold_expires_at <= workspace_now(c.workspace_id)
      ${scope.workspaceId ? sql`AND c.workspace_id = ${scope.workspaceId}` : sql``}
      ${scope.testClockId ? sql`AND c.workspace_id IN (SELECT id FROM workspaces WHERE test_clock_id = ${scope.testClockId})` : sql``}
    ORDER BY c.hold_expires_at LIMIT ${scope.limit ?? 500}`;
  for (const creation of stale) {
    await endCreation(sql, creation.workspace_id, creation.id, { status: 'expired' }).catch((error: unknown) => {
      // Completed or failed meanwhile by the customer: nothing left to release.
      if (!(error instanceof SpendError && error.code === 'creation_not_running')) throw error;
    });
  }
  return stale.length;
}
