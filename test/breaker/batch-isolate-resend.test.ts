import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Refusal } from '../../domain/refusals.js';
import { saveAutoTopUp } from '../../ledger/auto-top-up.js';
import { configureLedgerBatching, ledgerBatchStats } from '../../ledger/batching.js';
import { getBalance, grantLot } from '../../ledger/credits.js';
import type { Sql } from '../../ledger/db.js';
import { createQuote, endCreation, holdForQuote, LedgerItemError } from '../../ledger/spend.js';
import { advanceTestClock, createTestClock } from '../../ledger/test-clocks.js';
import { createWorkspace, insertApiKey } from '../../ledger/workspaces.js';
import { freshDatabase } from '../helpers/database.js';

/**
 * Breaker (issue 15), held: an item that raises (not a refusal: a hold of the same workspace whose external_id breaks
 * the column's check, or a workspace that does not exist) aborts the first ledger_batch call, and the batch is sent again with a savepoint per item. Nothing of the first attempt may
 * survive or be applied twice: every neighbour's side effect exists exactly once — a low-balance alert, an
 * automatic top-up recorded by a refusal, a credits.expired outgoing event (gapless sequence from 1), the key's
 * daily counter, the journal — and every neighbour gets the answer it would get alone.
 */
const AT = new Date('2026-05-01T10:00:00Z');
let db: Awaited<ReturnType<typeof freshDatabase>>;
let sql: Sql;

beforeAll(async () => {
  db = await freshDatabase();
  sql = db.sql;
  await configureLedgerBatching(sql, { windowMs: 50, maxItems: 64, maxInFlight: 4 });
});
afterAll(async () => db?.drop());

async function workspace(name: string, credits: number, lotExpires = new Date('2026-06-01T10:00:00Z')) {
  const clock = await createTestClock(sql, AT);
  const { id } = await createWorkspace(sql, { name, testClockId: clock.id });
  await grantLot(sql, { key: `${id}:m`, workspaceId: id, source: 'monthly', amount: credits, grantedAt: AT, expiresAt: lotExpires });
  return { ws: id, clock: clock.id };
}
const quote = (ws: string, credits: number) => createQuote(sql, ws, { model: 'imagen-3', count: 1 }, credits);

