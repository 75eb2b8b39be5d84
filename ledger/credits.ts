import { batcherFor } from './batching.js';
import type { Sql } from './db.js';
import { availableAt, type Entry, journal, type LedgerContext, noteLowBalance, onceInLedger, type Tx } from './operations.js';

export type LotSource = 'monthly' | 'upgrade' | 'pack' | 'adjustment';

export interface GrantRequest {
  key: string;
  workspaceId: string;
  source: LotSource;
  amount: number;
  grantedAt: Date;
  expiresAt: Date | null;
}

export async function grantLot(sql: Sql, req: GrantRequest): Promise<{ lotId: number }> {
  return onceInLedger(sql, { key: req.key, workspaceId: req.workspaceId }, async (tx, ctx) => {
    // A pack bought while the workspace has no live subscription waits, frozen, for the next one.
    const frozen = req.source === 'pack' && !ctx.live;
    const [lot] = await tx<{ id: number }[]>`
      INSERT INTO lots (workspace_id, source, granted, remaining, granted_at, expires_at, frozen)
      VALUES (${req.workspaceId}, ${req.source}, ${req.amount}, ${req.amount}, ${req.grantedAt}, ${req.expiresAt}, ${frozen})
      RETURNING id`;
    const after = await availableAt(tx, req.workspaceId, req.grantedAt);
    const grant: Entry = {
      workspaceId: req.workspaceId, kind: 'grant', lotId: lot!.id, remainingDelta: req.amount, heldDelta: 0, amount: req.amount,
      balanceAfter: frozen ? after + req.amount : after, at: req.grantedAt, key: req.key,
    };
    // A frozen grant is journaled as the grant and its freeze, so the journal's amounts keep adding up to the
    // available balance (the thaw adds it back).
    await journal(tx, frozen ? [grant, { ...grant, kind: 'freeze', remainingDelta: 0, amount: -req.amount, balanceAfter: after }] : [grant]);
    return { lotId: lot!.id };
  });
}

/**
 * Takes the unheld remainder of the chosen lots out of the balance (expiry at a lot's end, forfeit of a
 * canceled plan's lots). A held portion stays capturable until its hold ends; its release expires it then.
 * The balance is read lazily at each instant (a lot past expires_at never counts), so the entries carry the
 * balance at `at`, and a low-balance crossing compares the balance just before that instant with it.
 */
async function retireLots(
  tx: Tx,
  ctx: LedgerContext,
  req: { workspaceId: string; lotIds: number[]; at: Date; kind: 'expire' | 'forfeit'; key: string },
): Promise<number> {
  if (req.lotIds.length === 0) return 0;
  const before = await availableAt(tx, req.workspaceId, new Date(req.at.getTime() - 1));
  // `counted`: what the lot added to the available balance just before (0 while frozen, whose freeze already
  // took it out): the entry's amount, so the journal's amounts keep adding up to the available balance.
  const lots = await tx<{ id: number; unheld: number; counted: number }[]>`
    UPDATE lots SET remaining = held, expired_at = ${req.at},
      expires_at = CASE WHEN ${req.kind} = 'forfeit' THEN least(expires_at, ${req.at}) ELSE expires_at END
    FROM (SELECT id AS lot_id, remaining - held AS unheld, lot_available(lots, ${new Date(req.at.getTime() - 1)}) AS counted
          FROM lots WHERE id IN ${tx(req.lotIds)} FOR UPDATE) old
    WHERE lots.id = old.lot_id AND lots.workspace_id = ${req.workspaceId}
    RETURNING lots.id, old.unheld, old.counted`;
  const after = await availableAt(tx, req.workspaceId, req.at);
  await journal(tx, lots.filter((lot) => lot.unheld > 0).map((lot) => ({
    workspaceId: req.workspaceId, kind: req.kind, lotId: lot.id, remainingDelta: -lot.unheld, heldDelta: 0, amount: -lot.counted,
    balanceAfter: after, at: req.at, key: req.key,
  })));
  // Keyed by the instant: lots retiring at the same moment in separate operations alert once.
  await noteLowBalance(tx, { workspaceId: req.workspaceId, ctx, before, after, key: `${req.workspaceId}:${req.at.toISOString()}` });
  // An expiry that leaves the balance below the automatic top-up's threshold records a top-up, in this
  // transaction (SPEC §11; migration 1732400000020). A forfeit ends the plan: nothing to top up.
  if (req.kind === 'expire') {
    await tx`SELECT ledger_auto_top_up_check(${req.workspaceId}, ${after}, 'expiry', ${req.key}, ${req.at})`;
  }
  return lots.reduce((sum, lot) => sum + lot.unheld, 0);
}

