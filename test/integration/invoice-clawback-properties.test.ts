import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clawbackTarget } from '../../domain/billing/invoice-grants.js';
import { Refusal } from '../../domain/refusals.js';
import { expireLot, getBalance } from '../../ledger/credits.js';
import type { Sql } from '../../ledger/db.js';
import type { InvoiceRow } from '../../ledger/invoices.js';
import { clawBackForRefund, freezeForDispute, readRefundClawback, thawForDispute } from '../../ledger/invoice-clawback.js';
import { expireStaleHolds } from '../../ledger/spend.js';
import { freshDatabase } from '../helpers/database.js';
import { clockWorkspace, finish, hold, paidPack, paidPeriod, setClock } from '../helpers/invoice-fixtures.js';

/*
 * SPEC §10 over random histories on real Postgres: spending through the real hold and capture (ledger_hold,
 * ledger_end, the sweeper's expireStaleHolds), refunds, disputes opened and closed (won, or lost: a clawback
 * then a thaw), time passing and lots expiring. After every step: each lot's journal explains its row
 * (remaining = granted − captured − expired − forfeited − clawed back, held likewise), the credits clawed back
 * from an invoice's lots never exceed ceil(N × R / T) and never touch another invoice's lots, a capture always
 * got what it charged (nothing taken was spent), a disputed invoice's lots add nothing to the balance, and
 * the balance is never negative. At the end, with every hold ended, nothing is left pending.
 */

const START = new Date('2046-01-10T00:00:00Z');
const HOUR = 3_600_000;

type Command =
  | { kind: 'hold'; credits: number }
  | { kind: 'end'; pick: number; capturedShare: number }
  | { kind: 'time'; hours: number; expireLots: boolean }
  /** Half an hour before the next lot expires: a hold taken then lapses past the lot's expiry. */
  | { kind: 'near_expiry' }
  | { kind: 'refund'; invoice: number; share: number }
  | { kind: 'dispute_open'; invoice: number }
  | { kind: 'dispute_close'; invoice: number; outcome: 'won' | 'lost' };

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('hold' as const), credits: fc.integer({ min: 1, max: 120 }) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('end' as const), pick: fc.nat(), capturedShare: fc.oneof(fc.constant(0), fc.constant(1), fc.double({ min: 0, max: 1, noNaN: true })) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('time' as const), hours: fc.oneof(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 24, max: 24 * 20 })), expireLots: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('near_expiry' as const) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('refund' as const), invoice: fc.nat({ max: 3 }), share: fc.double({ min: 0.01, max: 1, noNaN: true }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('dispute_open' as const), invoice: fc.nat({ max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('dispute_close' as const), invoice: fc.nat({ max: 3 }), outcome: fc.constantFrom('won' as const, 'lost' as const) }) },
);

interface Billed {
  invoice: InvoiceRow;
  lotIds: number[];
  credits: number;
  refunded: number;
  refundKeys: string[];
  dispute: 'none' | 'open' | 'lost';
  disputes: number;
}

interface World {
  sql: Sql;
  ws: string;
  clockId: string;
  now: Date;
  invoices: Billed[];
  running: string[];
  seq: number;
}

async function setUp(sql: Sql): Promise<World> {
  const { workspaceId: ws, clockId } = await clockWorkspace(sql, START);
  const packA = await paidPack(sql, ws, START, 100, 1000, 'a');
  const packB = await paidPack(sql, ws, new Date(START.getTime() + 1000), 500, 3280, 'b');
  const monthly = await paidPeriod(sql, ws, { plan: 'plus', interval: 'month', anchor: START, granted: 1 });
  const yearly = await paidPeriod(sql, ws, { plan: 'plus', interval: 'year', anchor: new Date(START.getTime() - 40 * 86_400_000), granted: 2 });
  const billed = (invoice: InvoiceRow, lotIds: number[], credits: number): Billed =>
    ({ invoice, lotIds, credits, refunded: 0, refundKeys: [], dispute: 'none', disputes: 0 });
  return {
    sql, ws, clockId, now: START, running: [], seq: 0,
    invoices: [
      billed(packA.invoice, [packA.lotId], 100), billed(packB.invoice, [packB.lotId], 500),
      billed(monthly.invoice, monthly.lotIds, 150), billed(yearly.invoice, yearly.lotIds, 300), // N: the two refreshes granted so far
    ],
  };
}

async function refund(w: World, b: Billed, cents: number): Promise<void> {
  b.refunded = Math.min(Number(b.invoice.total_cents), b.refunded + cents);
  const key = `refund:${b.invoice.id}:${w.seq++}`;
  b.refundKeys.push(key);
  const result = await clawBackForRefund(w.sql, { key, invoiceId: b.invoice.id, refundedCentsTotal: b.refunded, at: w.now });
  // A retry answers the same and changes nothing.
  expect(await clawBackForRefund(w.sql, { key, invoiceId: b.invoice.id, refundedCentsTotal: b.refunded, at: w.now })).toEqual(result);
  expect(Object.values(result).every((n) => Number.isInteger(n) && n >= 0)).toBe(true);
}

