import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Refusal } from '../../domain/refusals.js';
import { configureLedgerBatching, flushLedgerBatches, ledgerBatchStats } from '../../ledger/batching.js';
import { getBalance, grantLot } from '../../ledger/credits.js';
import type { Sql } from '../../ledger/db.js';
import { createQuote, endCreation, holdForQuote } from '../../ledger/spend.js';
import { createTestClock } from '../../ledger/test-clocks.js';
import { createWorkspace, insertApiKey } from '../../ledger/workspaces.js';
import { freshDatabase } from '../helpers/database.js';
import { prng } from '../helpers/random.js';
import { availableFromLots, lotsOffTheirJournal } from '../resilience/helpers.js';

/**
 * Breaker (issue 15), held: a seeded mixed load on the batched path (BREAKER_SEED). One owner per workspace holds,
 * completes, fails and replays sequentially while the other owners, a granter (onceInLedger grants: the workspace
 * lock from another path), a flood of balance reads and repeated flushes run at the same time, with a small batch
 * (8 items, 3 calls out) so batches split, wait for a free call and interleave workspaces. Checked:
 * - nothing hangs (every call settles within the test's timeout; flushes resolve) and nothing but refusals fails
 *   (no deadlock surfaces as an item error);
 * - read-your-writes: right after each acknowledged hold or end, the workspace's batched balance read shows exactly
 *   its running holds (only its owner holds there);
 * - afterwards: every lot matches its journal, the balance matches the lots, credits are conserved (granted −
 *   charged = remaining), each key's daily counter equals its creations' quoted/charged credits, replays returned
 *   the first creation, and each workspace's outgoing events are numbered 1..n without gaps.
 */
const SEED = Number(process.env.BREAKER_SEED ?? Math.floor(Math.random() * 2 ** 31));
const AT = new Date('2026-07-01T08:00:00Z');
const WORKSPACES = 6;
const STEPS = 30;
let db: Awaited<ReturnType<typeof freshDatabase>>;
let sql: Sql;

beforeAll(async () => {
  db = await freshDatabase();
  sql = db.sql;
  await configureLedgerBatching(sql, { windowMs: 2, maxItems: 8, maxInFlight: 3 });
});
afterAll(async () => db?.drop());

