import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configureLedgerBatching, ledgerBatchStats } from '../../ledger/batching.js';
import { getBalance, grantLot } from '../../ledger/credits.js';
import type { Sql } from '../../ledger/db.js';
import { createQuote, endCreation, holdForQuote } from '../../ledger/spend.js';
import { createTestClock } from '../../ledger/test-clocks.js';
import { createWorkspace } from '../../ledger/workspaces.js';
import { freshDatabase } from '../helpers/database.js';

/**
 * Breaker (issue 15): "a failing item never fails its neighbours". An item whose text Postgres cannot take as
 * jsonb (U+0000, or a lone UTF-16 surrogate: both pass the API's zod schemas — a creation id path parameter is
 * any 1–64 characters, external_id any 1–200) is in the same ledger_batch call as another tenant's valid hold.
 * The whole `items` jsonb parameter is refused before any item runs, in the first call and in the savepoint
 * re-send alike, so every neighbour's caller gets that error (the API maps 22P05 to 400 "text must not
 * contain NUL" — a permanent answer for a valid request) and its hold never happens.
 */
let db: Awaited<ReturnType<typeof freshDatabase>>;
let sql: Sql;
const AT = new Date('2026-05-01T10:00:00Z');

async function fundedWorkspace(name: string) {
  const clock = await createTestClock(sql, AT);
  const { id } = await createWorkspace(sql, { name, testClockId: clock.id });
  await grantLot(sql, { key: `${id}:pack`, workspaceId: id, source: 'monthly', amount: 1_000, grantedAt: AT, expiresAt: new Date('2026-06-01T10:00:00Z') });
  return id;
}

beforeAll(async () => {
  db = await freshDatabase();
  sql = db.sql;
  // A wide window so that the two calls below surely share one batch, whatever the machine's load.
  await configureLedgerBatching(sql, { windowMs: 50, maxItems: 64, maxInFlight: 4 });
});
afterAll(async () => db?.drop());

describe('breaker: one unstorable item in a batch', () => {
  for (const [label, poison] of [['U+0000 in a creation id', { creation: 'cr_\u0000' }], ['a lone surrogate in external_id', { externalId: 'job-\ud800' }]] as const) {
    it(`a neighbour's hold commits and answers when another tenant's item carries ${label}`, async () => {
      const victim = await fundedWorkspace('victim');
      const attacker = await fundedWorkspace('attacker');
      const victimQuote = await createQuote(sql, victim, { model: 'imagen-3', count: 1 }, 30);
      const attackerQuote = await createQuote(sql, attacker, { model: 'imagen-3', count: 1 }, 30);
      const callsBefore = ledgerBatchStats(sql).spend?.calls ?? 0;

      const poisoned = 'creation' in poison
        ? endCreation(sql, attacker, poison.creation, { status: 'succeeded', reported: 1 })
        : holdForQuote(sql, attacker, attackerQuote.quote_id, { externalId: poison.externalId });
      const [neighbour, bad] = await Promise.allSettled([holdForQuote(sql, victim, victimQuote.quote_id), poisoned]);

      expect(ledgerBatchStats(sql).spend!.calls - callsBefore).toBe(1); // they did share one call
      // The poisoned item may fail (a NUL is refused on the unbatched path too); its neighbour must not.
      void bad;
      expect(neighbour.status === 'rejected' ? String(neighbour.reason) : 'fulfilled').toBe('fulfilled');
      expect((await getBalance(sql, victim)).held).toBe(30);
    });
  }

  it('control: without batching the same lone-surrogate external_id hold commits (the batch made it fail too)', async () => {
    const { createSql } = await import('../../ledger/db.js');
    const unbatched = createSql(db.url, { max: 2 });
    try {
      await configureLedgerBatching(unbatched, { maxItems: 1 });
      const ws = await fundedWorkspace('unbatched');
      const quote = await createQuote(unbatched, ws, { model: 'imagen-3', count: 1 }, 30);
      const { creation } = await holdForQuote(unbatched, ws, quote.quote_id, { externalId: 'job-\ud800' });
      expect(creation.held).toBe(30);
      expect(creation.external_id).toBe('job-\ufffd'); // the driver sends UTF-8: the lone surrogate becomes U+FFFD
    } finally {
      await unbatched.end();
    }
  });
});
