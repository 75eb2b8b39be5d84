/**
 * Property-based tests of the credit ledger (SPEC §2-3) over the real Postgres schema: random sequences
 * of grants, clock advances, expiries, holds, captures, failures, stale-hold sweeps, pack freezes, plan
 * forfeits, operator adjustments (SPEC §10: positive, with or without expiry, and negative) and replays run
 * against one workspace on a test clock, and after every command the tables are read back and checked
 * against the ledger's invariants and a small reference model of the balance. Conservation: credits leave
 * a lot only by capture, expiry, forfeit or negative adjustment, each journaled; and the journal reconciles
 * (its balance changes add up to the available balance) whenever every lapsed lot has its expire entry.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Refusal } from '../../domain/refusals.js';
import { adjustCredits, type AdjustmentRequest, type AdjustmentView } from '../../ledger/adjustments.js';
import { expireLot, forfeitPlanLots, getBalance, grantLot, setPacksFrozen, type GrantRequest } from '../../ledger/credits.js';
import type { Sql } from '../../ledger/db.js';
import { balanceChange } from '../../ledger/history.js';
import { availableAt, type EntryKind } from '../../ledger/operations.js';
import {
  createQuote, type CreationView, endCreation, expireStaleHolds, HOLD_TTL_MS, holdForQuote, QUOTE_TTL_MS, readCreation,
} from '../../ledger/spend.js';
import { createTestClock } from '../../ledger/test-clocks.js';
import { createWorkspace, newId, workspaceNow } from '../../ledger/workspaces.js';
import { freshDatabase } from '../helpers/database.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const START = new Date('2026-01-01T00:00:00Z');

// ---------------------------------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------------------------------

type Command =
  | { kind: 'grantMonthly'; amount: number; days: number }
  | { kind: 'grantPack'; amount: number }
  | { kind: 'advance'; days: number; hours: number; minutes: number }
  | { kind: 'expireLot'; pick: number }
  | { kind: 'hold'; credits: number }
  | { kind: 'holdConcurrently'; credits: number[]; duplicate: boolean }
  | { kind: 'holdExpiredQuote'; credits: number; minutes: number }
  | { kind: 'complete'; pick: number; reported: number; anyCreation: boolean }
  | { kind: 'fail'; pick: number; anyCreation: boolean }
  | { kind: 'expireStaleHolds'; minutes: number }
  | { kind: 'setPacksFrozen'; frozen: boolean }
  | { kind: 'setLive'; live: boolean }
  | { kind: 'forfeitPlanLots' }
  | { kind: 'replay'; pick: number; alter: boolean }
  | { kind: 'raceGrant'; amount: number }
  | { kind: 'raceEnd'; pick: number; reported: number }
  | { kind: 'adjust'; credits: number; days: number | null };

const credits = fc.integer({ min: 1, max: 200 });
const pick = fc.nat({ max: 1000 });
/** Mostly a running creation; sometimes any creation, so ending an ended one is exercised too. */
const anyCreation = fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) });

const grantMonthly = fc.record({ kind: fc.constant('grantMonthly' as const), amount: fc.integer({ min: 1, max: 500 }), days: fc.integer({ min: 1, max: 60 }) });
const grantPack = fc.record({ kind: fc.constant('grantPack' as const), amount: fc.integer({ min: 1, max: 500 }) });
const grantArb: fc.Arbitrary<Command> = fc.oneof({ weight: 2, arbitrary: grantMonthly }, { weight: 1, arbitrary: grantPack });

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  { weight: 4, arbitrary: grantMonthly },
  { weight: 2, arbitrary: grantPack },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('advance' as const), days: fc.integer({ min: 0, max: 40 }),
      // Whole days most of the time, so the clock lands exactly on expiries (expires_at = now is expired).
      hours: fc.oneof({ weight: 2, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 23 }) }),
      // Sometimes less than the hour a hold lasts.
      minutes: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 59 }) }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('expireLot' as const), pick }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('hold' as const), credits }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('holdConcurrently' as const), credits: fc.array(credits, { minLength: 2, maxLength: 4 }), duplicate: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('holdExpiredQuote' as const), credits, minutes: fc.integer({ min: 15, max: 90 }) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('complete' as const), pick, reported: fc.integer({ min: 0, max: 250 }), anyCreation }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('fail' as const), pick, anyCreation }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('expireStaleHolds' as const), minutes: fc.integer({ min: 61, max: 180 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('setPacksFrozen' as const), frozen: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('setLive' as const), live: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('forfeitPlanLots' as const) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('replay' as const), pick, alter: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('raceGrant' as const), amount: fc.integer({ min: 1, max: 500 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('raceEnd' as const), pick, reported: fc.integer({ min: 0, max: 250 }) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('adjust' as const),
      credits: fc.oneof(fc.integer({ min: 1, max: 300 }), fc.integer({ min: -400, max: -1 })),
      days: fc.option(fc.integer({ min: 1, max: 60 }), { nil: null }),
    }),
  },
);

// ---------------------------------------------------------------------------------------------------
// Rows and the reference model
// ---------------------------------------------------------------------------------------------------

interface LotRow {
  id: number; source: string; granted: number; remaining: number; held: number;
  granted_at: Date; expires_at: Date | null; expired_at: Date | null; frozen: boolean;
}
interface EntryRow {
  id: number; kind: string; lot_id: number; remaining_delta: number; held_delta: number; amount: number;
  balance_after: number; at: Date; operation_key: string; reason: string | null;
}
interface CreationRow {
  id: string; quote_id: string; status: string; quoted: number; reported: number | null; charged: number | null;
  variance: number | null; created_at: Date; hold_expires_at: Date; ended_at: Date | null;
}
interface PortionRow { creation_id: string; lot_id: number; amount: number; captured: number }

interface Snapshot {
  lots: LotRow[];
  entries: EntryRow[];
  creations: CreationRow[];
  portions: PortionRow[];
  operations: unknown[];
  quotes: unknown[];
  notifications: unknown[];
}

/**
 * SPEC §2 and §10 burn order: earliest expires_at first; of the lots without expiry, adjustments before packs;
 * then grant time, then lot id.
 */
function burnOrder(a: LotRow, b: LotRow): number {
  const expiry = (lot: LotRow) => lot.expires_at?.getTime() ?? Number.POSITIVE_INFINITY;
  const tier = (lot: LotRow) => (lot.source === 'pack' ? 1 : 0);
  // Infinity - Infinity is NaN, which is falsy: two lots without expiry fall through to the next key.
  return (expiry(a) - expiry(b)) || (tier(a) - tier(b)) || (a.granted_at.getTime() - b.granted_at.getTime()) || (a.id - b.id);
}