describe('breaker: mixed load on the batched path', () => {
  it(`holds, ends, replays, grants, reads and flushes at once: no hang, no error, read-your-writes, conservation (BREAKER_SEED=${SEED})`, async () => {
    console.log(`batch-mixed-load BREAKER_SEED=${SEED}`);
    const random = prng(SEED);
    const between = (min: number, max: number) => min + Math.floor(random() * (max - min + 1));
    const spaces: { id: string; keyId: string }[] = [];
    for (let w = 0; w < WORKSPACES; w += 1) {
      const clock = await createTestClock(sql, AT);
      const { id } = await createWorkspace(sql, { name: `load ${w}`, testClockId: clock.id });
      await sql`UPDATE workspaces SET enabled_events = '{*}' WHERE id = ${id}`;
      await grantLot(sql, { key: `${id}:m0`, workspaceId: id, source: 'monthly', amount: between(100, 1_500), grantedAt: AT, expiresAt: new Date('2026-08-01T08:00:00Z') });
      const key = await insertApiKey(sql, id, { name: 'k', dailyCreditLimit: w % 2 === 0 ? between(200, 2_000) : null });
      spaces.push({ id, keyId: key.id });
    }
    const unexpected: string[] = [];
    const note = (what: string) => (error: unknown) => {
      if (!(error instanceof Refusal)) unexpected.push(`${what}: ${String(error)}`);
    };
    const plans = spaces.map(() => Array.from({ length: STEPS }, () => ({ op: between(0, 9), credits: between(1, 120), reported: between(0, 160) })));

    const owner = async (w: number) => {
      const { id: ws, keyId } = spaces[w]!;
      const running = new Map<string, number>();
      const held: { quoteId: string; creationId: string }[] = [];
      const checkHeld = async (after: string) => {
        const balance = await getBalance(sql, ws);
        const expected = [...running.values()].reduce((a, b) => a + b, 0);
        if (balance.held !== expected) unexpected.push(`${ws} after ${after}: held ${balance.held}, running holds ${expected}`);
      };
      for (const step of plans[w]!) {
        if (step.op <= 4 || running.size === 0) {
          const quote = await createQuote(sql, ws, { model: 'imagen-3', count: 1 }, step.credits);
          const result = await holdForQuote(sql, ws, quote.quote_id, { apiKeyId: keyId }).catch(note('hold'));
          if (result) {
            running.set(result.creation.id, result.creation.held);
            held.push({ quoteId: quote.quote_id, creationId: result.creation.id });
            await checkHeld('hold');
          }
        } else if (step.op === 5 && held.length > 0) {
          const first = held[step.credits % held.length]!;
          const replay = await holdForQuote(sql, ws, first.quoteId, { apiKeyId: keyId }).catch(note('replay'));
          if (replay && (!replay.replayed || replay.creation.id !== first.creationId)) unexpected.push(`${ws}: replay of ${first.quoteId} started ${replay.creation.id}`);
        } else {
          const id = [...running.keys()][step.credits % running.size]!;
          const ended = await endCreation(sql, ws, id, step.op <= 7 ? { status: 'succeeded', reported: step.reported } : { status: 'failed' }).catch(note('end'));
          if (ended) {
            running.delete(id);
            await checkHeld('end');
          }
        }
      }
      for (const id of running.keys()) await endCreation(sql, ws, id, { status: 'failed' }).catch(note('final fail'));
    };
    const granter = async () => {
      for (let g = 0; g < 30; g += 1) {
        const { id } = spaces[g % WORKSPACES]!;
        await grantLot(sql, { key: `${id}:g${g}`, workspaceId: id, source: 'monthly', amount: 20, grantedAt: AT, expiresAt: new Date('2026-08-01T08:00:00Z') })
          .catch(note('grant'));
      }
    };
    const reader = async () => {
      await Promise.all(Array.from({ length: 120 }, (_, r) => getBalance(sql, spaces[r % WORKSPACES]!.id).catch(note('read'))));
    };
    const flusher = async () => {
      for (let f = 0; f < 5; f += 1) await flushLedgerBatches(sql);
    };

    let timer: NodeJS.Timeout | undefined;
    const hang = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error('the batched load did not settle within 90 s')), 90_000); });
    try {
      await Promise.race([Promise.all([...spaces.map((_, w) => owner(w)), granter(), reader(), flusher()]), hang]);
      await Promise.race([flushLedgerBatches(sql), hang]);
    } finally {
      clearTimeout(timer);
    }
    expect(unexpected).toEqual([]);
    expect(ledgerBatchStats(sql).spend!.largest).toBeLessThanOrEqual(8);

    const ids = spaces.map((s) => s.id);
    expect([...await lotsOffTheirJournal(sql, ids)]).toEqual([]);
    for (const { id } of spaces) {
      const balance = await getBalance(sql, id);
      expect(balance.held).toBe(0);
      expect(balance.available).toBe(await availableFromLots(sql, id));
    }
    const conservation = await sql<{ ws: string; granted: number; remaining: number; charged: number }[]>`
      SELECT w.id AS ws,
        (SELECT coalesce(sum(granted), 0)::int FROM lots WHERE workspace_id = w.id) AS granted,
        (SELECT coalesce(sum(remaining), 0)::int FROM lots WHERE workspace_id = w.id) AS remaining,
        (SELECT coalesce(sum(charged), 0)::int FROM creations WHERE workspace_id = w.id) AS charged
      FROM workspaces w WHERE w.id IN ${sql(ids)}`;
    for (const row of conservation) expect({ ws: row.ws, remaining: row.remaining }).toEqual({ ws: row.ws, remaining: row.granted - row.charged });
    const counters = await sql<{ key: string; used: number; expected: number }[]>`
      SELECT k.id AS key, coalesce((SELECT sum(used) FROM api_key_daily_spend s WHERE s.api_key_id = k.id), 0)::int AS used,
        coalesce((SELECT sum(coalesce(c.charged, c.quoted)) FROM creations c WHERE c.api_key_id = k.id), 0)::int AS expected
      FROM api_keys k WHERE k.workspace_id IN ${sql(ids)} AND k.daily_credit_limit IS NOT NULL`;
    for (const row of counters) expect({ key: row.key, used: row.used }).toEqual({ key: row.key, used: row.expected });
    const gaps = await sql<{ ws: string; n: number; max: number }[]>`
      SELECT workspace_id AS ws, count(*)::int AS n, max(sequence)::int AS max FROM notifications
      WHERE workspace_id IN ${sql(ids)} AND event_id IS NOT NULL GROUP BY workspace_id`;
    for (const row of gaps) expect(row.max).toBe(row.n);
  });
});
