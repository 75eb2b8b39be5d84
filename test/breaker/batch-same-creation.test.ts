import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Refusal } from '../../domain/refusals.js';
import { configureLedgerBatching, ledgerBatchStats } from '../../ledger/batching.js';
import { getBalance, grantLot } from '../../ledger/credits.js';
import type { Sql } from '../../ledger/db.js';
import { createQuote, endCreation, holdForQuote } from '../../ledger/spend.js';
import { createTestClock } from '../../ledger/test-clocks.js';
import { createWorkspace, insertApiKey } from '../../ledger/workspaces.js';
import { freshDatabase } from '../helpers/database.js';

/**
 * Breaker (issue 15), held: two items about the same creation or quote in ONE ledger_batch call (a double click,
 * a client retry racing its first attempt). The first submitted wins as if alone; the second answers as it would
 * after it (replay, creation_already_ended, creation_not_running). Credits are held, captured and released once:
 * checked on the lots, the journal (entries by kind and amount) and the key's daily counter.
 */
const AT = new Date('2026-05-01T10:00:00Z');
let db: Awaited<ReturnType<typeof freshDatabase>>;
let sql: Sql;

beforeAll(async () => {
  db = await freshDatabase();
  sql = db.sql;
  // A wide window: the calls of each case surely share one call whatever the machine's load (asserted below).
  await configureLedgerBatching(sql, { windowMs: 50, maxItems: 64, maxInFlight: 4 });
});
afterAll(async () => db?.drop());

async function workspace(credits = 500) {
  const clock = await createTestClock(sql, AT);
  const { id } = await createWorkspace(sql, { name: 'same creation', testClockId: clock.id });
  await grantLot(sql, { key: `${id}:m`, workspaceId: id, source: 'monthly', amount: credits, grantedAt: AT, expiresAt: new Date('2026-06-01T10:00:00Z') });
  const key = await insertApiKey(sql, id, { name: 'k', dailyCreditLimit: 1_000 });
  return { ws: id, keyId: key.id };
}

/** Runs `calls` at once and checks they went as one batch call. */
async function together<T extends unknown[]>(calls: { [K in keyof T]: () => Promise<T[K]> }): Promise<{ [K in keyof T]: PromiseSettledResult<T[K]> }> {
  const before = ledgerBatchStats(sql).spend?.calls ?? 0;
  const outcomes = await Promise.allSettled(calls.map((call) => call()));
  expect((ledgerBatchStats(sql).spend?.calls ?? 0) - before).toBe(1);
  return outcomes as never;
}

async function journal(ws: string) {
  return sql<{ kind: string; amount: number; n: number }[]>`
    SELECT kind, sum(amount)::int AS amount, count(*)::int AS n FROM ledger_entries WHERE workspace_id = ${ws} GROUP BY kind ORDER BY kind`;
}
async function keyUsed(keyId: string) {
  const [row] = await sql<{ used: number }[]>`SELECT used FROM api_key_daily_spend WHERE api_key_id = ${keyId}`;
  return row?.used ?? 0;
}
const refusal = (o: PromiseSettledResult<unknown>) => (o.status === 'rejected' && o.reason instanceof Refusal ? { code: o.reason.code, detail: o.reason.detail } : o);