/** SQL lot_outlives_plan: packs and adjustments are frozen, never forfeited, when the plan ends. */
const outlivesPlan = (lot: LotRow) => lot.source === 'pack' || lot.source === 'adjustment';
const lapsed = (lot: LotRow, now: Date) => lot.expires_at !== null && lot.expires_at <= now;
const spendable = (lot: LotRow, now: Date) => !lot.frozen && !lapsed(lot, now);
const free = (lot: LotRow) => lot.remaining - lot.held;
const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);
/** Negated sum, without the -0 of an empty one. */
const negSum = (values: number[]) => 0 - sum(values);

/** SPEC §3: available = unexpired, unfrozen remaining − held, at the workspace's time. */
function modelAvailable(lots: LotRow[], now: Date): number {
  return sum(lots.filter((lot) => spendable(lot, now)).map(free));
}

/** What a hold of `credits` must reserve: whole free amounts of earlier spendable lots before later ones. */
function greedyHold(lots: LotRow[], now: Date, credits: number): { lot_id: number; amount: number }[] {
  let left = credits;
  const portions: { lot_id: number; amount: number }[] = [];
  for (const lot of lots.filter((l) => spendable(l, now) && free(l) > 0).sort(burnOrder)) {
    if (left === 0) break;
    const take = Math.min(left, free(lot));
    portions.push({ lot_id: lot.id, amount: take });
    left -= take;
  }
  expect(left, 'a hold that fits the balance is fully reserved').toBe(0);
  return portions;
}

/**
 * Applies the end of a creation to a copy of its lots: `charged` is captured from the held portions in
 * burn order, the rest released; a released portion of a lapsed lot expires. Returns the captured amount
 * per lot and how much the available balance grows.
 */
function modelEnd(lots: Map<number, LotRow>, portions: PortionRow[], charged: number, now: Date) {
  const ordered = portions.map((p) => ({ portion: p, lot: lots.get(p.lot_id)! })).sort((a, b) => burnOrder(a.lot, b.lot));
  let left = charged;
  let availableGain = 0;
  const captured = new Map<number, number>();
  for (const { portion, lot } of ordered) {
    const take = Math.min(left, portion.amount);
    const released = portion.amount - take;
    left -= take;
    const gone = lapsed(lot, now);
    if (!gone && !lot.frozen) availableGain += released;
    lots.set(lot.id, { ...lot, held: lot.held - portion.amount, remaining: lot.remaining - take - (gone ? released : 0) });
    captured.set(lot.id, take);
  }
  return { captured, availableGain, order: ordered.map(({ lot }) => lot.id) };
}

const byId = <T extends { id: number }>(rows: T[]) => new Map(rows.map((row) => [row.id, row]));
const lotName = (id: number) => `lot_${id}`;
/** A creation's receipt, compared regardless of the order the lots are listed in. */
const receipt = (view: CreationView) => ({ ...view, lots: [...view.lots].sort((a, b) => a.lot.localeCompare(b.lot)) });

// ---------------------------------------------------------------------------------------------------
// The world of one generated sequence
// ---------------------------------------------------------------------------------------------------

type Op =
  | { kind: 'grant'; req: GrantRequest; result: { lotId: number } }
  | { kind: 'expire'; req: { workspaceId: string; lotId: number; at: Date }; result: { expired: number } }
  | { kind: 'forfeit'; req: { key: string; workspaceId: string; at: Date }; result: { forfeited: number } }
  | { kind: 'packs'; req: { key: string; workspaceId: string; at: Date; frozen: boolean }; result: { lots: number } }
  | { kind: 'hold'; quoteId: string; creationId: string; result: CreationView }
  | { kind: 'end'; creationId: string; outcome: { status: 'succeeded'; reported: number } | { status: 'failed' | 'expired' }; result: CreationView }
  | { kind: 'adjust'; req: AdjustmentRequest; result: AdjustmentView };

interface World {
  sql: Sql;
  ws: string;
  clockId: string;
  now: Date;
  live: boolean;
  subscriptionId: string | null;
  seq: number;
  ops: Op[];
  expireCalled: Set<number>;
  holdOrder: Map<string, number[]>;
}

async function snapshot(sql: Sql, ws: string): Promise<Snapshot> {
  const [lots, entries, creations, portions, operations, quotes, notifications] = await Promise.all([
    sql<LotRow[]>`
      SELECT id, source, granted, remaining, held, granted_at, expires_at, expired_at, frozen FROM lots
      WHERE workspace_id = ${ws} ORDER BY id`,
    sql<EntryRow[]>`
      SELECT id, kind, lot_id, remaining_delta, held_delta, amount, balance_after, at, operation_key, reason FROM ledger_entries
      WHERE workspace_id = ${ws} ORDER BY id`,
    sql<CreationRow[]>`
      SELECT id, quote_id, status, quoted, reported, charged, variance, created_at, hold_expires_at, ended_at FROM creations
      WHERE workspace_id = ${ws} ORDER BY id`,
    sql<PortionRow[]>`
      SELECT p.creation_id, p.lot_id, p.amount, p.captured FROM hold_portions p JOIN creations c ON c.id = p.creation_id
      WHERE c.workspace_id = ${ws} ORDER BY p.creation_id, p.lot_id`,
    sql`SELECT key, result FROM ledger_operations WHERE workspace_id = ${ws} ORDER BY key`,
    sql`SELECT id, credits, created_at, expires_at FROM quotes WHERE workspace_id = ${ws} ORDER BY id`,
    sql`SELECT kind, dedupe_key, payload, at FROM notifications WHERE workspace_id = ${ws} ORDER BY id`,
  ]);
  const plain = <T extends object>(rows: readonly T[]): T[] => rows.map((row) => ({ ...row }));
  return {
    lots: plain(lots), entries: plain(entries), creations: plain(creations), portions: plain(portions),
    operations: plain(operations), quotes: plain(quotes), notifications: plain(notifications),
  };
}

const snap = (w: World) => snapshot(w.sql, w.ws);
const nextKey = (w: World, what: string) => `${w.ws}:${what}:${w.seq++}`;

