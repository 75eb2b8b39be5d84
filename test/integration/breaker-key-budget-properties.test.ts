import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Refusal } from '../../domain/refusals.js';
import { grantLot } from '../../ledger/credits.js';
import type { Sql } from '../../ledger/db.js';
import { createQuote, endCreation, expireStaleHolds, extendHold, HOLD_MAX_MS, HOLD_TTL_MS, holdForQuote } from '../../ledger/spend.js';
import { createTestClock } from '../../ledger/test-clocks.js';
import { createWorkspace, insertApiKey, newId, updateApiKey } from '../../ledger/workspaces.js';
import { freshDatabase } from '../helpers/database.js';

/**
 * Breaker property test of SPEC §11's per-key daily budgets on real Postgres (ledger_hold, ledger_end,
 * ledger_extend_hold, the hold sweeper), against a model. Invariants after every step of a random history of
 * holds (with the limited key or none), completions, failures, extensions, lapses swept, limit changes (also
 * below what the day used) and a test clock crossing UTC midnights:
 * - key_budget_counter_matches_holds: api_key_daily_spend.used of each (key, day) is what that key's holds
 *   made that day quoted while running and charged once ended, never negative, never counted on another day;
 * - key_budget_never_exceeded: a hold is refused spending_limit_reached exactly when the day's use plus its
 *   quote exceeds the limit (checked before insufficient_credits), so a key's day never goes past it;
 * - credits_conserved: available is the grant less what is held and captured.
 * B1_SEED replays a run (the seed is printed); B1_RUNS sets the histories (25).
 */
const SEED = Number(process.env.B1_SEED ?? Math.floor(Math.random() * 2 ** 31));
const RUNS = Number(process.env.B1_RUNS ?? 25);
const MIN = 60_000;
const HOUR = 60 * MIN;

type Op =
  | { kind: 'hold'; withKey: boolean; credits: number }
  | { kind: 'end'; pick: number; outcome: 'succeeded' | 'failed'; reported: number }
  | { kind: 'advance'; ms: number }
  | { kind: 'sweep' }
  | { kind: 'extend'; pick: number; ms: number }
  | { kind: 'limit'; limit: number | null };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('hold' as const), withKey: fc.boolean(), credits: fc.integer({ min: 1, max: 40 }) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('end' as const), pick: fc.nat(), outcome: fc.constantFrom('succeeded' as const, 'failed' as const), reported: fc.integer({ min: 0, max: 60 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.constantFrom(MIN, 20 * MIN, 59 * MIN, 61 * MIN, 6 * HOUR, 23 * HOUR, 25 * HOUR) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'sweep' as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('extend' as const), pick: fc.nat(), ms: fc.constantFrom(MIN, 30 * MIN, 2 * HOUR, 23 * HOUR, 25 * HOUR) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('limit' as const), limit: fc.option(fc.integer({ min: 1, max: 80 }), { nil: null }) }) },
);

interface ModelCreation { id: string; keyed: boolean; day: string; quoted: number; createdAt: number; expiresAt: number; status: string; charged: number }