describe('breaker: the savepoint re-send after an item raised', () => {
  it('neighbours of a raising item commit once, with every side effect once, and answer as alone', async () => {
    // A: a hold crossing its low-balance threshold (alert) and a refused hold (automatic top-up recorded).
    const a = await workspace('alerts and top-up', 130);
    await sql`UPDATE workspaces SET low_balance_threshold = 100 WHERE id = ${a.ws}`;
    await saveAutoTopUp(sql, a.ws, { enabled: true, threshold: 50, pack: 100, monthly_limit_cents: 1_000_000 }, AT);
    // B: a lapsed hold on a lot that expired meanwhile: its release expires the held part (credits.expired event).
    const b = await workspace('expired event', 200, new Date('2026-05-01T10:30:00Z'));
    await sql`UPDATE workspaces SET enabled_events = '{*}' WHERE id = ${b.ws}`;
    const lapsed = (await holdForQuote(sql, b.ws, (await quote(b.ws, 80)).quote_id)).creation;
    await advanceTestClock(sql, b.clock, new Date('2026-05-01T11:30:00Z'));
    // C: a capture with a budgeted key.
    const c = await workspace('key budget', 300);
    const key = await insertApiKey(sql, c.ws, { name: 'k', dailyCreditLimit: 500 });
    const running = (await holdForQuote(sql, c.ws, (await quote(c.ws, 90)).quote_id, { apiKeyId: key.id })).creation;

    // B also keeps 50 credits on a later lot, so that a hold can reach its insert there (and raise).
    await grantLot(sql, { key: `${b.ws}:later`, workspaceId: b.ws, source: 'monthly', amount: 50, grantedAt: AT, expiresAt: new Date('2026-06-01T10:00:00Z') });

    // Each round: one workspace's neighbours and a hold of THAT workspace that raises (external_id over the
    // column's 200-character check: 23514), so they share one call however the batcher splits rounds by workspace.
    const itemError = (o: PromiseSettledResult<unknown>) => (o.status === 'rejected' && o.reason instanceof LedgerItemError ? o.reason.code : o);
    const q60 = await quote(a.ws, 60);
    const q500 = await quote(a.ws, 500);
    const qa5 = await quote(a.ws, 5);
    const before = ledgerBatchStats(sql).spend!.calls;
    const [held, refused, brokenA, broken] = await Promise.allSettled([
      holdForQuote(sql, a.ws, q60.quote_id),
      holdForQuote(sql, a.ws, q500.quote_id),
      holdForQuote(sql, a.ws, qa5.quote_id, { externalId: 'x'.repeat(201) }),
      endCreation(sql, 'ws_does_not_exist', 'cr_nothing', { status: 'failed' }),
    ]);
    expect(itemError(brokenA)).toBe('23514');
    const qb5 = await quote(b.ws, 5);
    const [expired, brokenB] = await Promise.allSettled([
      endCreation(sql, b.ws, lapsed.id, { status: 'expired' }),
      holdForQuote(sql, b.ws, qb5.quote_id, { externalId: 'x'.repeat(201) }),
    ]);
    expect(itemError(brokenB)).toBe('23514');
    const qc5 = await quote(c.ws, 5);
    const [captured, brokenC] = await Promise.allSettled([
      endCreation(sql, c.ws, running.id, { status: 'succeeded', reported: 40 }),
      holdForQuote(sql, c.ws, qc5.quote_id, { externalId: 'x'.repeat(201) }),
    ]);
    expect(itemError(brokenC)).toBe('23514');
    expect(ledgerBatchStats(sql).spend!.calls - before).toBeLessThanOrEqual(4);

    expect(broken.status === 'rejected' && broken.reason instanceof LedgerItemError && broken.reason.code).toBe('P0002');
    expect(held.status === 'fulfilled' && held.value.creation.held).toBe(60);
    expect(refused.status === 'rejected' && refused.reason instanceof Refusal && [refused.reason.code, refused.reason.detail])
      .toEqual(['insufficient_credits', { top_up_pending: true, required: 500, available: 70 }]);
    expect(expired.status === 'fulfilled' && [expired.value.status, expired.value.charged]).toEqual(['expired', 0]);
    expect(captured.status === 'fulfilled' && [captured.value.charged, captured.value.released]).toEqual([40, 50]);

    expect(await getBalance(sql, a.ws)).toMatchObject({ available: 70, held: 60 });
    expect(await getBalance(sql, b.ws)).toMatchObject({ available: 50, held: 0 });
    expect(await getBalance(sql, c.ws)).toMatchObject({ available: 260, held: 0 });

    const alerts = await sql`SELECT payload FROM notifications WHERE workspace_id = ${a.ws} AND kind = 'low_balance'`;
    expect(alerts.map((n) => n.payload)).toEqual([{ available: 70, threshold: 100 }]);
    const topUps = await sql`SELECT cause, status, available FROM auto_top_ups WHERE workspace_id = ${a.ws}`;
    expect([...topUps]).toEqual([{ cause: 'refusal', status: 'pending', available: 70 }]);
    const events = await sql<{ kind: string; sequence: number; credits: number }[]>`
      SELECT kind, sequence::int, (payload -> 'object' ->> 'credits')::int AS credits FROM notifications
      WHERE workspace_id = ${b.ws} AND event_id IS NOT NULL ORDER BY sequence`;
    expect(events.filter((e) => e.kind === 'credits.expired').map((e) => e.credits)).toEqual([80]); // the held part; the unheld rest waits for its lot's own expiry
    expect(events.map((e) => e.sequence)).toEqual(events.map((_, i) => i + 1)); // gapless from 1
    const [used] = await sql<{ used: number }[]>`SELECT used FROM api_key_daily_spend WHERE api_key_id = ${key.id}`;
    expect(used?.used).toBe(40);
    const journal = await sql<{ ws: string; kind: string; amount: number; n: number }[]>`
      SELECT workspace_id AS ws, kind, sum(amount)::int AS amount, count(*)::int AS n FROM ledger_entries
      WHERE workspace_id IN ${sql([a.ws, b.ws, c.ws])} AND kind <> 'grant' GROUP BY 1, 2`;
    const byKey = Object.fromEntries(journal.map((e) => [`${e.ws === a.ws ? 'a' : e.ws === b.ws ? 'b' : 'c'}:${e.kind}`, [e.amount, e.n]]));
    expect(byKey).toEqual({
      'a:hold': [-60, 1],
      'b:hold': [-80, 1], 'b:release': [80, 1], 'b:expire': [-80, 1],
      'c:hold': [-90, 1], 'c:capture': [-40, 1], 'c:release': [50, 1],
    });
  });
});