/** The other lots did not change. */
function expectOtherLotsUnchanged(before: Snapshot, after: Snapshot, changed: Iterable<number>): void {
  const skip = new Set(changed);
  expect(after.lots.filter((lot) => !skip.has(lot.id) && before.lots.some((b) => b.id === lot.id)))
    .toEqual(before.lots.filter((lot) => !skip.has(lot.id)));
}

/** Invariant 6: the operation's last journal entry carries the balance right after it. */
async function expectLastBalanceIsAvailable(w: World, after: Snapshot, keys: string[], at = w.now): Promise<void> {
  const last = after.entries.filter((e) => keys.includes(e.operation_key)).at(-1);
  expect(last, `an entry for ${keys.join(', ')}`).toBeDefined();
  expect(last!.balance_after).toBe(await availableAt(w.sql, w.ws, w.now));
  expect(last!.at).toEqual(at);
}

async function advanceClock(w: World, ms: number): Promise<void> {
  const [clock] = await w.sql<{ frozen_time: Date }[]>`
    UPDATE test_clocks SET frozen_time = frozen_time + ${ms} * interval '1 millisecond' WHERE id = ${w.clockId}
    RETURNING frozen_time`;
  expect(clock!.frozen_time.getTime()).toBe(w.now.getTime() + ms);
  w.now = clock!.frozen_time;
}

async function setLive(w: World, live: boolean): Promise<void> {
  if (live && !w.live) {
    w.subscriptionId = newId('sub');
    await w.sql`
      INSERT INTO subscriptions (id, workspace_id, plan, interval, status, current_period_start, current_period_end)
      VALUES (${w.subscriptionId}, ${w.ws}, 'max', 'month', 'active', ${w.now}, ${new Date(w.now.getTime() + 30 * DAY)})`;
  } else if (!live && w.live) {
    await w.sql`UPDATE subscriptions SET status = 'canceled' WHERE id = ${w.subscriptionId}`;
    w.subscriptionId = null;
  }
  w.live = live;
}

// ---------------------------------------------------------------------------------------------------
// Commands against the real ledger, each checked against the model
// ---------------------------------------------------------------------------------------------------

/** `twice`: the same grant sent twice at once (a retried activity) still grants one lot. */
async function grant(w: World, source: 'monthly' | 'pack', amount: number, days: number | null, twice = false): Promise<void> {
  const req: GrantRequest = {
    key: nextKey(w, 'grant'), workspaceId: w.ws, source, amount, grantedAt: w.now,
    expiresAt: days === null ? null : new Date(w.now.getTime() + days * DAY),
  };
  const before = await snap(w);
  const [result, ...retries] = await Promise.all((twice ? [req, req] : [req]).map((r) => grantLot(w.sql, r)));
  for (const retry of retries) expect(retry).toEqual(result);
  const after = await snap(w);
  const lot = after.lots.find((l) => l.id === result!.lotId);
  // A pack bought without a live subscription waits, frozen, for the next one.
  const frozen = source === 'pack' && !w.live;
  expect(lot).toMatchObject({ source, granted: amount, remaining: amount, held: 0, frozen, expired_at: null, expires_at: req.expiresAt });
  expect(after.lots).toHaveLength(before.lots.length + 1);
  expectOtherLotsUnchanged(before, after, [result!.lotId]);
  expect(modelAvailable(after.lots, w.now)).toBe(modelAvailable(before.lots, w.now) + (frozen ? 0 : amount));
  await expectLastBalanceIsAvailable(w, after, [req.key]);
  w.ops.push({ kind: 'grant', req, result: result! });
}

async function expireOne(w: World, choice: number): Promise<void> {
  const before = await snap(w);
  const candidates = before.lots.filter((lot) => lapsed(lot, w.now) && !w.expireCalled.has(lot.id));
  if (candidates.length === 0) return;
  const lot = candidates[choice % candidates.length]!;
  const req = { workspaceId: w.ws, lotId: lot.id, at: lot.expires_at! };
  const result = await expireLot(w.sql, req);
  w.expireCalled.add(lot.id);
  const after = await snap(w);
  // The unheld remainder goes; a held portion stays capturable until its hold ends.
  expect(result).toEqual({ expired: free(lot) });
  expect(after.lots.find((l) => l.id === lot.id)).toEqual({ ...lot, remaining: lot.held, expired_at: req.at });
  expectOtherLotsUnchanged(before, after, [lot.id]);
  // The lot had already stopped counting when the clock passed its expiry: expiring it is bookkeeping.
  expect(modelAvailable(after.lots, w.now)).toBe(modelAvailable(before.lots, w.now));
  w.ops.push({ kind: 'expire', req, result });
}

/** Checks one successful hold against the lots as they were just before it; returns the lots after it. */
function expectHoldInBurnOrder(lots: LotRow[], now: Date, view: CreationView, portions: PortionRow[]): LotRow[] {
  const expected = greedyHold(lots, now, view.quoted);
  expect(portions.map((p) => ({ lot_id: p.lot_id, amount: p.amount })).sort((a, b) => a.lot_id - b.lot_id))
    .toEqual([...expected].sort((a, b) => a.lot_id - b.lot_id));
  expect(portions.every((p) => p.captured === 0)).toBe(true);
  expect(view).toMatchObject({ status: 'running', held: view.quoted, charged: null, released: 0, variance: null });
  expect(view.lots).toEqual(expected.map((p) => ({ lot: lotName(p.lot_id), credits: p.amount })));
  const held = new Map(expected.map((p) => [p.lot_id, p.amount]));
  return lots.map((lot) => ({ ...lot, held: lot.held + (held.get(lot.id) ?? 0) }));
}

function recordHold(w: World, quoteId: string, view: CreationView): void {
  w.holdOrder.set(view.id, view.lots.map((draw) => Number(draw.lot.replace('lot_', ''))));
  w.ops.push({ kind: 'hold', quoteId, creationId: view.id, result: view });
}

