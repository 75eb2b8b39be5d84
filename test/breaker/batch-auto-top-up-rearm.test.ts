import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Refusal } from '../../domain/refusals.js';
import { configureLedgerBatching, ledgerBatchStats } from '../../ledger/batching.js';
import { saveAutoTopUp, settleTopUp } from '../../ledger/auto-top-up.js';
import { getBalance, grantLot } from '../../ledger/credits.js';
import { createSql, type Sql } from '../../ledger/db.js';
import { createQuote, endCreation, holdForQuote } from '../../ledger/spend.js';
import { createTestClock } from '../../ledger/test-clocks.js';
import { createWorkspace } from '../../ledger/workspaces.js';
import { freshDatabase } from '../helpers/database.js';

/**
 * Breaker (issue 15): the automatic top-up's arming rule (migration 1732400000020, auto_top_up_rose) reads "the
 * balance each transaction left": the last journal entry of each xmin. Batching puts several operations of one
 * workspace into one transaction, so a release that lifted the balance back above the threshold (re-arming it,
 * one call per operation) is hidden behind a later hold of the same batch. The same history, batched or not, must
 * record the same top-ups and answer the same refusal (SPEC §11: armed again as soon as the balance was at or
 * above the threshold since the last crossing).
 *
 * History (threshold 100, pack 100): a 300-credit lot; C1 holds 250 (available 50); a 500-credit hold is refused
 * (a crossing: top-up #1 recorded, disarmed); #1 fails (settled, nothing in flight). Then, at once: fail C1
 * (release: available 300, at or above the threshold: re-armed), hold 260 (available 40), hold 500 (refused: a new
 * crossing, so top-up #2 is recorded and the refusal says top_up_pending).
 */
const AT = new Date('2026-05-01T10:00:00Z');
let db: Awaited<ReturnType<typeof freshDatabase>>;
let batched: Sql;
let unbatched: Sql;

beforeAll(async () => {
  db = await freshDatabase();
  batched = db.sql;
  await configureLedgerBatching(batched, { windowMs: 50, maxItems: 64, maxInFlight: 4 });
  // One connection: the three calls sent at once run in the order they were sent (each its own transaction), as
  // the batch runs them; with more connections their order was a race (the refusal could come before the hold).
  unbatched = createSql(db.url, { max: 1 });
  await configureLedgerBatching(unbatched, { maxItems: 1 });
});
afterAll(async () => {
  await unbatched?.end();
  await db?.drop();
});

async function play(sql: Sql) {
  const clock = await createTestClock(sql, AT);
  const { id: ws } = await createWorkspace(sql, { name: 'top-up', testClockId: clock.id });
  await grantLot(sql, { key: `${ws}:m`, workspaceId: ws, source: 'monthly', amount: 300, grantedAt: AT, expiresAt: new Date('2026-06-01T10:00:00Z') });
  await saveAutoTopUp(sql, ws, { enabled: true, threshold: 100, pack: 100, monthly_limit_cents: 1_000_000 }, AT);
  const quote = (credits: number) => createQuote(sql, ws, { model: 'imagen-3', count: 1 }, credits);
  const c1 = (await holdForQuote(sql, ws, (await quote(250)).quote_id)).creation;
  await expect(holdForQuote(sql, ws, (await quote(500)).quote_id)).rejects.toMatchObject({ code: 'insufficient_credits', detail: { top_up_pending: true } });
  const [first] = await sql<{ id: string }[]>`SELECT id FROM auto_top_ups WHERE workspace_id = ${ws}`;
  expect(await settleTopUp(sql, first!.id, { status: 'failed', failureCode: 'card_declined', at: AT })).toBe(true);

  const q260 = await quote(260);
  const q500 = await quote(500);
  const calls = ledgerBatchStats(sql).spend?.calls ?? 0;
  const [failed, held, refused] = await Promise.allSettled([
    endCreation(sql, ws, c1.id, { status: 'failed' }),
    holdForQuote(sql, ws, q260.quote_id),
    holdForQuote(sql, ws, q500.quote_id),
  ]);
  const topUps = await sql<{ status: string; cause: string }[]>`SELECT status, cause FROM auto_top_ups WHERE workspace_id = ${ws} ORDER BY seq`;
  return {
    callsForTheThree: (ledgerBatchStats(sql).spend?.calls ?? 0) - calls,
    failed: failed.status === 'fulfilled' ? failed.value.released : failed.reason,
    held: held.status === 'fulfilled' ? held.value.creation.held : held.reason,
    refused: refused.status === 'rejected' && refused.reason instanceof Refusal ? { code: refused.reason.code, detail: refused.reason.detail } : refused,
    topUps: topUps.map((t) => `${t.cause}:${t.status}`),
    available: (await getBalance(sql, ws)).available,
  };
}

describe('breaker: automatic top-up arming through a batch', () => {
  it('a release, a hold and a refused hold of one workspace answer and record the same top-ups batched or not', async () => {
    const oneByOne = await play(unbatched);
    const together = await play(batched);
    expect(together.callsForTheThree).toBe(1); // the three shared one ledger_batch call
    // One call per operation: the release re-armed it, so the refusal is a new crossing (top-up #2, pending).
    expect(oneByOne).toMatchObject({ failed: 250, held: 260, available: 40, topUps: ['refusal:failed', 'refusal:pending'],
      refused: { code: 'insufficient_credits', detail: { top_up_pending: true, required: 500, available: 40 } } });
    const withoutCalls = (view: typeof together) => Object.fromEntries(Object.entries(view).filter(([k]) => k !== 'callsForTheThree'));
    expect(withoutCalls(together)).toEqual(withoutCalls(oneByOne));
  });
});