describe('breaker: one creation twice in a batch', () => {
  it('the same quote held twice in one batch: one creation, held once, counted once on the key; the second is its replay', async () => {
    const { ws, keyId } = await workspace();
    const q = await createQuote(sql, ws, { model: 'imagen-3', count: 1 }, 120);
    const [a, b] = await together([() => holdForQuote(sql, ws, q.quote_id, { apiKeyId: keyId }), () => holdForQuote(sql, ws, q.quote_id, { apiKeyId: keyId })]);
    if (a.status !== 'fulfilled' || b.status !== 'fulfilled') throw new Error(`a hold failed: ${String((a as PromiseRejectedResult).reason ?? (b as PromiseRejectedResult).reason)}`);
    expect([a.value.replayed, b.value.replayed]).toEqual([false, true]);
    expect(b.value.creation.id).toBe(a.value.creation.id);
    expect(b.value.creation.held).toBe(120);
    expect(await getBalance(sql, ws)).toMatchObject({ available: 380, held: 120 });
    expect(await journal(ws)).toEqual([{ kind: 'grant', amount: 500, n: 1 }, { kind: 'hold', amount: -120, n: 1 }]);
    expect(await keyUsed(keyId)).toBe(120);
    const [count] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM creations WHERE workspace_id = ${ws}`;
    expect(count?.n).toBe(1);
  });

  it('two completions with different amounts in one batch: the first captures, the second is creation_already_ended naming it', async () => {
    const { ws, keyId } = await workspace();
    const q = await createQuote(sql, ws, { model: 'imagen-3', count: 1 }, 100);
    const { creation } = await holdForQuote(sql, ws, q.quote_id, { apiKeyId: keyId });
    const [first, second] = await together([
      () => endCreation(sql, ws, creation.id, { status: 'succeeded', reported: 70 }),
      () => endCreation(sql, ws, creation.id, { status: 'succeeded', reported: 90 }),
    ]);
    expect(first.status === 'fulfilled' && { charged: first.value.charged, released: first.value.released }).toEqual({ charged: 70, released: 30 });
    expect(refusal(second)).toEqual({ code: 'creation_already_ended', detail: { reported: 70, charged: 70 } });
    expect(await getBalance(sql, ws)).toMatchObject({ available: 430, held: 0 });
    expect(await journal(ws)).toEqual([
      { kind: 'capture', amount: -70, n: 1 }, { kind: 'grant', amount: 500, n: 1 }, { kind: 'hold', amount: -100, n: 1 }, { kind: 'release', amount: 30, n: 1 },
    ]);
    expect(await keyUsed(keyId)).toBe(70);
  });

  it('the same completion twice in one batch: both answer the capture, taken once', async () => {
    const { ws, keyId } = await workspace();
    const q = await createQuote(sql, ws, { model: 'imagen-3', count: 1 }, 100);
    const { creation } = await holdForQuote(sql, ws, q.quote_id, { apiKeyId: keyId });
    const [first, second] = await together([
      () => endCreation(sql, ws, creation.id, { status: 'succeeded', reported: 140 }),
      () => endCreation(sql, ws, creation.id, { status: 'succeeded', reported: 140 }),
    ]);
    for (const o of [first, second]) {
      expect(o.status === 'fulfilled' && { charged: o.value.charged, variance: o.value.variance, status: o.value.status })
        .toEqual({ charged: 100, variance: 40, status: 'succeeded' });
    }
    expect(await getBalance(sql, ws)).toMatchObject({ available: 400, held: 0 });
    expect(await journal(ws)).toEqual([{ kind: 'capture', amount: -100, n: 1 }, { kind: 'grant', amount: 500, n: 1 }, { kind: 'hold', amount: -100, n: 1 }]);
    expect(await keyUsed(keyId)).toBe(100);
  });

  it('complete then fail in one batch: the completion stands, the failure is creation_not_running; and fail then complete the other way', async () => {
    const { ws, keyId } = await workspace();
    const q1 = await createQuote(sql, ws, { model: 'imagen-3', count: 1 }, 100);
    const q2 = await createQuote(sql, ws, { model: 'imagen-3', count: 1 }, 50);
    const c1 = (await holdForQuote(sql, ws, q1.quote_id, { apiKeyId: keyId })).creation;
    const c2 = (await holdForQuote(sql, ws, q2.quote_id, { apiKeyId: keyId })).creation;
    const [done, failLate, failFirst, doneLate] = await together([
      () => endCreation(sql, ws, c1.id, { status: 'succeeded', reported: 60 }),
      () => endCreation(sql, ws, c1.id, { status: 'failed' }),
      () => endCreation(sql, ws, c2.id, { status: 'failed' }),
      () => endCreation(sql, ws, c2.id, { status: 'succeeded', reported: 50 }),
    ]);
    expect(done.status === 'fulfilled' && done.value.charged).toBe(60);
    expect(refusal(failLate)).toMatchObject({ code: 'creation_not_running' });
    expect(failFirst.status === 'fulfilled' && [failFirst.value.status, failFirst.value.charged, failFirst.value.released]).toEqual(['failed', 0, 50]);
    expect(refusal(doneLate)).toMatchObject({ code: 'creation_not_running' });
    expect(await getBalance(sql, ws)).toMatchObject({ available: 440, held: 0 });
    expect(await journal(ws)).toEqual([
      { kind: 'capture', amount: -60, n: 1 }, { kind: 'grant', amount: 500, n: 1 }, { kind: 'hold', amount: -150, n: 2 }, { kind: 'release', amount: 90, n: 2 },
    ]);
    expect(await keyUsed(keyId)).toBe(60);
  });

  it('holds of one workspace in one batch draw in submission order: the one that no longer fits is refused with what is left', async () => {
    const { ws } = await workspace(100);
    const quotes = await Promise.all([60, 30, 20].map((credits) => createQuote(sql, ws, { model: 'imagen-3', count: 1 }, credits)));
    const [a, b, c] = await together(quotes.map((q) => () => holdForQuote(sql, ws, q.quote_id)) as [() => Promise<unknown>, () => Promise<unknown>, () => Promise<unknown>]);
    expect([a.status, b.status]).toEqual(['fulfilled', 'fulfilled']);
    expect(refusal(c)).toEqual({ code: 'insufficient_credits', detail: { required: 20, available: 10 } });
    expect(await getBalance(sql, ws)).toMatchObject({ available: 10, held: 90 });
  });
});