async function hold(w: World, amount: number): Promise<void> {
  const quote = await createQuote(w.sql, w.ws, { model: 'property-test' }, amount);
  const before = await snap(w);
  const available = modelAvailable(before.lots, w.now);
  let result: Awaited<ReturnType<typeof holdForQuote>>;
  try {
    result = await holdForQuote(w.sql, w.ws, quote.quote_id);
  } catch (error) {
    // SPEC §3: if the available balance is smaller, the creation is refused and nothing changes.
    expect(error).toBeInstanceOf(Refusal);
    expect((error as Refusal).code).toBe('insufficient_credits');
    expect((error as Refusal).detail).toEqual({ required: amount, available });
    expect(available).toBeLessThan(amount);
    expect(await snap(w)).toEqual(before);
    return;
  }
  expect(available).toBeGreaterThanOrEqual(amount);
  expect(result.replayed).toBe(false);
  // The answer (built by ledger_hold from what it wrote) is what reading the creation back gives.
  expect(result.creation).toEqual(await readCreation(w.sql, w.ws, result.creation.id));
  const after = await snap(w);
  const creation = after.creations.find((c) => c.id === result.creation.id);
  expect(creation).toMatchObject({ quote_id: quote.quote_id, status: 'running', quoted: amount, created_at: w.now });
  expect(creation!.hold_expires_at.getTime()).toBe(w.now.getTime() + HOLD_TTL_MS);
  const lots = expectHoldInBurnOrder(before.lots, w.now, result.creation, after.portions.filter((p) => p.creation_id === creation!.id));
  expect(after.lots).toEqual(lots);
  expect(modelAvailable(after.lots, w.now)).toBe(available - amount);
  await expectLastBalanceIsAvailable(w, after, [`hold:${creation!.id}`]);
  recordHold(w, quote.quote_id, result.creation);
}

/** Concurrent holds of one workspace serialise: no overdraw, and each one follows burn order in turn. */
/**
 * Concurrent holds of one workspace serialise: no overdraw, each one follows burn order in turn, and a
 * quote sent twice at once (a retried request) starts one creation.
 */
async function holdConcurrently(w: World, amounts: number[], duplicate: boolean): Promise<void> {
  const quotes = await Promise.all(amounts.map((amount) => createQuote(w.sql, w.ws, { model: 'property-test' }, amount)));
  const requests = duplicate ? [...quotes, quotes[0]!] : quotes;
  const before = await snap(w);
  const available = modelAvailable(before.lots, w.now);
  const settled = await Promise.allSettled(requests.map((quote) => holdForQuote(w.sql, w.ws, quote.quote_id)));
  const after = await snap(w);
  const finalAvailable = modelAvailable(after.lots, w.now);
  const held: CreationView[] = [];
  const replayed: CreationView[] = [];
  settled.forEach((outcome, i) => {
    const quote = requests[i]!;
    if (outcome.status === 'fulfilled') {
      if (outcome.value.replayed) {
        replayed.push(outcome.value.creation);
        return;
      }
      held.push(outcome.value.creation);
      recordHold(w, quote.quote_id, outcome.value.creation);
    } else {
      expect(outcome.reason).toBeInstanceOf(Refusal);
      expect((outcome.reason as Refusal).code).toBe('insufficient_credits');
      // It was refused when the balance was smaller; the balance only went down after that.
      expect(quote.credits).toBeGreaterThan(finalAvailable);
    }
  });
  // Only the duplicated quote can be replayed, and then it returns the creation its twin started.
  const twin = duplicate ? held.find((c) => after.creations.find((row) => row.id === c.id)!.quote_id === quotes[0]!.quote_id) : undefined;
  expect(replayed).toEqual(twin ? [twin] : []);
  expect(after.creations.filter((c) => !before.creations.some((b) => b.id === c.id)).map((c) => c.id).sort()).toEqual(held.map((c) => c.id).sort());
  expect(finalAvailable).toBe(available - sum(held.map((c) => c.quoted)));
  // Replay the holds in the order the workspace lock admitted them (their journal order).
  const firstEntry = (c: CreationView) => after.entries.find((e) => e.operation_key === `hold:${c.id}`)!.id;
  let lots = before.lots;
  for (const creation of held.sort((a, b) => firstEntry(a) - firstEntry(b))) {
    lots = expectHoldInBurnOrder(lots, w.now, creation, after.portions.filter((p) => p.creation_id === creation.id));
  }
  expect(after.lots).toEqual(lots);
  if (held.length > 0) await expectLastBalanceIsAvailable(w, after, held.map((c) => `hold:${c.id}`));
}

async function holdExpiredQuote(w: World, amount: number, minutes: number): Promise<void> {
  const quote = await createQuote(w.sql, w.ws, { model: 'property-test' }, amount);
  expect(Date.parse(quote.expires_at)).toBe(w.now.getTime() + QUOTE_TTL_MS);
  await advanceClock(w, minutes * MINUTE);
  const before = await snap(w);
  await expect(holdForQuote(w.sql, w.ws, quote.quote_id)).rejects.toMatchObject({ code: 'quote_expired' });
  expect(await snap(w)).toEqual(before);
}

type EndOutcome = { status: 'succeeded'; reported: number } | { status: 'failed' };

async function end(w: World, choice: number, includeEnded: boolean, outcome: EndOutcome): Promise<void> {
  const before = await snap(w);
  const candidates = includeEnded ? before.creations : before.creations.filter((c) => c.status === 'running');
  if (candidates.length === 0) return;
  const creation = candidates[choice % candidates.length]!;

  if (creation.status !== 'running') {
    if (outcome.status === 'succeeded' && creation.status === 'succeeded' && outcome.reported !== creation.reported) {
      // A completion with another amount is refused, naming the first (issue 16, finding 8).
      await expect(endCreation(w.sql, w.ws, creation.id, outcome)).rejects.toMatchObject({
        code: 'creation_already_ended', detail: { reported: creation.reported, charged: creation.charged } });
    } else if (creation.status === outcome.status) {
      // Ending it the same way again (a completion: with the same amount) returns its result.
      const view = await endCreation(w.sql, w.ws, creation.id, outcome);
      expect(view).toEqual(await readCreation(w.sql, w.ws, creation.id));
    } else {
      await expect(endCreation(w.sql, w.ws, creation.id, outcome)).rejects.toMatchObject({ code: 'creation_not_running' });
    }
    expect(await snap(w)).toEqual(before);
    return;
  }
  if (await refusedAfterHoldLapsed(w, before, creation, [outcome])) return;
  const view = await endCreation(w.sql, w.ws, creation.id, outcome);
  expect(view).toEqual(await readCreation(w.sql, w.ws, creation.id));
  await expectEnded(w, before, creation, outcome, view);
}

/**
 * SPEC §3: a hold not completed within 1 hour is released. Ending it later, before the sweep got to it,
 * is refused just as after the sweep (nothing is captured), and the sweep releases it as of its lapse.
 */