export async function expireLot(sql: Sql, req: { workspaceId: string; lotId: number; at: Date }): Promise<{ expired: number }> {
  const key = `lot:${req.lotId}:expire`;
  return onceInLedger(sql, { key, workspaceId: req.workspaceId }, async (tx, ctx) => ({
    expired: await retireLots(tx, ctx, { workspaceId: req.workspaceId, lotIds: [req.lotId], at: req.at, kind: 'expire', key }),
  }));
}

/** A canceled subscription's monthly and upgrade lots are forfeited at the end of its last period. */
export async function forfeitPlanLots(sql: Sql, req: { key: string; workspaceId: string; at: Date }): Promise<{ forfeited: number }> {
  return onceInLedger(sql, { key: req.key, workspaceId: req.workspaceId }, async (tx, ctx) => {
    const lots = await tx<{ id: number }[]>`
      SELECT l.id FROM lots l WHERE l.workspace_id = ${req.workspaceId} AND NOT lot_outlives_plan(l) AND l.expired_at IS NULL
        AND NOT lot_expired(l, ${req.at}) AND l.remaining > 0`;
    return { forfeited: await retireLots(tx, ctx, { ...req, lotIds: lots.map((l) => l.id), kind: 'forfeit' }) };
  });
}

/**
 * Packs never expire, but they are frozen (kept, not spendable) while the workspace has no live
 * subscription, and thawed when one starts again.
 */
