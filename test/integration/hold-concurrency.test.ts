import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grantLot, getBalance, type LotSource } from '../../ledger/credits.js';
import { createSql, type Sql } from '../../ledger/db.js';
import { Refusal } from '../../domain/refusals.js';
import { createQuote, endCreation, holdForQuote } from '../../ledger/spend.js';
import { createWorkspace, newId } from '../../ledger/workspaces.js';
import { freshDatabase } from '../helpers/database.js';

/**
 * SPEC §3 holds under contention, on real Postgres through the ledger functions: concurrent holds of one
 * workspace never overdraw, draw from lots in burn order, and the journal always adds up to the lots.
 */
describe('concurrent holds on one workspace', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  /** Enough connections that every concurrent call really runs in its own transaction at once. */
  let sql: Sql;
  beforeAll(async () => {
    db = await freshDatabase();
    sql = createSql(db.url, { max: 50 });
  });
  afterAll(async () => {
    await sql?.end();
    await db?.drop();
  });

  const DAY = 24 * 60 * 60 * 1000;

  /**
   * A workspace with a live Plus subscription (so its pack is not frozen) and 200 credits in four lots,
   * granted out of burn order and sized so that 10-credit holds straddle lot boundaries.
   * Returns the lot ids in burn order.
   */
  async function fundedWorkspace(name: string): Promise<{ workspaceId: string; burnOrder: number[] }> {
    const { id: workspaceId } = await createWorkspace(sql, { name, testClockId: null });
    const [row] = await sql<{ now: Date }[]>`SELECT now() AS now`;
    const now = row!.now;
    await sql`
      INSERT INTO subscriptions (id, workspace_id, plan, interval, status, current_period_start, current_period_end)
      VALUES (${newId('sub')}, ${workspaceId}, 'plus', 'month', 'active', ${new Date(now.getTime() - 20 * DAY)}, ${new Date(now.getTime() + 10 * DAY)})`;
    const at = (days: number) => new Date(now.getTime() + days * DAY);
    const grant = async (key: string, source: LotSource, amount: number, grantedAt: Date, expiresAt: Date | null) =>
      (await grantLot(sql, { key: `${workspaceId}:${key}`, workspaceId, source, amount, grantedAt, expiresAt })).lotId;
    // Burn order previous 43, upgrade 36, current 64, pack 57: the 5th, 8th and 15th holds straddle two lots.
    const pack = await grant('pack', 'pack', 57, at(-30), null);
    const current = await grant('current', 'monthly', 64, at(-20), at(40));
    const previous = await grant('previous', 'monthly', 43, at(-50), at(10));
    const upgrade = await grant('upgrade', 'upgrade', 36, at(-15), at(20));
    return { workspaceId, burnOrder: [previous, upgrade, current, pack] };
  }

  async function lotRows(workspaceId: string) {
    return sql<{ id: number; granted: number; remaining: number; held: number }[]>`
      SELECT id, granted, remaining, held FROM lots WHERE workspace_id = ${workspaceId} ORDER BY id`;
  }

  /** Per lot, the journal's remaining_delta and held_delta add up to the lot row. */
  async function expectJournalBalancesLots(workspaceId: string) {
    const journal = await sql<{ lot_id: number; remaining: number; held: number }[]>`
      SELECT lot_id, sum(remaining_delta)::int AS remaining, sum(held_delta)::int AS held
      FROM ledger_entries WHERE workspace_id = ${workspaceId} GROUP BY lot_id ORDER BY lot_id`;
    const lots = await lotRows(workspaceId);
    expect(journal).toEqual(lots.map((lot) => ({ lot_id: lot.id, remaining: lot.remaining, held: lot.held })));
  }

  /**
   * Replays the journal in commit order: every entry's balance_after is the balance before it plus its
   * effect on `available` (a capture consumes credits that were already held, so it leaves it unchanged).
   * A lost update or an interleaving of two transactions would break the chain.
   */
  async function expectBalanceChain(workspaceId: string): Promise<number> {
    const entries = await sql<{ id: number; kind: string; amount: number; balance_after: number }[]>`
      SELECT id, kind, amount, balance_after FROM ledger_entries WHERE workspace_id = ${workspaceId} ORDER BY id`;
    let balance = 0;
    const broken: unknown[] = [];
    for (const entry of entries) {
      balance += entry.kind === 'capture' ? 0 : entry.amount;
      if (entry.balance_after !== balance) broken.push({ ...entry, expected: balance });
    }
    expect(broken).toEqual([]);
    return balance;
  }

  /** The hold portions of each creation, in the order the holds committed (their journal entries' order). */
  async function portionsInCommitOrder(workspaceId: string) {
    const rows = await sql<{ creation_id: string; lot_id: number; amount: number; captured: number; first_entry: number }[]>`
      SELECT p.creation_id, p.lot_id, p.amount, p.captured, e.first_entry
      FROM hold_portions p
      JOIN (SELECT substring(operation_key FROM 6) AS creation_id, min(id) AS first_entry FROM ledger_entries
            WHERE workspace_id = ${workspaceId} AND kind = 'hold' GROUP BY operation_key) e ON e.creation_id = p.creation_id
      ORDER BY e.first_entry, p.lot_id`;
    const byCreation = new Map<string, { lot_id: number; amount: number; captured: number }[]>();
    for (const row of rows) {
      const list = byCreation.get(row.creation_id) ?? [];
      list.push({ lot_id: row.lot_id, amount: row.amount, captured: row.captured });
      byCreation.set(row.creation_id, list);
    }
    return byCreation;
  }

  it('50 parallel holds on a balance for 20: exactly 20 start, in burn order, and the journal adds up', async () => {
    const { workspaceId, burnOrder } = await fundedWorkspace('fifty holds');
    expect((await getBalance(sql, workspaceId)).available).toBe(200);

    const quotes = await Promise.all(Array.from({ length: 50 }, (_, i) =>
      createQuote(sql, workspaceId, { model: 'imagen-3', count: 5, n: i }, 10)));
    const holds = await Promise.allSettled(quotes.map((quote) => holdForQuote(sql, workspaceId, quote.quote_id)));

    const started = holds.flatMap((h) => (h.status === 'fulfilled' ? [h.value] : []));
    const refused = holds.flatMap((h) => (h.status === 'rejected' ? [h.reason as unknown] : []));
    expect(started).toHaveLength(20);
    expect(refused).toHaveLength(30);
    for (const error of refused) {
      expect(error).toBeInstanceOf(Refusal);
      expect((error as Refusal).code).toBe('insufficient_credits');
    }
    for (const { creation, replayed } of started) {
      expect(replayed).toBe(false);
      expect(creation).toMatchObject({ status: 'running', quoted: 10, held: 10, charged: null, released: 0 });
      expect(creation.lots.reduce((sum, draw) => sum + draw.credits, 0)).toBe(10);
    }
    // A refused hold changes nothing: no creation, no portion, no journal entry.
    const [counts] = await sql<{ creations: number; portions: number; holds: number }[]>`
      SELECT (SELECT count(*)::int FROM creations WHERE workspace_id = ${workspaceId}) AS creations,
             (SELECT count(*)::int FROM hold_portions p JOIN creations c ON c.id = p.creation_id WHERE c.workspace_id = ${workspaceId}) AS portions,
             (SELECT count(DISTINCT operation_key)::int FROM ledger_entries WHERE workspace_id = ${workspaceId} AND kind = 'hold') AS holds`;
    expect(counts!.creations).toBe(20);
    expect(counts!.holds).toBe(20);

    const balance = await getBalance(sql, workspaceId);
    expect(balance.available).toBe(0);
    expect(balance.held).toBe(200);
    const lots = await lotRows(workspaceId);
    expect(lots.reduce((sum, lot) => sum + lot.held, 0)).toBe(200);
    expect(lots.every((lot) => lot.held === lot.remaining && lot.remaining === lot.granted)).toBe(true);
    await expectJournalBalancesLots(workspaceId);
    expect(await expectBalanceChain(workspaceId)).toBe(0);

    // Burn order: replaying the holds in commit order against the lots, each one draws greedily from the
    // earliest-expiring lot with free credits, the pack last. That is exactly what was recorded.
    const free = new Map(lots.map((lot) => [lot.id, lot.granted]));
    const recorded = await portionsInCommitOrder(workspaceId);
    expect([...recorded.keys()].sort()).toEqual(started.map((s) => s.creation.id).sort());
    expect(counts!.portions).toBe([...recorded.values()].reduce((sum, p) => sum + p.length, 0));
    for (const [creationId, portions] of recorded) {
      let left = 10;
      const expected: { lot_id: number; amount: number; captured: number }[] = [];
      for (const lotId of burnOrder) {
        const take = Math.min(left, free.get(lotId)!);
        if (take === 0) continue;
        free.set(lotId, free.get(lotId)! - take);
        left -= take;
        expected.push({ lot_id: lotId, amount: take, captured: 0 });
      }
      expect({ creationId, portions }).toEqual({ creationId, portions: expected.sort((a, b) => a.lot_id - b.lot_id) });
      // The receipt of a running creation lists its portions in burn order.
      const receipt = started.find((s) => s.creation.id === creationId)!.creation.lots;
      expect(receipt).toEqual(burnOrder.flatMap((lotId) => {
        const portion = portions.find((p) => p.lot_id === lotId);
        return portion ? [{ lot: `lot_${lotId}`, credits: portion.amount }] : [];
      }));
    }
    expect([...free.values()].every((credits) => credits === 0)).toBe(true);
    // The balance crossed the low-balance threshold (10% of Plus: 15) once.
    const alerts = await sql`SELECT 1 FROM notifications WHERE workspace_id = ${workspaceId} AND kind = 'low_balance'`;
    expect(alerts).toHaveLength(1);

    // End them all at once: 10 complete with a random amount up to the quote, 10 fail. The holds that
    // straddle two lots are among the completed ones, with an amount strictly between 0 and 10, so the
    // order in which their portions are captured shows.
    const straddling = new Set([...recorded].filter(([, portions]) => portions.length > 1).map(([id]) => id));
    expect(straddling.size).toBe(3);
    const creations = [...started.map((s) => s.creation)].sort((a, b) => Number(straddling.has(b.id)) - Number(straddling.has(a.id)));
    const toComplete = creations.slice(0, 10);
    const toFail = creations.slice(10);
    const random = (min: number, max: number) => min + Math.floor(Math.random() * (max - min + 1));
    const reported = toComplete.map((c) => (straddling.has(c.id) ? random(1, 9) : random(0, 10)));
    const ended = await Promise.all([
      ...toComplete.map((c, i) => endCreation(sql, workspaceId, c.id, { status: 'succeeded', reported: reported[i]! })),
      ...toFail.map((c) => endCreation(sql, workspaceId, c.id, { status: 'failed' })),
    ]);
    const totalCharged = reported.reduce((sum, credits) => sum + credits, 0);
    ended.slice(0, 10).forEach((view, i) => {
      expect(view, `reported ${reported.join(',')}`).toMatchObject({
        status: 'succeeded', charged: reported[i], released: 10 - reported[i]!, held: 0, variance: null,
      });
      expect(view.lots.reduce((sum, draw) => sum + draw.credits, 0)).toBe(reported[i]);
    });
    for (const view of ended.slice(10)) {
      expect(view).toMatchObject({ status: 'failed', charged: 0, released: 10, held: 0, lots: [] });
    }

    // Captures come out of each creation's held portions in burn order: a later lot only once the earlier is used up.
    for (const [creationId, portions] of await portionsInCommitOrder(workspaceId)) {
      const inBurnOrder = [...portions].sort((a, b) => burnOrder.indexOf(a.lot_id) - burnOrder.indexOf(b.lot_id));
      let left = ended.find((view) => view.id === creationId)!.charged!;
      for (const portion of inBurnOrder) {
        const captured = Math.min(left, portion.amount);
        left -= captured;
        expect({ creationId, lot: portion.lot_id, captured: portion.captured }).toEqual({ creationId, lot: portion.lot_id, captured });
      }
    }

    const after = await getBalance(sql, workspaceId);
    expect(after.available, `reported ${reported.join(',')}`).toBe(200 - totalCharged);
    expect(after.held).toBe(0);
    const lotsAfter = await lotRows(workspaceId);
    expect(lotsAfter.reduce((sum, lot) => sum + lot.remaining, 0)).toBe(200 - totalCharged);
    expect(lotsAfter.every((lot) => lot.held === 0)).toBe(true);
    await expectJournalBalancesLots(workspaceId);
    expect(await expectBalanceChain(workspaceId)).toBe(200 - totalCharged);
    const [captures] = await sql<{ total: number }[]>`
      SELECT coalesce(sum(amount), 0)::int AS total FROM ledger_entries WHERE workspace_id = ${workspaceId} AND kind = 'capture'`;
    expect(captures!.total).toBe(-totalCharged);
  });

  it('the same quote submitted 10 times in parallel starts one creation and holds once', async () => {
    const { workspaceId } = await fundedWorkspace('one quote, ten requests');
    const quote = await createQuote(sql, workspaceId, { model: 'imagen-3', count: 5 }, 10);
    const results = await Promise.all(Array.from({ length: 10 }, () => holdForQuote(sql, workspaceId, quote.quote_id)));

    expect(results.filter((r) => !r.replayed)).toHaveLength(1);
    const first = results.find((r) => !r.replayed)!.creation;
    expect(first).toMatchObject({ status: 'running', quoted: 10, held: 10 });
    for (const result of results) expect(result.creation).toEqual(first);

    const creations = await sql`SELECT id FROM creations WHERE workspace_id = ${workspaceId}`;
    expect(creations.map((c) => c.id)).toEqual([first.id]);
    const holds = await sql<{ operation_key: string; amount: number }[]>`
      SELECT operation_key, amount FROM ledger_entries WHERE workspace_id = ${workspaceId} AND kind = 'hold'`;
    expect(new Set(holds.map((h) => h.operation_key))).toEqual(new Set([`hold:${first.id}`]));
    expect(holds.reduce((sum, h) => sum + h.amount, 0)).toBe(-10);

    const balance = await getBalance(sql, workspaceId);
    expect(balance).toMatchObject({ available: 190, held: 10 });
    await expectJournalBalancesLots(workspaceId);
    expect(await expectBalanceChain(workspaceId)).toBe(190);
  });
});