async function refusedAfterHoldLapsed(w: World, before: Snapshot, creation: CreationRow, outcomes: EndOutcome[]): Promise<boolean> {
  if (creation.hold_expires_at > w.now) return false;
  for (const outcome of outcomes) {
    await expect(endCreation(w.sql, w.ws, creation.id, outcome)).rejects.toMatchObject({ code: 'creation_not_running' });
  }
  expect(await snap(w)).toEqual(before);
  return true;
}

/** A completion and a failure of one creation racing each other: exactly one of them ends it. */
async function raceEnd(w: World, choice: number, reported: number): Promise<void> {
  const before = await snap(w);
  const running = before.creations.filter((c) => c.status === 'running');
  if (running.length === 0) return;
  const creation = running[choice % running.length]!;
  const outcomes: EndOutcome[] = [{ status: 'succeeded', reported }, { status: 'failed' }];
  if (await refusedAfterHoldLapsed(w, before, creation, outcomes)) return;
  const settled = await Promise.allSettled(outcomes.map((outcome) => endCreation(w.sql, w.ws, creation.id, outcome)));
  const winners = settled.flatMap((result, i) => (result.status === 'fulfilled' ? [{ view: result.value, outcome: outcomes[i]! }] : []));
  expect(winners).toHaveLength(1);
  const loser = settled.find((result) => result.status === 'rejected')!;
  expect(loser.reason).toMatchObject({ code: 'creation_not_running' });
  await expectEnded(w, before, creation, winners[0]!.outcome, winners[0]!.view);
}

/** Checks the end of a running creation against the model applied to the state just before it. */
async function expectEnded(w: World, before: Snapshot, creation: CreationRow, outcome: EndOutcome, view: CreationView): Promise<void> {
  const reported = outcome.status === 'succeeded' ? outcome.reported : null;
  // Invariant 4: the quote is a ceiling.
  const charged = Math.min(reported ?? 0, creation.quoted);
  const lots = byId(before.lots);
  const portions = before.portions.filter((p) => p.creation_id === creation.id);
  const model = modelEnd(lots, portions, charged, w.now);
  // The capture follows the burn order of the lots as they are now. A forfeit moves the expires_at of the
  // lots it retires to its own instant, which can reorder them among the lots that lapsed since the hold:
  // those lose their whole portion either way (captured, or released and expired). The unexpired lots
  // keep the hold's order, after every lapsed one.
  const unexpired = (id: number) => !lapsed(lots.get(id)!, w.now);
  expect(model.order.filter(unexpired)).toEqual(w.holdOrder.get(creation.id)!.filter(unexpired));
  expect(model.order).toEqual([...model.order.filter((id) => !unexpired(id)), ...model.order.filter(unexpired)]);

  const after = await snap(w);
  const variance = reported !== null && reported > creation.quoted ? reported - creation.quoted : null;
  expect(view).toMatchObject({ id: creation.id, status: outcome.status, quoted: creation.quoted, held: 0, charged, released: creation.quoted - charged, variance });
  expect(after.creations.find((c) => c.id === creation.id)).toEqual({ ...creation, status: outcome.status, reported, charged, variance, ended_at: w.now });
  // Captured amounts fill the held portions in burn order.
  const capturedAfter = after.portions.filter((p) => p.creation_id === creation.id);
  expect(capturedAfter).toEqual(portions.map((p) => ({ ...p, captured: model.captured.get(p.lot_id) })));
  expect(view.lots).toEqual(model.order.filter((id) => model.captured.get(id)! > 0).map((id) => ({ lot: lotName(id), credits: model.captured.get(id) })));
  expect(after.lots).toEqual([...lots.values()]);
  expect(modelAvailable(after.lots, w.now)).toBe(modelAvailable(before.lots, w.now) + model.availableGain);
  await expectLastBalanceIsAvailable(w, after, [`capture:${creation.id}`, `release:${creation.id}`]);
  w.ops.push({ kind: 'end', creationId: creation.id, outcome, result: view });
}

async function sweepStaleHolds(w: World, minutes: number): Promise<void> {
  await advanceClock(w, minutes * MINUTE);
  const before = await snap(w);
  const stale = before.creations.filter((c) => c.status === 'running' && c.hold_expires_at <= w.now);
  const lots = byId(before.lots);
  let gain = 0;
  for (const creation of stale) {
    gain += modelEnd(lots, before.portions.filter((p) => p.creation_id === creation.id), 0, w.now).availableGain;
  }
  expect(await expireStaleHolds(w.sql, { workspaceId: w.ws })).toBe(stale.length);
  const after = await snap(w);
  expect(after.lots).toEqual([...lots.values()]);
  for (const creation of stale) {
    // A lapsed hold is journaled at the moment it lapsed, whenever the sweep gets to it; the part of a lot that
    // expired between the lapse and the sweep expires at the lot's own expiry instant, never before (SPEC §11).
    const ended = creation.hold_expires_at;
    expect(after.creations.find((c) => c.id === creation.id)).toEqual({ ...creation, status: 'expired', reported: null, charged: 0, variance: null, ended_at: ended });
    const entryAt = (e: { kind: string; lot_id: number }) => {
      const lotExpiry = e.kind === 'expire' ? lots.get(e.lot_id)?.expires_at : null;
      return Math.max(ended.getTime(), lotExpiry?.getTime() ?? 0);
    };
    expect(after.entries.filter((e) => e.operation_key === `release:${creation.id}`).every((e) => e.at.getTime() === entryAt(e))).toBe(true);
    const view = (await readCreation(w.sql, w.ws, creation.id))!;
    expect(view).toMatchObject({ status: 'expired', held: 0, charged: 0, released: creation.quoted, lots: [] });
    w.ops.push({ kind: 'end', creationId: creation.id, outcome: { status: 'expired' }, result: view });
  }
  expect(after.creations.filter((c) => c.status === 'running' && c.hold_expires_at <= w.now)).toEqual([]);
  expect(modelAvailable(after.lots, w.now)).toBe(modelAvailable(before.lots, w.now) + gain);
  if (stale.length > 0) {
    const last = after.entries.filter((e) => stale.some((c) => e.operation_key === `release:${c.id}`)).at(-1)!;
    await expectLastBalanceIsAvailable(w, after, [last.operation_key], last.at);
  }
  // Sweeping again right away finds nothing and changes nothing.
  expect(await expireStaleHolds(w.sql, { workspaceId: w.ws })).toBe(0);
  expect(await snap(w)).toEqual(after);
}

