import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Refusal } from '../../domain/refusals.js';
import { configureLedgerBatching } from '../../ledger/batching.js';
import { grantLot } from '../../ledger/credits.js';
import type { Sql } from '../../ledger/db.js';
import { createQuote, endCreation, holdForQuote } from '../../ledger/spend.js';
import { advanceTestClock, createTestClock } from '../../ledger/test-clocks.js';
import { createWorkspace, insertApiKey, updateApiKey } from '../../ledger/workspaces.js';
import { freshDatabase } from '../helpers/database.js';

/**
 * Breaker (issue 15), held — a guard for "fewer writes per spend" (the per-key daily counter kept only for
 * limited keys): SPEC §11 counts a key's holds of its UTC day whatever its limit was when they were made. A key
 * without a limit holds and spends through batches; a limit set mid-day must count those earlier holds (running:
 * quoted; ended: charged), releases give back to the hold's own day, and the next UTC day starts at 0. Checked
 * through answers (refusal detail `used`), not through the counter's rows, so any storage that keeps the rule passes.
 */
const AT = new Date('2026-09-10T23:30:00Z');
let db: Awaited<ReturnType<typeof freshDatabase>>;
let sql: Sql;

beforeAll(async () => {
  db = await freshDatabase();
  sql = db.sql;
  await configureLedgerBatching(sql, { windowMs: 5, maxItems: 64, maxInFlight: 4 });
});
afterAll(async () => db?.drop());

async function refusalOf(promise: Promise<unknown>): Promise<{ code: string; detail: Record<string, unknown> }> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  if (!(error instanceof Refusal)) throw new Error(`expected a refusal, got ${String(error)}`);
  return { code: error.code, detail: error.detail };
}

describe('breaker: a daily limit set mid-day on the batched path', () => {
  it("counts the key's earlier holds of the day made without a limit, gives releases back to their day, resets at UTC midnight", async () => {
    const clock = await createTestClock(sql, AT);
    const { id: ws } = await createWorkspace(sql, { name: 'mid-day limit', testClockId: clock.id });
    await grantLot(sql, { key: `${ws}:m`, workspaceId: ws, source: 'monthly', amount: 10_000, grantedAt: AT, expiresAt: new Date('2026-10-10T23:30:00Z') });
    const key = await insertApiKey(sql, ws, { name: 'studio', dailyCreditLimit: null });
    const other = await insertApiKey(sql, ws, { name: 'other', dailyCreditLimit: null });
    const hold = async (credits: number, apiKeyId = key.id) =>
      (await holdForQuote(sql, ws, (await createQuote(sql, ws, { model: 'imagen-3', count: 1 }, credits)).quote_id, { apiKeyId })).creation;

    // Without a limit, at once (one batch): 70 running, 30 completed at 20, 25 failed; another key's 500 counts for it only.
    const [running, completed, failed] = await Promise.all([hold(70), hold(30), hold(25), hold(500, other.id)]);
    await Promise.all([
      endCreation(sql, ws, completed!.id, { status: 'succeeded', reported: 20 }),
      endCreation(sql, ws, failed!.id, { status: 'failed' }),
    ]);
    // Used today: 70 + 20 = 90. A limit of 100 set now counts them.
    await updateApiKey(sql, ws, key.id, { dailyCreditLimit: 100 });
    expect(await refusalOf(hold(20))).toEqual({ code: 'spending_limit_reached',
      detail: { daily_credit_limit: 100, used: 90, required: 20, resets_at: '2026-09-11T00:00:00.000Z' } });
    await hold(10); // exactly at the limit
    expect((await refusalOf(hold(1))).detail).toMatchObject({ used: 100 });
    // The running hold fails: its 70 go back to today.
    await endCreation(sql, ws, running!.id, { status: 'failed' });
    const late = await hold(60); // used 90
    expect((await refusalOf(hold(11))).detail).toMatchObject({ used: 90 });

    // Past UTC midnight of the workspace's time: a new day at 0; yesterday's hold released today frees yesterday, not today.
    await advanceTestClock(sql, clock.id, new Date('2026-09-11T00:10:00Z'));
    await hold(95); // used today 95
    await endCreation(sql, ws, late.id, { status: 'failed' });
    expect((await refusalOf(hold(6))).detail).toMatchObject({ used: 95, resets_at: '2026-09-12T00:00:00.000Z' });
  });
});
