import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyCache } from '../../api/api-key-cache.js';
import type { Sql } from '../../ledger/db.js';
import { createWorkspace, hashKey, newId } from '../../ledger/workspaces.js';
import { freshDatabase } from '../helpers/database.js';

/** The API key cache on real Postgres: what it remembers, for how long, and what it forgets. */
describe('API key cache', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let sql: Sql;
  beforeAll(async () => {
    db = await freshDatabase();
    sql = db.sql;
  });
  afterAll(async () => db?.drop());

  /** Revokes the key behind the cache's back, as another API process would. */
  const revokeElsewhere = (apiKey: string) => sql`UPDATE api_keys SET revoked_at = now() WHERE key_hash = ${hashKey(apiKey)}`;

  it('remembers a key for TTL_MS: a revocation by another process takes effect within it', async () => {
    let now = 1_000_000;
    const cache = new ApiKeyCache(() => now);
    const { id, apiKey } = await createWorkspace(sql, { name: 'Cached', testClockId: null });
    expect(await cache.lookup(sql, apiKey)).toEqual({ id, name: 'Cached', test_clock_id: null });

    await revokeElsewhere(apiKey);
    now += ApiKeyCache.TTL_MS - 1;
    expect((await cache.lookup(sql, apiKey))?.id).toBe(id);
    now += 1;
    expect(await cache.lookup(sql, apiKey)).toBeUndefined();
  });

  it('forgets every key at once after a revocation through this process', async () => {
    const cache = new ApiKeyCache(() => 0);
    const { apiKey } = await createWorkspace(sql, { name: 'Revoked here', testClockId: null });
    expect(await cache.lookup(sql, apiKey)).toBeDefined();
    await revokeElsewhere(apiKey);
    cache.forgetAll();
    expect(await cache.lookup(sql, apiKey)).toBeUndefined();
  });

  it('never remembers an unknown key, so a key created later works at once', async () => {
    const cache = new ApiKeyCache(() => 0);
    expect(await cache.lookup(sql, 'sk_ws_not_a_key')).toBeUndefined();
    const { id, apiKey } = await createWorkspace(sql, { name: 'New', testClockId: null });
    expect((await cache.lookup(sql, apiKey))?.id).toBe(id);
    // The very key that was unknown a moment ago, now issued: found at once, not a remembered miss.
    await sql`INSERT INTO api_keys (key_hash, id, hint, workspace_id) VALUES (${hashKey('sk_ws_not_a_key')}, ${newId('key')}, '_key', ${id})`;
    expect((await cache.lookup(sql, 'sk_ws_not_a_key'))?.id).toBe(id);
  });
});
