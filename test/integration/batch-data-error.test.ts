import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getBalance, grantLot } from '../../ledger/credits.js';
import type { Sql } from '../../ledger/db.js';
import { createQuote, runSpendBatch } from '../../ledger/spend.js';
import { createTestClock } from '../../ledger/test-clocks.js';
import { createWorkspace, newId } from '../../ledger/workspaces.js';
import { freshDatabase } from '../helpers/database.js';

/**
 * The backstop of batched ledger commits (issue 15): when a batch's items parameter itself is refused (text jsonb
 * cannot hold: here a U+0000 that holdForQuote / endCreation would have kept out of the batch, sent to
 * runSpendBatch as is), the first call and its savepoint re-send both fail before any item runs; each item is then
 * sent on its own, so the bad one alone fails (with the error it meets unbatched) and its neighbours commit.
 */
let db: Awaited<ReturnType<typeof freshDatabase>>;
let sql: Sql;
const AT = new Date('2026-05-01T10:00:00Z');

beforeAll(async () => {
  db = await freshDatabase();
  sql = db.sql;
});
afterAll(async () => db?.drop());

describe('a batch whose items parameter Postgres refuses', () => {
  it('fails the item carrying U+0000 alone; the other tenants\' holds commit and answer', async () => {
    const clock = await createTestClock(sql, AT);
    const workspaces: string[] = [];
    for (const name of ['a', 'b']) {
      const { id } = await createWorkspace(sql, { name, testClockId: clock.id });
      await grantLot(sql, { key: `${id}:m`, workspaceId: id, source: 'monthly', amount: 100, grantedAt: AT, expiresAt: new Date('2026-06-01T10:00:00Z') });
      workspaces.push(id);
    }
    const quotes = await Promise.all(workspaces.map((ws) => createQuote(sql, ws, { model: 'imagen-3' }, 30)));
    const hold = (w: number) => ({ op: 'hold' as const, ws: workspaces[w]!, quote: quotes[w]!.quote_id, creation: newId('cr'),
      hold_ttl_ms: 3_600_000, api_key: null, external_id: null, metadata: {} });
    const outcomes = await runSpendBatch(sql, [
      hold(0),
      { op: 'end', ws: workspaces[1]!, creation: 'cr_\u0000', outcome: 'failed', reported: null },
      hold(1),
    ]);
    expect(outcomes.map((o) => o.ok)).toEqual([true, false, true]);
    const bad = outcomes[1] as { ok: false; error: unknown };
    expect(bad.error).toBeInstanceOf(postgres.PostgresError);
    expect((bad.error as postgres.PostgresError).code).toMatch(/^22/); // what the API answers 400 invalid_request
    for (const ws of workspaces) expect(await getBalance(sql, ws)).toMatchObject({ available: 70, held: 30 });
  });
});