async function freezePacks(w: World, frozen: boolean): Promise<void> {
  const req = { key: nextKey(w, frozen ? 'freeze' : 'thaw'), workspaceId: w.ws, at: w.now, frozen };
  const before = await snap(w);
  // Packs and adjustments outlive the plan (frozen while nothing is live); a lapsed one stays as it is.
  const affected = before.lots.filter((lot) => outlivesPlan(lot) && lot.frozen !== frozen && lot.remaining > 0 && !lapsed(lot, w.now));
  const result = await setPacksFrozen(w.sql, req);
  const after = await snap(w);
  expect(result).toEqual({ lots: affected.length });
  for (const lot of affected) expect(after.lots.find((l) => l.id === lot.id)).toEqual({ ...lot, frozen });
  expectOtherLotsUnchanged(before, after, affected.map((lot) => lot.id));
  const spendableChange = sum(affected.map(free));
  expect(modelAvailable(after.lots, w.now)).toBe(modelAvailable(before.lots, w.now) + (frozen ? -spendableChange : spendableChange));
  if (affected.length > 0) await expectLastBalanceIsAvailable(w, after, [req.key]);
  w.ops.push({ kind: 'packs', req, result });
}

async function forfeit(w: World): Promise<void> {
  const req = { key: nextKey(w, 'forfeit'), workspaceId: w.ws, at: w.now };
  const before = await snap(w);
  const affected = before.lots.filter((lot) => !outlivesPlan(lot) && lot.expired_at === null && lot.expires_at! > w.now && lot.remaining > 0);
  const result = await forfeitPlanLots(w.sql, req);
  const after = await snap(w);
  const forfeited = sum(affected.map(free));
  expect(result).toEqual({ forfeited });
  // The unheld remainder goes now; a held portion stays capturable and expires when released.
  for (const lot of affected) {
    expect(after.lots.find((l) => l.id === lot.id)).toEqual({ ...lot, remaining: lot.held, expires_at: w.now, expired_at: w.now });
  }
  expectOtherLotsUnchanged(before, after, affected.map((lot) => lot.id));
  expect(modelAvailable(after.lots, w.now)).toBe(modelAvailable(before.lots, w.now) - forfeited);
  if (forfeited > 0) await expectLastBalanceIsAvailable(w, after, [req.key]);
  w.ops.push({ kind: 'forfeit', req, result });
}

/**
 * SPEC §10 adjustment: a positive one adds a lot of source `adjustment` (frozen while nothing is live, as a
 * pack); a negative one takes unspent, unheld, spendable credits in burn order, or is refused with
 * insufficient_credits changing nothing.
 */
async function adjust(w: World, credits: number, days: number | null): Promise<void> {
  const req: AdjustmentRequest = {
    id: nextKey(w, 'adj'), workspaceId: w.ws, credits, reason: `property ${w.seq}`,
    expiresAt: credits > 0 && days !== null ? new Date(w.now.getTime() + days * DAY) : null,
  };
  const before = await snap(w);
  const available = modelAvailable(before.lots, w.now);
  let result: AdjustmentView;
  try {
    result = await adjustCredits(w.sql, req);
  } catch (error) {
    expect(error).toBeInstanceOf(Refusal);
    expect((error as Refusal).code).toBe('insufficient_credits');
    expect((error as Refusal).detail).toEqual({ required: -credits, available });
    expect(available).toBeLessThan(-credits);
    expect(await snap(w)).toEqual(before);
    return;
  }
  const after = await snap(w);
  if (credits > 0) {
    const frozen = !w.live;
    const lot = after.lots.find((l) => !before.lots.some((b) => b.id === l.id));
    expect(lot).toMatchObject({ source: 'adjustment', granted: credits, remaining: credits, held: 0, frozen, expires_at: req.expiresAt, granted_at: w.now });
    expect(after.lots).toHaveLength(before.lots.length + 1);
    expectOtherLotsUnchanged(before, after, [lot!.id]);
    expect(modelAvailable(after.lots, w.now)).toBe(available + (frozen ? 0 : credits));
    expect(result).toMatchObject({ credits, frozen, lots: [{ lot: lotName(lot!.id), credits }] });
  } else {
    expect(available).toBeGreaterThanOrEqual(-credits);
    // Taken like a hold would reserve: whole free amounts of earlier spendable lots first.
    const taken = greedyHold(before.lots, w.now, -credits);
    const take = new Map(taken.map((p) => [p.lot_id, p.amount]));
    expect(after.lots).toEqual(before.lots.map((lot) => ({ ...lot, remaining: lot.remaining - (take.get(lot.id) ?? 0) })));
    expect(result.lots).toEqual(taken.map((p) => ({ lot: lotName(p.lot_id), credits: -p.amount })));
    expect(modelAvailable(after.lots, w.now)).toBe(available + credits);
  }
  expect(after.entries.filter((e) => e.operation_key === `adjustment:${req.id}` && e.kind === 'adjust').every((e) => e.reason === req.reason)).toBe(true);
  expect(result.balance_after).toBe(await availableAt(w.sql, w.ws, w.now));
  await expectLastBalanceIsAvailable(w, after, [`adjustment:${req.id}`]);
  w.ops.push({ kind: 'adjust', req, result });
}

/** Invariant 5: replaying an operation with its key (or on the same creation) returns its result and changes nothing. */
async function replay(w: World, choice: number, alter: boolean): Promise<void> {
  if (w.ops.length === 0) return;
  const op = w.ops[choice % w.ops.length]!;
  const before = await snap(w);
  switch (op.kind) {
    case 'grant':
      // The key decides: a retry with different details still returns the first grant.
      expect(await grantLot(w.sql, alter ? { ...op.req, amount: op.req.amount + 1, grantedAt: w.now } : op.req)).toEqual(op.result);
      break;
    case 'expire':
      expect(await expireLot(w.sql, alter ? { ...op.req, at: w.now } : op.req)).toEqual(op.result);
      break;
    case 'forfeit':
      expect(await forfeitPlanLots(w.sql, alter ? { ...op.req, at: w.now } : op.req)).toEqual(op.result);
      break;
    case 'packs':
      expect(await setPacksFrozen(w.sql, alter ? { ...op.req, frozen: !op.req.frozen, at: w.now } : op.req)).toEqual(op.result);
      break;
    case 'hold': {
      const current = (await readCreation(w.sql, w.ws, op.creationId))!;
      const again = await holdForQuote(w.sql, w.ws, op.quoteId);
      expect(again).toEqual({ creation: current, replayed: true });
      if (current.status === 'running') expect(receipt(current)).toEqual(receipt(op.result));
      break;
    }
    case 'end': {
      const again = await endCreation(w.sql, w.ws, op.creationId, op.outcome);
      expect(receipt(again)).toEqual(receipt(op.result));
      break;
    }
    case 'adjust':
      // The id decides: a retry with other credits still returns the first adjustment.
      expect(await adjustCredits(w.sql, alter ? { ...op.req, credits: op.req.credits + 1, reason: 'altered' } : op.req)).toEqual(op.result);
      break;
  }
  expect(await snap(w)).toEqual(before);
}