describe('breaker: per-key daily budgets against a model', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let sql: Sql;
  beforeAll(async () => {
    db = await freshDatabase();
    sql = db.sql;
  });
  afterAll(async () => db?.drop());

  const GRANT = 100_000;
  const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

  it(`key_budget_counter_matches_holds, key_budget_never_exceeded, credits_conserved (seed ${SEED})`, async () => {
    console.log(`[breaker-key-budget] seed ${SEED} (B1_SEED=${SEED} to replay)`);
    await fc.assert(fc.asyncProperty(fc.array(op, { minLength: 5, maxLength: 35 }), fc.integer({ min: 0, max: 23 * 60 }), async (ops, startMinute) => {
      let now = Date.UTC(2026, 2, 10) + startMinute * MIN;
      const clock = await createTestClock(sql, new Date(now));
      const { id: ws } = await createWorkspace(sql, { name: 'breaker budgets', testClockId: clock.id });
      await sql`INSERT INTO subscriptions (id, workspace_id, plan, interval, status, current_period_start, current_period_end)
                VALUES (${newId('sub')}, ${ws}, 'plus', 'month', 'active', ${new Date(now)}, ${new Date(now + 30 * 24 * HOUR)})`;
      await grantLot(sql, { key: `${ws}:grant`, workspaceId: ws, source: 'pack', amount: GRANT, grantedAt: new Date(now), expiresAt: null });
      let limit: number | null = 30;
      const key = await insertApiKey(sql, ws, { name: 'Ana', dailyCreditLimit: limit });
      let available = GRANT;
      const creations: ModelCreation[] = [];
      const used = (d: string) => creations.filter((c) => c.keyed && c.day === d)
        .reduce((sum, c) => sum + (c.status === 'running' ? c.quoted : c.charged), 0);
      const refusal = (p: Promise<unknown>) => p.then(() => null, (e: unknown) => {
        if (e instanceof Refusal) return e;
        throw e;
      });

      for (const step of ops) {
        switch (step.kind) {
          case 'hold': {
            const q = await createQuote(sql, ws, { model: 'imagen-3', resolution: 'high', count: 1 }, step.credits);
            const today = day(now);
            const expected = step.withKey && limit !== null && used(today) + step.credits > limit ? 'spending_limit_reached'
              : available < step.credits ? 'insufficient_credits' : null;
            let createdId: string | undefined;
            const refused = await refusal(holdForQuote(sql, ws, q.quote_id, step.withKey ? { apiKeyId: key.id } : {})
              .then((r) => { createdId = r.creation.id; }));
            expect(refused?.code ?? null).toBe(expected);
            if (refused?.code === 'spending_limit_reached') {
              expect(refused.detail).toMatchObject({ daily_credit_limit: limit, used: used(today), required: step.credits });
            }
            if (!refused) {
              creations.push({ id: createdId!, keyed: step.withKey, day: today, quoted: step.credits, createdAt: now,
                expiresAt: now + HOLD_TTL_MS, status: 'running', charged: 0 });
              available -= step.credits;
            }
            break;
          }
          case 'end': {
            const running = creations.filter((c) => c.status === 'running');
            if (running.length === 0) break;
            const c = running[step.pick % running.length]!;
            const refused = await refusal(endCreation(sql, ws, c.id,
              step.outcome === 'succeeded' ? { status: 'succeeded', reported: step.reported } : { status: 'failed' }));
            if (c.expiresAt <= now) {
              expect(refused?.code).toBe('creation_not_running');
            } else {
              expect(refused).toBeNull();
              c.status = step.outcome;
              c.charged = step.outcome === 'succeeded' ? Math.min(step.reported, c.quoted) : 0;
              available += c.quoted - c.charged;
            }
            break;
          }
          case 'advance':
            now += step.ms;
            await sql`UPDATE test_clocks SET frozen_time = ${new Date(now)} WHERE id = ${clock.id}`;
            break;
          case 'sweep':
            await expireStaleHolds(sql, { workspaceId: ws });
            for (const c of creations) {
              if (c.status === 'running' && c.expiresAt <= now) {
                c.status = 'expired';
                available += c.quoted;
              }
            }
            break;
          case 'extend': {
            const running = creations.filter((c) => c.status === 'running');
            if (running.length === 0) break;
            const c = running[step.pick % running.length]!;
            const refused = await refusal(extendHold(sql, ws, c.id, step.ms));
            const wanted = now + step.ms;
            const expected = c.expiresAt <= now ? 'creation_not_running' : wanted > c.createdAt + HOLD_MAX_MS ? 'hold_extension_limit' : null;
            expect(refused?.code ?? null).toBe(expected);
            if (!refused) c.expiresAt = Math.max(c.expiresAt, wanted);
            break;
          }
          case 'limit':
            limit = step.limit;
            await updateApiKey(sql, ws, key.id, { dailyCreditLimit: limit });
            break;
        }
        // The counter, day by day (zero rows and absent rows alike), and the balance.
        const rows = await sql<{ day: string; used: number }[]>`
          SELECT to_char(day, 'YYYY-MM-DD') AS day, used FROM api_key_daily_spend WHERE api_key_id = ${key.id} AND used <> 0 ORDER BY day`;
        const days = [...new Set(creations.filter((c) => c.keyed).map((c) => c.day))].sort();
        expect(rows.map((r) => [r.day, r.used])).toEqual(days.map((d) => [d, used(d)]).filter(([, u]) => u !== 0));
        const [bal] = await sql<{ available: number }[]>`
          SELECT coalesce(sum(s.available), 0)::int AS available FROM spendable_lots(${ws}, workspace_now(${ws})) s`;
        expect(bal!.available).toBe(available);
      }
    }), { seed: SEED, numRuns: RUNS });
  }, 240_000);

  it('key_budget_counts_a_hold_once: 20 parallel holds of one quote with a limited key (a double-click, retries) start one creation and count its quote once', async () => {
    const now = Date.UTC(2026, 2, 10, 23, 59);
    const clock = await createTestClock(sql, new Date(now));
    const { id: ws } = await createWorkspace(sql, { name: 'breaker same quote', testClockId: clock.id });
    await sql`INSERT INTO subscriptions (id, workspace_id, plan, interval, status, current_period_start, current_period_end)
              VALUES (${newId('sub')}, ${ws}, 'plus', 'month', 'active', ${new Date(now)}, ${new Date(now + 30 * 24 * HOUR)})`;
    await grantLot(sql, { key: `${ws}:grant`, workspaceId: ws, source: 'pack', amount: GRANT, grantedAt: new Date(now), expiresAt: null });
    const key = await insertApiKey(sql, ws, { name: 'Ana', dailyCreditLimit: 30 });
    const q = await createQuote(sql, ws, { model: 'imagen-3', resolution: 'high', count: 1 }, 20);
    const results = await Promise.all(Array.from({ length: 20 }, () => holdForQuote(sql, ws, q.quote_id, { apiKeyId: key.id })));
    expect(new Set(results.map((r) => r.creation.id)).size).toBe(1);
    expect(results.filter((r) => !r.replayed)).toHaveLength(1);
    const rows = await sql<{ used: number }[]>`SELECT used FROM api_key_daily_spend WHERE api_key_id = ${key.id}`;
    expect(rows.map((r) => r.used)).toEqual([20]);
  });
});