async function run(w: World, c: Command): Promise<void> {
  switch (c.kind) {
    case 'hold': {
      try {
        w.running.push(await hold(w.sql, w.ws, c.credits));
      } catch (error) {
        if (!(error instanceof Refusal && error.code === 'insufficient_credits')) throw error;
      }
      return;
    }
    case 'end': {
      if (w.running.length === 0) return;
      const [id] = w.running.splice(c.pick % w.running.length, 1);
      const [cr] = await w.sql<{ quoted: number; status: string }[]>`SELECT quoted, status FROM creations WHERE id = ${id!}`;
      if (cr!.status !== 'running') return; // the sweep released it
      try {
        await finish(w.sql, w.ws, id!, Math.floor(cr!.quoted * c.capturedShare));
      } catch (error) {
        if (!(error instanceof Refusal && error.code === 'creation_not_running')) throw error;
      }
      return;
    }
    case 'time': {
      w.now = new Date(w.now.getTime() + c.hours * HOUR);
      await setClock(w.sql, w.clockId, w.now);
      await expireStaleHolds(w.sql, { workspaceId: w.ws });
      if (c.expireLots) {
        const due = await w.sql<{ id: number }[]>`
          SELECT id FROM lots WHERE workspace_id = ${w.ws} AND expires_at <= ${w.now} AND expired_at IS NULL`;
        for (const lot of due) await expireLot(w.sql, { workspaceId: w.ws, lotId: Number(lot.id), at: w.now });
      }
      return;
    }
    case 'near_expiry': {
      const [next] = await w.sql<{ at: Date | null }[]>`
        SELECT min(expires_at) - interval '30 minutes' AS at FROM lots WHERE workspace_id = ${w.ws} AND expires_at - interval '30 minutes' > ${w.now}`;
      if (!next?.at) return;
      w.now = next.at;
      await setClock(w.sql, w.clockId, w.now);
      await expireStaleHolds(w.sql, { workspaceId: w.ws });
      return;
    }
    case 'refund': {
      const b = w.invoices[c.invoice]!;
      if (b.dispute !== 'none' || b.refunded >= Number(b.invoice.total_cents)) return; // refused upstream (409)
      await refund(w, b, Math.max(1, Math.round(Number(b.invoice.total_cents) * c.share)));
      return;
    }
    case 'dispute_open': {
      const b = w.invoices[c.invoice]!;
      if (b.dispute !== 'none') return;
      b.dispute = 'open';
      b.disputes += 1;
      await freezeForDispute(w.sql, { key: `dispute:${b.invoice.id}:${b.disputes}:created`, invoiceId: b.invoice.id, at: w.now });
      return;
    }
    case 'dispute_close': {
      const b = w.invoices[c.invoice]!;
      if (b.dispute !== 'open') return;
      const key = `dispute:${b.invoice.id}:${b.disputes}:${c.outcome}`;
      if (c.outcome === 'lost') {
        // The bank took back what was left to refund: a credit note for it, clawed back as a refund.
        await refund(w, b, Number(b.invoice.total_cents) - b.refunded);
        b.dispute = 'lost';
      } else {
        b.dispute = 'none';
      }
      await thawForDispute(w.sql, { key, invoiceId: b.invoice.id, at: w.now });
      return;
    }
  }
}