async function run(w: World, command: Command): Promise<void> {
  switch (command.kind) {
    case 'grantMonthly': return grant(w, 'monthly', command.amount, command.days);
    case 'grantPack': return grant(w, 'pack', command.amount, null);
    case 'advance': {
      const before = await snap(w);
      await advanceClock(w, command.days * DAY + command.hours * HOUR + command.minutes * MINUTE);
      // Time passing writes nothing: expiry is read lazily from expires_at.
      expect(await snap(w)).toEqual(before);
      return;
    }
    case 'expireLot': return expireOne(w, command.pick);
    case 'hold': return hold(w, command.credits);
    case 'holdConcurrently': return holdConcurrently(w, command.credits, command.duplicate);
    case 'holdExpiredQuote': return holdExpiredQuote(w, command.credits, command.minutes);
    case 'complete': return end(w, command.pick, command.anyCreation, { status: 'succeeded', reported: command.reported });
    case 'fail': return end(w, command.pick, command.anyCreation, { status: 'failed' });
    case 'expireStaleHolds': return sweepStaleHolds(w, command.minutes);
    case 'setPacksFrozen': return freezePacks(w, command.frozen);
    case 'setLive': {
      const before = await snap(w);
      await setLive(w, command.live);
      expect(await snap(w)).toEqual(before);
      return;
    }
    case 'forfeitPlanLots': return forfeit(w);
    case 'replay': return replay(w, command.pick, command.alter);
    case 'raceGrant': return grant(w, 'monthly', command.amount, 30, true);
    case 'raceEnd': return raceEnd(w, command.pick, command.reported);
    case 'adjust': return adjust(w, command.credits, command.days);
  }
}

// ---------------------------------------------------------------------------------------------------
// Invariants checked after every command
// ---------------------------------------------------------------------------------------------------

/** The sign pattern of each entry kind (see the ledger_entries migration). */
function expectEntryShape(e: EntryRow): void {
  const shape = { remaining: Math.sign(e.remaining_delta), held: Math.sign(e.held_delta) };
  switch (e.kind) {
    case 'grant':
      expect(shape).toEqual({ remaining: 1, held: 0 });
      expect(e.amount).toBe(e.remaining_delta);
      break;
    case 'hold':
      expect(shape).toEqual({ remaining: 0, held: 1 });
      expect(e.amount).toBe(-e.held_delta);
      break;
    case 'capture':
      expect(shape).toEqual({ remaining: -1, held: -1 });
      expect(e.held_delta).toBe(e.remaining_delta);
      expect(e.amount).toBe(e.remaining_delta);
      break;
    case 'release':
      expect(shape).toEqual({ remaining: 0, held: -1 });
      // What it gave the balance back: all of it, or nothing on a lot frozen while nothing is live.
      expect([-e.held_delta, 0]).toContain(e.amount);
      break;
    case 'expire':
    case 'forfeit':
      expect(shape).toEqual({ remaining: -1, held: 0 });
      // What the lot still added to the available balance: all of it, or nothing when it was frozen.
      expect([e.remaining_delta, 0]).toContain(e.amount);
      break;
    case 'freeze':
    case 'thaw':
      expect(shape).toEqual({ remaining: 0, held: 0 });
      expect(e.kind === 'freeze' ? -e.amount : e.amount).toBeGreaterThanOrEqual(0);
      break;
    case 'adjust':
      expect(Math.abs(shape.remaining)).toBe(1);
      expect(shape.held).toBe(0);
      expect(e.amount).toBe(e.remaining_delta);
      expect(e.reason).not.toBeNull();
      break;
    default:
      throw new Error(`unknown entry kind ${e.kind}`);
  }
  expect(e.balance_after).toBeGreaterThanOrEqual(0);
}

/** How many states the reconciliation was checked in (so a run that never checks it fails). */
let reconciledStates = 0;

