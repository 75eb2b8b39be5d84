/**
 * The spend path: quote → hold → capture or release. Each step is one short transaction that first
 * locks the workspace row, so concurrent holds of one workspace serialise (no overdraw, no lost update)
 * while different workspaces never wait on each other. It never calls Temporal. Hold and capture are
 * SQL functions (one round trip each: the spend path's speed is mostly round trips).
 */
import { defaultLowBalanceThreshold, PLANS } from '../domain/catalog.js';
import { Refusal, type RefusalCode } from '../domain/refusals.js';
import { formatLotId } from './credits.js';
import type { Sql } from './db.js';
import { newId } from './workspaces.js';

export const QUOTE_TTL_MS = 15 * 60 * 1000;
export const HOLD_TTL_MS = 60 * 60 * 1000;

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

/** A creation as the ledger's SQL functions return it (see migration 1732400000008_spend_functions). */
interface CreationRow {
  id: string;
  status: CreationView['status'];
  quoted: number;
  charged: number | null;
  variance: number | null;
  created_at: string;
  portions: { lot_id: number; amount: number; captured: number }[];
}
/** A refusal as the SQL functions answer it (ledger_refusal): quote_not_found, insufficient_credits, ... */
type SqlRefusal = { error: RefusalCode; message: string; detail: Record<string, number> };

function toView(row: CreationRow): CreationView {
  const running = row.status === 'running';
  return {
    id: row.id,
    status: row.status,
    quoted: row.quoted,
    held: running ? row.portions.reduce((sum, p) => sum + p.amount, 0) : 0,
    charged: row.charged,
    released: running ? 0 : row.quoted - (row.charged ?? 0),
    variance: row.variance,
    lots: row.portions
      .map((p) => ({ lot: formatLotId(p.lot_id), credits: running ? p.amount : p.captured }))
      .filter((draw) => draw.credits > 0),
    created_at: row.created_at,
  };
}

function orRefuse<T extends object>(result: T | SqlRefusal): T {
  if ('error' in result) throw new Refusal(result.error, result.message, result.detail);
  return result;
}

/** Each plan's default low-balance threshold, for ledger_hold (the catalog lives here, not in the database). */
const DEFAULT_THRESHOLDS = Object.fromEntries(PLANS.map((plan) => [plan.id, defaultLowBalanceThreshold(plan)]));

/**
 * Starts a creation from a quote: reserves its credits from specific lots in burn order. A quote
 * starts one creation only, so replaying the request returns the first creation unchanged.
 * One round trip: the rules live in the SQL function ledger_hold.
 */
export async function holdForQuote(sql: Sql, workspaceId: string, quoteId: string): Promise<{ creation: CreationView; replayed: boolean }> {
  const [row] = await sql<{ result: (CreationRow & { replayed: boolean }) | SqlRefusal }[]>`
    SELECT ledger_hold(${workspaceId}, ${quoteId}, ${newId('cr')}, ${HOLD_TTL_MS}, ${sql.json(DEFAULT_THRESHOLDS)}) AS result`;
  const held = orRefuse(row!.result);
  return { creation: toView(held), replayed: held.replayed };
}

/**
 * Ends a running creation: captures `reported` credits (capped at the quote) from its held portions
 * in burn order and releases the rest. A failure or a lapse releases everything. Ending an ended
 * creation the same way again returns its result; ending it another way is refused. One round trip:
 * the rules live in the SQL function ledger_end.
 */
export async function endCreation(
  sql: Sql,
  workspaceId: string,
  creationId: string,
  outcome: { status: 'succeeded'; reported: number } | { status: 'failed' | 'expired' },
): Promise<CreationView> {
  const reported = outcome.status === 'succeeded' ? outcome.reported : null;
  const [row] = await sql<{ result: CreationRow | SqlRefusal }[]>`
    SELECT ledger_end(${workspaceId}, ${creationId}, ${outcome.status}, ${reported}) AS result`;
  return toView(orRefuse(row!.result));
}

export async function readCreation(sql: Sql, workspaceId: string, creationId: string): Promise<CreationView | undefined> {
  const [row] = await sql<{ result: CreationRow | null }[]>`SELECT ledger_creation(${workspaceId}, ${creationId}) AS result`;
  return row!.result ? toView(row!.result) : undefined;
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
      if (!(error instanceof Refusal && error.code === 'creation_not_running')) throw error;
    });
  }
  return stale.length;
}
