import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyCache } from '../../api/api-key-cache.js';
import type { Sql } from '../../ledger/db.js';
import { createOperatorKey, revokeOperatorKey } from '../../ledger/operator-keys.js';
import { createWorkspace, hashKey } from '../../ledger/workspaces.js';
import { freshDatabase } from '../helpers/database.js';

/**
 * Issue 16, finding 7: a key lookup in flight during a revocation could put the revoked key back in the
 * cache for 5 s. Invariant: once a revocation is done (the row revoked, then forgetAll), no lookup, however
 * long it was in flight, answers or caches the key. Deterministic: the lookup runs on the real database through
 * a gate the test opens only after the revocation, so its read is from before the revocation.
 */
describe('API key cache: a revocation is never undone by a stale lookup (finding 7)', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  beforeAll(async () => {
    db = await freshDatabase();
  });
  afterAll(async () => db?.drop());

  /**
   * The real database, except that its first query's rows are held back until `release()`: `read` resolves
   * once those rows were read (the key still valid then). Later queries pass straight through.
   */
  function gated(real: Sql) {
    let release!: () => void;
    let readDone!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const read = new Promise<void>((resolve) => (readDone = resolve));
    let first = true;
    const sql = ((strings: TemplateStringsArray, ...values: never[]) => {
      if (!first) return real(strings, ...values);
      first = false;
      return Promise.resolve(real(strings, ...values)).then(async (rows) => {
        readDone();
        await gate;
        return rows;
      });
    }) as unknown as Sql;
    return { sql, read, release };
  }

  it('a workspace key read before its revocation is neither answered nor cached after it', async () => {
    const cache = new ApiKeyCache(() => 0);
    const { apiKey } = await createWorkspace(db.sql, { name: 'revoked mid-lookup', testClockId: null });
    const slow = gated(db.sql);
    const inFlight = cache.lookup(slow.sql, apiKey);
    await slow.read; // the lookup has read the key as valid

    await db.sql`UPDATE api_keys SET revoked_at = now() WHERE key_hash = ${hashKey(apiKey)}`;
    cache.forgetAll(); // what DELETE /v1/api-keys/{id} does after revoking
    slow.release();

    expect(await inFlight).toBeUndefined();
    expect(await cache.lookup(db.sql, apiKey)).toBeUndefined();
    expect(await cache.lookupKey(db.sql, apiKey)).toBeUndefined();
  });

  it('an operator key read before its revocation is neither answered nor cached after it', async () => {
    const cache = new ApiKeyCache(() => 0);
    const operator = await createOperatorKey(db.sql, 'revoked mid-lookup');
    const slow = gated(db.sql);
    const inFlight = cache.lookupOperator(slow.sql, operator.api_key);
    await slow.read;

    await revokeOperatorKey(db.sql, operator.id);
    cache.forgetAll();
    slow.release();

    expect(await inFlight).toBeUndefined();
    expect(await cache.lookupOperator(db.sql, operator.api_key)).toBeUndefined();
  });

  it('a lookup with no revocation meanwhile is cached as before (one read, then none)', async () => {
    const cache = new ApiKeyCache(() => 0);
    const { id, apiKey } = await createWorkspace(db.sql, { name: 'kept', testClockId: null });
    const slow = gated(db.sql);
    const inFlight = cache.lookup(slow.sql, apiKey);
    await slow.read;
    slow.release();
    expect((await inFlight)?.id).toBe(id);
    // Cached: found again even through a database that would fail every query.
    const broken = (() => Promise.reject(new Error('no database'))) as unknown as Sql;
    expect((await cache.lookup(broken, apiKey))?.id).toBe(id);
  });
});