async function checkInvariants(w: World): Promise<void> {
  const s = await snap(w);
  expect(await workspaceNow(w.sql, w.ws)).toEqual(w.now);

  // 1. Conservation, per lot and in total.
  for (const e of s.entries) expectEntryShape(e);
  for (const lot of s.lots) {
    const entries = s.entries.filter((e) => e.lot_id === lot.id);
    expect(sum(entries.map((e) => e.remaining_delta)), `lot ${lot.id} remaining from its entries`).toBe(lot.remaining);
    expect(sum(entries.map((e) => e.held_delta)), `lot ${lot.id} held from its entries`).toBe(lot.held);
    // Each lot is created by one entry: a grant, or a positive adjustment for an adjustment lot.
    const creating = lot.source === 'adjustment' ? entries.filter((e) => e.kind === 'adjust' && e.remaining_delta > 0) : entries.filter((e) => e.kind === 'grant');
    expect(creating.map((e) => e.remaining_delta)).toEqual([lot.granted]);
    expect(creating[0]!.id).toBe(Math.min(...entries.map((e) => e.id)));
    // 2. held never exceeds remaining; remaining never negative.
    expect(lot.remaining).toBeGreaterThanOrEqual(0);
    expect(lot.held).toBeGreaterThanOrEqual(0);
    expect(lot.held).toBeLessThanOrEqual(lot.remaining);
    expect(lot.remaining).toBeLessThanOrEqual(lot.granted);
  }
  const consumed = (kind: string) => negSum(s.entries.filter((e) => e.kind === kind).map((e) => e.remaining_delta));
  const granted = sum(s.lots.map((lot) => lot.granted));
  const adjusts = s.entries.filter((e) => e.kind === 'adjust');
  const adjustedUp = sum(adjusts.filter((e) => e.remaining_delta > 0).map((e) => e.remaining_delta));
  const adjustedDown = negSum(adjusts.filter((e) => e.remaining_delta < 0).map((e) => e.remaining_delta));
  expect(sum(s.entries.filter((e) => e.kind === 'grant').map((e) => e.remaining_delta)) + adjustedUp).toBe(granted);
  // Credits leave only by capture, expiry, forfeit or negative adjustment, each journaled.
  expect(granted).toBe(sum(s.lots.map((lot) => lot.remaining)) + consumed('capture') + consumed('expire') + consumed('forfeit') + adjustedDown);
  expect(s.entries.filter((e) => e.remaining_delta < 0).every((e) => ['capture', 'expire', 'forfeit', 'adjust'].includes(e.kind))).toBe(true);

  // 2. available, read lazily at the workspace's time, matches the model and is never negative.
  const available = await availableAt(w.sql, w.ws, w.now);
  expect(available).toBe(modelAvailable(s.lots, w.now));
  expect(available).toBeGreaterThanOrEqual(0);

  // The journal reconciles (GET /v1/ledger): its balance changes add up to the available balance, and the
  // last balance_after is it, once every lapsed lot has its expire entry (expiry is read lazily).
  const allLapsedJournaled = s.lots.every((lot) => !lapsed(lot, w.now) || lot.expired_at !== null || lot.remaining === lot.held);
  if (allLapsedJournaled) {
    reconciledStates++;
    expect(sum(s.entries.map((e) => balanceChange(e.kind as EntryKind, e.amount))), 'journal balance changes = available').toBe(available);
  }
  const balance = await getBalance(w.sql, w.ws);
  expect(balance.available).toBe(available);
  expect(balance.held).toBe(sum(s.lots.map((lot) => lot.held)));
  expect(balance.as_of).toBe(w.now.toISOString());
  expect(balance.lots.map((lot) => lot.id)).toEqual(
    s.lots.filter((l) => (l.expires_at !== null && l.expires_at > w.now) || (l.expires_at === null && l.remaining > 0) || l.held > 0)
      .sort(burnOrder).map((l) => lotName(l.id)),
  );

  // A lot's held credits are exactly the portions of its running creations.
  const creations = new Map(s.creations.map((c) => [c.id, c]));
  for (const lot of s.lots) {
    const running = s.portions.filter((p) => p.lot_id === lot.id && creations.get(p.creation_id)!.status === 'running');
    expect(sum(running.map((p) => p.amount)), `lot ${lot.id} held by running creations`).toBe(lot.held);
  }

  // Every creation: its hold reserved the quote; 4. an end captured min(reported, quoted) and released the rest.
  for (const c of s.creations) {
    const portions = s.portions.filter((p) => p.creation_id === c.id);
    const entries = (key: string, kind: string) => s.entries.filter((e) => e.operation_key === `${key}:${c.id}` && e.kind === kind);
    expect(sum(portions.map((p) => p.amount))).toBe(c.quoted);
    expect(portions.every((p) => p.amount > 0 && p.captured >= 0 && p.captured <= p.amount)).toBe(true);
    expect(sum(entries('hold', 'hold').map((e) => e.held_delta))).toBe(c.quoted);
    if (c.status === 'running') {
      expect([c.charged, c.reported, c.ended_at]).toEqual([null, null, null]);
      expect(sum(portions.map((p) => p.captured))).toBe(0);
      continue;
    }
    const charged = Math.min(c.reported ?? 0, c.quoted);
    expect(c.status === 'succeeded' || c.reported === null).toBe(true);
    expect(c.charged).toBe(charged);
    expect(c.variance).toBe(c.reported !== null && c.reported > c.quoted ? c.reported - c.quoted : null);
    expect(sum(portions.map((p) => p.captured))).toBe(charged);
    expect(negSum(entries('capture', 'capture').map((e) => e.remaining_delta))).toBe(charged);
    expect(negSum(entries('release', 'release').map((e) => e.held_delta))).toBe(c.quoted - charged);
    expect(negSum(entries('release', 'expire').map((e) => e.remaining_delta))).toBeLessThanOrEqual(c.quoted - charged);
    const view = (await readCreation(w.sql, w.ws, c.id))!;
    expect(view).toMatchObject({ held: 0, charged, released: c.quoted - charged });
  }
}

// ---------------------------------------------------------------------------------------------------

describe('ledger properties (SPEC §2-3) on real Postgres', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  beforeAll(async () => {
    db = await freshDatabase();
  });
  afterAll(async () => db?.drop());

  it('keeps every invariant over random sequences of grants, time, holds, captures, expiries, freezes, forfeits, adjustments and replays', async () => {
    const seed = Number(process.env.LEDGER_SEED ?? Math.floor(Math.random() * 2 ** 31));
    console.log(`[ledger-properties] seed ${seed} (LEDGER_SEED=${seed} to replay)`);
    await fc.assert(
      fc.asyncProperty(
        fc.boolean(),
        // A few grants first, so most sequences have credits to spend.
        fc.array(grantArb, { minLength: 1, maxLength: 3 }),
        fc.array(commandArb, { minLength: 1, maxLength: 30, size: 'max' }),
        async (live, grants, rest) => {
          const commands = [...grants, ...rest];
          const clock = await createTestClock(db.sql, START);
          const { id: ws } = await createWorkspace(db.sql, { name: 'ledger properties', testClockId: clock.id });
          const w: World = {
            sql: db.sql, ws, clockId: clock.id, now: new Date(START), live: false, subscriptionId: null, seq: 0, ops: [],
            expireCalled: new Set(), holdOrder: new Map(),
          };
          await setLive(w, live);
          await checkInvariants(w);
          for (const [i, command] of commands.entries()) {
            try {
              await run(w, command);
              await checkInvariants(w);
            } catch (error) {
              if (error instanceof Error) error.message = `command #${i} ${JSON.stringify(command)}: ${error.message}`;
              throw error;
            }
          }
        },
      ),
      // ~0.1 s a run; LEDGER_PROPERTY_RUNS=1000 for a longer soak.
      { seed, numRuns: Number(process.env.LEDGER_PROPERTY_RUNS ?? 100) },
    );
    console.log(`[ledger-properties] journal reconciled with the balance in ${reconciledStates} states`);
    expect(reconciledStates).toBeGreaterThan(100);
    // Room for shrinking a counterexample.
  }, 300_000);
});