export async function setPacksFrozen(
  sql: Sql,
  req: { key: string; workspaceId: string; at: Date; frozen: boolean },
): Promise<{ lots: number }> {
  return onceInLedger(sql, { key: req.key, workspaceId: req.workspaceId }, async (tx, ctx) => {
    const before = await availableAt(tx, req.workspaceId, req.at);
    const lots = await tx<{ id: number; spendable: number }[]>`
      UPDATE lots SET frozen = ${req.frozen}
      WHERE workspace_id = ${req.workspaceId} AND lot_outlives_plan(lots) AND frozen <> ${req.frozen} AND remaining > 0
        AND NOT lot_expired(lots, ${req.at})
      -- A lot a dispute froze (migration 1732400000015) stays out of the balance either way: nothing moves.
      RETURNING id, CASE WHEN dispute_freeze_key IS NULL THEN remaining - held ELSE 0 END AS spendable`;
    let balance = before;
    const entries: Entry[] = lots.map((lot) => {
      balance += req.frozen ? -lot.spendable : lot.spendable;
      return { workspaceId: req.workspaceId, kind: req.frozen ? 'freeze' : 'thaw', lotId: lot.id, remainingDelta: 0, heldDelta: 0,
        amount: req.frozen ? -lot.spendable : lot.spendable,
        balanceAfter: balance, at: req.at, key: req.key };
    });
    await journal(tx, entries);
    await noteLowBalance(tx, { workspaceId: req.workspaceId, ctx, before, after: balance, key: req.key });
    return { lots: lots.length };
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
  return (await readBalance(sql, workspaceId)).balance;
}

/**
 * A balance as read: `json` is the BalanceView as JSON text, built by Postgres (what GET /v1/credits sends as it is);
 * `balance` parses it on first use.
 */
export interface BalanceRead {
  readonly json: string;
  readonly balance: BalanceView;
  readonly lapsedHolds: boolean;
}

function balanceRead(json: string, lapsedHolds: boolean): BalanceRead {
  let parsed: BalanceView | undefined;
  return { json, lapsedHolds, get balance() { return (parsed ??= JSON.parse(json) as BalanceView); } };
}

/**
 * How long a balance read waits for others to share its query, in ms (spends keep LEDGER_BATCH_WINDOW_MS). A read
 * has no commit to share, only the query and the API's work per query: at 64 connections (`npm run bench -- --only=balance`,
 * 2 cores) 2 ms gave 7,382 reads/s at 0.11 ms of API CPU per read and a p99 of 15.1 ms, against 6,999 at 0.118 ms and
 * 18.2 ms with 1 ms, 5,804 with 0 (the next turn) and 6,552 with 0 and two queries out; a lone read waits 2 ms more.
 */
const BALANCE_READ_WINDOW_MS = 2;

/**
 * The balance in one round trip (the hot read path), and whether the workspace has running holds past
 * their hour that the sweep has not released yet: they still count as held here, so the caller
 * releases them (expireStaleHolds) and reads again. Concurrent reads of one process share one query
 * (readBalances, gathered as ledger/commit-batcher.ts gathers holds), unless `sql` is a transaction.
 */
export async function readBalance(sql: Sql, workspaceId: string): Promise<BalanceRead> {
  const batcher = batcherFor<string, BalanceRead>(sql, 'balance', async (ids) => {
    const read = await readBalances(sql, [...new Set(ids)]);
    return ids.map((id) => ({ ok: true, value: read.get(id)! }));
  }, undefined, BALANCE_READ_WINDOW_MS);
  if (batcher) return batcher.submit(workspaceId);
  return (await readBalances(sql, [workspaceId])).get(workspaceId)!;
}

/**
 * The balances of several workspaces (ids, distinct) in one query: readBalance's answer for each, by workspace id.
 * An id with no workspace reads as an empty balance at the database's time (as workspace_now() answers for it).
 */
export async function readBalances(sql: Sql, workspaceIds: string[]): Promise<Map<string, BalanceRead>> {
  // One workspace (most reads) compares with `=`; several with `= ANY`. Both plans start from the workspace's
  // primary key and read its lots by index; an unnest() of the ids (the earlier form) made Postgres plan for 100
  // workspaces and hash the lots table, and workspace_now() ran as a nested SQL function: 1.3-1.7x the Postgres
  // time per read (pgbench -M prepared on the bench's data). The clock rule is workspace_now()'s, written inline.
  // Postgres builds the answer's JSON (one row per workspace, one text column): the API process, which bounds the
  // read's throughput, then parses no row per lot, makes no Date and serialises nothing (issue 15). Instants are
  // written as Date.prototype.toISOString writes them (UTC, milliseconds, Z).
  const which = workspaceIds.length === 1 ? sql`w.id = ${workspaceIds[0]!}` : sql`w.id = ANY(${workspaceIds}::text[])`;
  const rows = await sql<{ ws: string; lapsed_holds: boolean; balance: string }[]>`
    SELECT w.id AS ws,
      EXISTS (SELECT 1 FROM creations cr WHERE cr.workspace_id = w.id AND cr.status = 'running'
              AND cr.hold_expires_at <= t.now) AS lapsed_holds,
      json_build_object(
        'available', coalesce(sum(lot_available(l, t.now)) FILTER (WHERE l.id IS NOT NULL), 0),
        'held', coalesce(sum(l.held), 0),
        'as_of', to_char(t.now AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'lots', coalesce(json_agg(json_build_object(
          'id', 'lot_' || l.id,
          'source', l.source,
          'granted', l.granted,
          -- An expired lot keeps only its held portion, whatever the journal has caught up to.
          'remaining', CASE WHEN lot_expired(l, t.now) THEN l.held ELSE l.remaining END,
          'held', l.held,
          'granted_at', to_char(l.granted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
          'expires_at', to_char(l.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
          -- Frozen for whatever reason: nothing live (a pack) or a dispute on the invoice that granted it.
          'frozen', l.frozen OR l.dispute_freeze_key IS NOT NULL
        ) ORDER BY lot_burn_key(l)) FILTER (WHERE l.id IS NOT NULL), '[]')
      )::text AS balance
    FROM workspaces w LEFT JOIN test_clocks c ON c.id = w.test_clock_id
      CROSS JOIN LATERAL (SELECT coalesce(c.frozen_time, now()) AS now) t
      LEFT JOIN lots l ON l.workspace_id = w.id
      -- unexpired lots, used-up ones included until they expire (packs while they hold credits); an expired
      -- lot while part of it is held
      AND ((NOT lot_expired(l, t.now) AND (l.expires_at IS NOT NULL OR l.remaining > 0)) OR l.held > 0)
    WHERE ${which}
    GROUP BY w.id, t.now`;
  const reads = new Map<string, BalanceRead>();
  for (const row of rows) reads.set(row.ws, balanceRead(row.balance, row.lapsed_holds));
  const missing = workspaceIds.filter((id) => !reads.has(id));
  if (missing.length > 0) {
    const [row] = await sql<{ now: Date }[]>`SELECT now() AS now`;
    const empty: BalanceView = { available: 0, held: 0, as_of: row!.now.toISOString(), lots: [] };
    for (const id of missing) reads.set(id, balanceRead(JSON.stringify(empty), false));
  }
  return reads;
}
