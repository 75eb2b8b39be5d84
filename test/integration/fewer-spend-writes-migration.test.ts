import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grantLot } from '../../ledger/credits.js';
import { createQuote, endCreation, expireStaleHolds, HOLD_TTL_MS, holdForQuote } from '../../ledger/spend.js';
import { createTestClock } from '../../ledger/test-clocks.js';
import { createWorkspace, newId, workspaceAndKeyIdByKey } from '../../ledger/workspaces.js';
import { freshDatabase } from '../helpers/database.js';

/**
 * Migration 1732400000025 (issue 15, fewer writes per spend): creations lose two indexes no query needs, and
 * ledger_hold updates the key's day counter in place. The key's day still counts every hold, the sweep still
 * finds lapsed holds of every workspace, and the down migration puts back what it took.
 */
describe('fewer writes per spend migration', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  beforeAll(async () => {
    db = await freshDatabase();
  });
  afterAll(async () => db?.drop());

  const indexes = async () => (await db.sql<{ name: string }[]>`
    SELECT indexname AS name FROM pg_indexes WHERE tablename = 'creations' ORDER BY indexname`).map((r) => r.name);

  /** A workspace on its own clock with 1,000 credits and its first API key. */
  async function workspace(at: Date) {
    const clock = await createTestClock(db.sql, at);
    const { id, apiKey } = await createWorkspace(db.sql, { name: 'writes', testClockId: clock.id });
    await db.sql`INSERT INTO subscriptions (id, workspace_id, plan, interval, status, current_period_start, current_period_end)
                 VALUES (${newId('sub')}, ${id}, 'plus', 'month', 'active', ${at}, ${new Date(at.getTime() + 30 * 86_400_000)})`;
    await grantLot(db.sql, { key: `${id}:grant`, workspaceId: id, source: 'pack', amount: 1000, grantedAt: at, expiresAt: null });
    return { id, clock, keyId: (await workspaceAndKeyIdByKey(db.sql, apiKey))!.keyId };
  }

  it('counts each hold of a key in its day, releases give back, and the sweep releases lapsed holds of every workspace', async () => {
    expect(await indexes()).not.toContain('creations_running');
    expect(await indexes()).not.toContain('creations_seq_key');
    const at = new Date('2026-03-10T12:00:00Z');
    const [a, b] = [await workspace(at), await workspace(at)];
    const hold = async (w: typeof a, credits: number) =>
      (await holdForQuote(db.sql, w.id, (await createQuote(db.sql, w.id, { model: 'imagen-3' }, credits)).quote_id, { apiKeyId: w.keyId })).creation;
    const first = await hold(a, 10);
    await hold(a, 7); // the day's row exists now: updated in place
    await endCreation(db.sql, a.id, first.id, { status: 'succeeded', reported: 4 });
    const used = async (keyId: string) => (await db.sql<{ used: number }[]>`SELECT used FROM api_key_daily_spend WHERE api_key_id = ${keyId}`).map((r) => r.used);
    expect(await used(a.keyId)).toEqual([4 + 7]);

    const lapsing = await hold(b, 5);
    await db.sql`UPDATE test_clocks SET frozen_time = ${new Date(at.getTime() + HOLD_TTL_MS + 1000)} WHERE id = ${b.clock.id}`;
    expect(await expireStaleHolds(db.sql)).toBe(1); // every workspace's, through creations_running_by_workspace
    const [swept] = await db.sql<{ status: string }[]>`SELECT status FROM creations WHERE id = ${lapsing.id}`;
    expect([swept!.status, await used(b.keyId)]).toEqual(['expired', [0]]);
  });

  it('goes down to the indexes and the ledger_hold of before, and up again', async () => {
    const dir = join(dirname(fileURLToPath(import.meta.url)), '../../ledger/migrations');
    const applied = (await db.sql<{ name: string }[]>`SELECT name FROM schema_migrations ORDER BY run_on DESC, id DESC`).map((r) => r.name);
    const count = applied.indexOf('1732400000025_fewer_spend_writes') + 1;
    expect(count).toBeGreaterThan(0);
    const hold = async () => (await db.sql<{ src: string }[]>`SELECT prosrc AS src FROM pg_proc WHERE proname = 'ledger_hold'`).map((r) => r.src);
    await runner({ databaseUrl: db.url, dir, direction: 'down', migrationsTable: 'schema_migrations', count, log: () => {} });
    expect(await indexes()).toEqual(expect.arrayContaining(['creations_running', 'creations_seq_key']));
    expect(await hold()).toHaveLength(1);
    expect((await hold())[0]).toContain('ON CONFLICT (api_key_id, day) DO UPDATE');
    expect((await hold())[0]).not.toContain('UPDATE api_key_daily_spend SET used = used + q.credits');
    await runner({ databaseUrl: db.url, dir, direction: 'up', migrationsTable: 'schema_migrations', log: () => {} });
    expect(await indexes()).not.toContain('creations_running');
    expect((await hold())[0]).toContain('UPDATE api_key_daily_spend SET used = used + q.credits');
  });
});