async function checkInvariants(w: World): Promise<void> {
  const lots = await w.sql<{ id: number; granted: number; remaining: number; held: number; clawback_pending: number; dispute_freeze_key: string | null; available: number }[]>`
    SELECT id, granted, remaining, held, clawback_pending, dispute_freeze_key, lot_available(l, ${w.now}) AS available
    FROM lots l WHERE workspace_id = ${w.ws}`;
  const sums = await w.sql<{ lot_id: number; kind: string; remaining: number; held: number }[]>`
    SELECT lot_id, kind, sum(remaining_delta)::int AS remaining, sum(held_delta)::int AS held
    FROM ledger_entries WHERE workspace_id = ${w.ws} GROUP BY lot_id, kind`;
  for (const lot of lots) {
    const of = (kind: string) => sums.find((s) => Number(s.lot_id) === Number(lot.id) && s.kind === kind) ?? { remaining: 0, held: 0 };
    // Conservation: only grants, captures, expiries, forfeits and clawbacks move `remaining`, each journaled.
    expect(sums.filter((s) => Number(s.lot_id) === Number(lot.id) && !['grant', 'capture', 'expire', 'forfeit', 'clawback'].includes(s.kind) && s.remaining !== 0)).toEqual([]);
    expect(lot.remaining).toBe(of('grant').remaining + of('capture').remaining + of('expire').remaining + of('forfeit').remaining + of('clawback').remaining);
    expect(lot.held).toBe(of('hold').held + of('capture').held + of('release').held);
    expect(lot.clawback_pending).toBeLessThanOrEqual(lot.held);
    expect(lot.available).toBeGreaterThanOrEqual(0);
  }
  // A capture always takes what it charged: nothing taken back was spent.
  const [spent] = await w.sql<{ captured: number; charged: number }[]>`
    SELECT (SELECT coalesce(sum(-remaining_delta), 0)::int FROM ledger_entries WHERE workspace_id = ${w.ws} AND kind = 'capture') AS captured,
      (SELECT coalesce(sum(charged), 0)::int FROM creations WHERE workspace_id = ${w.ws} AND status <> 'running') AS charged`;
  expect(spent!.captured).toBe(spent!.charged);

  const clawbacks = await w.sql<{ lot_id: number; operation_key: string; credits: number }[]>`
    SELECT lot_id, operation_key, -remaining_delta AS credits FROM ledger_entries WHERE workspace_id = ${w.ws} AND kind = 'clawback'`;
  for (const b of w.invoices) {
    const mine = clawbacks.filter((e) => b.lotIds.includes(Number(e.lot_id)));
    // Only this invoice's refunds take from its lots, and no more than ceil(N × R / T) in all.
    expect(mine.filter((e) => !b.refundKeys.includes(e.operation_key))).toEqual([]);
    const taken = mine.reduce((s, e) => s + e.credits, 0);
    const target = clawbackTarget(b.credits, b.refunded, Number(b.invoice.total_cents));
    expect(taken).toBeLessThanOrEqual(target);
    // Each refund's account (taken, pending, shortfall) stays within what the refunds asked, and its taken
    // part is exactly what the journal shows.
    let accounted = 0;
    let takenByRefunds = 0;
    let shortfall = 0;
    for (const key of b.refundKeys) {
      const r = (await readRefundClawback(w.sql, key))!;
      accounted += r.clawedBack + r.pending + r.shortfall;
      takenByRefunds += r.clawedBack;
      shortfall += r.shortfall;
    }
    expect(accounted).toBeLessThanOrEqual(target);
    expect(takenByRefunds).toBe(taken);
    // Shortfall is spent credits only (never expired or forfeited ones): at most what was captured from these lots.
    const captured = b.lotIds.reduce((sum, id) => sum - (sums.find((x) => Number(x.lot_id) === id && x.kind === 'capture')?.remaining ?? 0), 0);
    expect(shortfall).toBeLessThanOrEqual(captured);
    // A disputed invoice's lots add nothing to the balance while the dispute is open.
    if (b.dispute === 'open') {
      for (const id of b.lotIds) expect(lots.find((l) => Number(l.id) === id)!.available).toBe(0);
    } else {
      for (const id of b.lotIds) expect(lots.find((l) => Number(l.id) === id)!.dispute_freeze_key).toBeNull();
    }
  }
  const balance = await getBalance(w.sql, w.ws);
  expect(balance.available).toBeGreaterThanOrEqual(0);
  expect(balance.available).toBe(lots.reduce((s, l) => s + l.available, 0));
}

describe('refund clawback and dispute properties (SPEC §10) on real Postgres', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  beforeAll(async () => {
    db = await freshDatabase();
  });
  afterAll(async () => db?.drop());

  it('conserves credits, never over-takes nor touches other invoices\' lots, never takes what was spent', async () => {
    const seed = Number(process.env.INVOICE_CLAWBACK_SEED ?? Math.floor(Math.random() * 2 ** 31));
    console.log(`[invoice-clawback-properties] seed ${seed} (INVOICE_CLAWBACK_SEED=${seed} to replay)`);
    await fc.assert(
      fc.asyncProperty(fc.array(commandArb, { minLength: 1, maxLength: 40, size: 'max' }), async (commands) => {
        const w = await setUp(db.sql);
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
        // Every hold ends (the sweep releases them past their hour): nothing is left pending.
        await run(w, { kind: 'time', hours: 2, expireLots: false });
        w.running = [];
        await checkInvariants(w);
        const [open] = await db.sql<{ pending: number }[]>`
          SELECT coalesce(sum(clawback_pending), 0)::int AS pending FROM lots WHERE workspace_id = ${w.ws}`;
        expect(open!.pending).toBe(0);
      }),
      { seed, numRuns: Number(process.env.INVOICE_CLAWBACK_RUNS ?? 60) },
    );
    // What the histories exercised (a run that never settled a pending clawback or froze a release proves little).
    const [seen] = await db.sql<Record<string, number>[]>`
      SELECT (SELECT count(*)::int FROM ledger_entries WHERE kind = 'clawback') AS clawbacks,
        (SELECT count(*)::int FROM lot_pending_clawbacks) AS pending,
        (SELECT count(*)::int FROM lot_pending_clawbacks WHERE clawed_back > 0) AS pending_taken,
        (SELECT count(*)::int FROM lot_pending_clawbacks WHERE shortfall > 0) AS pending_captured,
        (SELECT count(*)::int FROM lot_pending_clawbacks WHERE lapsed > 0) AS pending_lapsed,
        (SELECT count(*)::int FROM ledger_entries e WHERE kind = 'freeze' AND EXISTS (
           SELECT 1 FROM ledger_entries r WHERE r.kind = 'release' AND r.lot_id = e.lot_id AND r.id = e.id - 1)) AS frozen_on_release,
        (SELECT coalesce(sum(shortfall), 0)::int FROM invoice_clawbacks) AS shortfall`;
    console.log(`[invoice-clawback-properties] exercised ${JSON.stringify(seen)}`);
  }, 600_000);
});
