/**
 * The spend path: quote → hold → capture or release. Each step is one short transaction that first
 * locks the workspace row, so concurrent holds of one workspace serialise (no overdraw, no lost update)
 * while different workspaces never wait on each other. It never calls Temporal. Hold and capture are
 * SQL functions (one round trip each: the spend path's speed is mostly round trips).
 */
import postgres from 'postgres';
import { defaultLowBalanceThreshold, PLANS } from '../domain/catalog.js';
import { Refusal, type RefusalCode } from '../domain/refusals.js';
import { batcherFor } from './batching.js';
import type { ItemOutcome } from './commit-batcher.js';
import { formatLotId } from './credits.js';
import type { Sql } from './db.js';
import { newId } from './workspaces.js';

export const QUOTE_TTL_MS = 15 * 60 * 1000;
export const HOLD_TTL_MS = 60 * 60 * 1000;
/** A hold lives at most this long from its creation, extensions included (SPEC §11, ledger_extend_hold). */
export const HOLD_MAX_MS = 24 * 60 * 60 * 1000;
/** At most this many unexpired quotes not yet used by a creation, per workspace (issue 16: caps). */
export const MAX_OPEN_QUOTES = 1_000;

export interface QuoteView {
  quote_id: string;
  credits: number;
  expires_at: string;
}

/**
 * Prices a creation: a quote of `credits` valid QUOTE_TTL_MS of the workspace's time. One statement, under
 * the workspace lock so the open-quote cap holds under concurrency. Throws Refusal `open_quote_limit_reached`
 * when the workspace already has MAX_OPEN_QUOTES unexpired quotes no creation used (nothing is created).
 */
export async function createQuote(sql: Sql, workspaceId: string, request: object, credits: number): Promise<QuoteView> {
  const id = newId('quote');
  const [row] = await sql<{ expires_at: Date }[]>`
    INSERT INTO quotes (id, workspace_id, request, credits, created_at, expires_at)
    SELECT ${id}, ${workspaceId}, ${sql.json(request as never)}, ${credits}, t.now, t.now + ${QUOTE_TTL_MS} * interval '1 millisecond'
    FROM (SELECT ledger_lock_workspace(${workspaceId}) AS now) t
    WHERE (SELECT count(*) FROM (SELECT 1 FROM quotes q WHERE q.workspace_id = ${workspaceId} AND NOT q.used AND q.expires_at > t.now
                                 LIMIT ${MAX_OPEN_QUOTES}) open) < ${MAX_OPEN_QUOTES}
    RETURNING expires_at`;
  if (!row) {
    throw new Refusal('open_quote_limit_reached',
      `this workspace has ${MAX_OPEN_QUOTES} open quotes (unexpired, not used by a creation); use or let some expire first`,
      { limit: MAX_OPEN_QUOTES });
  }
  return { quote_id: id, credits, expires_at: row.expires_at.toISOString() };
}

export interface LotDraw {
  lot: string;
  credits: number;
}

/** What the creation was: the estimate's request as the quote recorded it (SPEC §11). */
export interface CreationRequest {
  model: string;
  count?: number;
  resolution?: 'standard' | 'high';
  duration_s?: number;
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
  /** The hold's expiry while running (extendable, POST /v1/creations/{id}/extend); null once ended. */
  expires_at: string | null;
  model: string | null;
  request: CreationRequest | null;
  /** The API key that made the hold; null when none did (a page or an operator). */
  api_key: { id: string; name: string | null } | null;
  external_id: string | null;
  metadata: Record<string, string>;
}

/** A creation as the ledger's SQL functions return it (see migration 1732400000008_spend_functions). */
interface CreationRow {
  id: string;
  status: CreationView['status'];
  quoted: number;
  charged: number | null;
  variance: number | null;
  created_at: string;
  hold_expires_at: string;
  model: string | null;
  request: CreationRequest | null;
  api_key: { id: string; name: string | null } | null;
  external_id: string | null;
  metadata: Record<string, string>;
  portions: { lot_id: number; amount: number; captured: number }[];
}
/** A refusal as the SQL functions answer it (ledger_refusal): quote_not_found, insufficient_credits, ... */
type SqlRefusal = { error: RefusalCode; message: string; detail: Record<string, unknown> };

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
    expires_at: running ? row.hold_expires_at : null,
    model: row.model,
    request: row.request,
    api_key: row.api_key,
    external_id: row.external_id,
    metadata: row.metadata,
  };
}

function orRefuse<T extends object>(result: T | SqlRefusal): T {
  if ('error' in result) throw new Refusal(result.error, result.message, result.detail);
  return result;
}

/** Each plan's default low-balance threshold, for ledger_hold (the catalog lives here, not in the database). */
const DEFAULT_THRESHOLDS = Object.fromEntries(PLANS.map((plan) => [plan.id, defaultLowBalanceThreshold(plan)]));

/** Who starts a creation and the studio's own reference for it (SPEC §11). */
export interface HoldOptions {
  /** The API key making the hold (`key_…`): recorded, and its daily_credit_limit enforced. */
  apiKeyId?: string | null;
  /** 1–200 characters; not unique. */
  externalId?: string | null;
  /** Within domain/workspace-metadata.ts's limits (the API checks). */
  metadata?: Record<string, string>;
}

/** One hold or end as ledger_batch takes it (migration 1732400000024): the arguments of ledger_hold / ledger_end. */
export type SpendItem =
  | { op: 'hold'; ws: string; quote: string; creation: string; hold_ttl_ms: number; api_key: string | null;
      external_id: string | null; metadata: Record<string, string> }
  | { op: 'end'; ws: string; creation: string; outcome: 'succeeded' | 'failed' | 'expired'; reported: number | null };

/** An item's unexpected error inside an isolated batch (its SQLSTATE as `code`); only that item failed. */
export class LedgerItemError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = 'LedgerItemError';
  }
}

/** Errors of the connection or the server (SQLSTATE classes 08, 53, 57, 58), not of an item: retrying one by one cannot help. */
function isItemError(error: unknown): boolean {
  return error instanceof postgres.PostgresError && !/^(08|53|57|58)/.test(error.code);
}

/** A data exception (SQLSTATE class 22: text jsonb cannot hold, a bad number): the data's fault, not the connection's. */
function isDataError(error: unknown): boolean {
  return error instanceof postgres.PostgresError && error.code.startsWith('22');
}

/** A lone UTF-16 surrogate (a high one not followed by a low one, or a low one without a high one before it). */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * `text` with each lone surrogate replaced by U+FFFD (String.prototype.toWellFormed, which ES2022's types lack):
 * what the driver's UTF-8 encoding stores for a text parameter, and what jsonb must get instead of a "\ud800"
 * escape it refuses. Pure.
 */
function wellFormed(text: string): string {
  return text.replace(LONE_SURROGATE, '\ufffd');
}

/**
 * The item with every text well formed (wellFormed), on the batched and the unbatched path alike: a lone surrogate
 * in external_id or metadata (both pass the API's schemas) is stored as U+FFFD either way, and can no longer make
 * a batch's jsonb parameter invalid for its neighbours. Pure.
 */
function normaliseItem(item: SpendItem): SpendItem {
  const text = (value: string | null) => (value === null ? null : wellFormed(value));
  if (item.op === 'end') return { ...item, ws: wellFormed(item.ws), creation: wellFormed(item.creation) };
  return {
    ...item, ws: wellFormed(item.ws), quote: wellFormed(item.quote), creation: wellFormed(item.creation),
    api_key: text(item.api_key), external_id: text(item.external_id),
    metadata: Object.fromEntries(Object.entries(item.metadata).map(([k, v]) => [wellFormed(k), wellFormed(v)])),
  };
}

/**
 * Whether some text of the item carries U+0000, which Postgres stores in neither text nor jsonb. Such an item never
 * joins a batch (its jsonb would refuse the whole call, every neighbour's item with it): it goes on its own and
 * meets the same error it meets unbatched (22021, which the API answers 400 invalid_request).
 */
function carriesNul(item: SpendItem): boolean {
  const texts = item.op === 'end' ? [item.ws, item.creation]
    : [item.ws, item.quote, item.creation, item.api_key ?? '', item.external_id ?? '', ...Object.entries(item.metadata).flat()];
  return texts.some((text) => text.includes('\0'));
}

/**
 * Runs holds and ends as one ledger_batch call: one transaction, one commit, workspaces locked in id order.
 * Refusals are answers. When the call raises (an item met an unexpected error, so nothing committed) it is sent
 * again with a savepoint per item, and the failing item alone gets its error. A lost connection rejects the
 * whole call: whether it committed is unknown, and every item is idempotent (the hold's quote, the end's
 * creation and amount), so the callers retry. When even the savepoint re-send raises a data error (class 22: the
 * items parameter itself refused), each item goes on its own (itemsOneByOne). Exported for tests; callers use
 * holdForQuote / endCreation, which normalise the items first.
 */
export async function runSpendBatch(sql: Sql, items: SpendItem[]): Promise<ItemOutcome<unknown>[]> {
  const call = async (isolate: boolean) => {
    const [row] = await sql<{ answers: unknown[] }[]>`
      SELECT ledger_batch(${sql.json(items as never)}, ${sql.json(DEFAULT_THRESHOLDS)}, ${isolate}) AS answers`;
    return row!.answers;
  };
  let answers: unknown[];
  try {
    answers = await call(false);
  } catch (error) {
    if (!isItemError(error)) throw error;
    try {
      answers = await call(true);
    } catch (resent) {
      // The savepoint re-send catches every item's own error, so when it still raises a data error the items
      // parameter itself was refused (text jsonb cannot hold that normaliseItem and carriesNul missed): each
      // item on its own, so only the bad one fails.
      if (!isDataError(resent)) throw resent;
      return itemsOneByOne(sql, items);
    }
  }
  return answers.map((answer) => {
    const fault = answer as { fault?: string; message?: string };
    return typeof fault.fault === 'string'
      ? { ok: false as const, error: new LedgerItemError(fault.fault, fault.message ?? 'ledger item failed') }
      : { ok: true as const, value: answer };
  });
}

/**
 * The backstop of runSpendBatch: each item as its own ledger_hold / ledger_end call, in the batch's order, so only
 * an item whose own data Postgres refuses fails (with the error it meets unbatched). Rare: after two failed calls.
 */
async function itemsOneByOne(sql: Sql, items: SpendItem[]): Promise<ItemOutcome<unknown>[]> {
  const outcomes: ItemOutcome<unknown>[] = [];
  for (const item of items) {
    outcomes.push(await runAlone<unknown>(sql, item).then(
      (value) => ({ ok: true as const, value }),
      (error: unknown) => ({ ok: false as const, error }),
    ));
  }
  return outcomes;
}

/** Sends one spend item through `sql`'s batcher, or on its own (batching off, `sql` is a transaction, or U+0000). */
async function spend<T>(sql: Sql, raw: SpendItem): Promise<T> {
  const item = normaliseItem(raw);
  const batcher = batcherFor<SpendItem, unknown>(sql, 'spend', (items) => runSpendBatch(sql, items), (item) => item.ws);
  if (batcher && !carriesNul(item)) return (await batcher.submit(item)) as T;
  return runAlone<T>(sql, item);
}

/** One item as its own transaction: ledger_hold or ledger_end with text parameters (as before batching). */
async function runAlone<T>(sql: Sql, item: SpendItem): Promise<T> {
  if (item.op === 'hold') {
    const [row] = await sql<{ result: T }[]>`
      SELECT ledger_hold(${item.ws}, ${item.quote}, ${item.creation}, ${item.hold_ttl_ms}, ${sql.json(DEFAULT_THRESHOLDS)},
        ${item.api_key}, ${item.external_id}, ${sql.json(item.metadata)}) AS result`;
    return row!.result;
  }
  const [row] = await sql<{ result: T }[]>`SELECT ledger_end(${item.ws}, ${item.creation}, ${item.outcome}, ${item.reported}) AS result`;
  return row!.result;
}

/**
 * Starts a creation from a quote: reserves its credits from specific lots in burn order. A quote
 * starts one creation only, so replaying the request returns the first creation unchanged (its
 * first external_id and metadata). Refusals: quote_not_found, quote_expired, spending_limit_reached
 * (the key's daily_credit_limit, checked first: detail daily_credit_limit, used, required, resets_at),
 * insufficient_credits (detail required, available and the automatic top-up's answer).
 * The rules live in the SQL function ledger_hold (migration 1732400000019); concurrent holds and ends share one
 * transaction (ledger_batch, issue 15) and this resolves only after it committed. Throws LedgerItemError for an
 * unexpected error of this hold alone, and the driver's error when the connection is lost (retry: idempotent).
 */
export async function holdForQuote(
  sql: Sql, workspaceId: string, quoteId: string, options: HoldOptions = {},
): Promise<{ creation: CreationView; replayed: boolean }> {
  const result = await spend<(CreationRow & { replayed: boolean }) | SqlRefusal>(sql, {
    op: 'hold', ws: workspaceId, quote: quoteId, creation: newId('cr'), hold_ttl_ms: HOLD_TTL_MS,
    api_key: options.apiKeyId ?? null, external_id: options.externalId ?? null, metadata: options.metadata ?? {},
  });
  const held = orRefuse(result);
  return { creation: toView(held), replayed: held.replayed };
}

/**
 * Ends a running creation: captures `reported` credits (capped at the quote) from its held portions
 * in burn order and releases the rest. A failure or a lapse releases everything. Ending an ended
 * creation the same way again (a completion: with the same amount) returns its result; a completion
 * with another amount is refused `creation_already_ended` (detail: the first `reported` and `charged`),
 * ending it another way `creation_not_running`. The rules live in the SQL function ledger_end; batched with
 * concurrent holds and ends as holdForQuote is, and resolved only after the commit.
 */
export async function endCreation(
  sql: Sql,
  workspaceId: string,
  creationId: string,
  outcome: { status: 'succeeded'; reported: number } | { status: 'failed' | 'expired' },
): Promise<CreationView> {
  const reported = outcome.status === 'succeeded' ? outcome.reported : null;
  return toView(orRefuse(await spend<CreationRow | SqlRefusal>(sql, {
    op: 'end', ws: workspaceId, creation: creationId, outcome: outcome.status, reported,
  })));
}

/**
 * Moves a running hold's expiry to the workspace's now + `extendByMs` (never earlier than it was), at most
 * HOLD_MAX_MS after the creation started. Refusals: creation_not_found, creation_not_running (ended, or its
 * hold already lapsed: a lapsed hold is never revived), hold_extension_limit (detail latest_expires_at,
 * max_extend_by_s; nothing changes). Sets an absolute time, so a retry is harmless.
 */
export async function extendHold(sql: Sql, workspaceId: string, creationId: string, extendByMs: number): Promise<CreationView> {
  const [row] = await sql<{ result: CreationRow | SqlRefusal }[]>`
    SELECT ledger_extend_hold(${workspaceId}, ${creationId}, ${extendByMs}, ${HOLD_MAX_MS}) AS result`;
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
