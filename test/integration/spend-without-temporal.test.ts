import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../api/app.js';
import { grantLot } from '../../ledger/credits.js';
import { createTestClock } from '../../ledger/test-clocks.js';
import { createWorkspace } from '../../ledger/workspaces.js';
import { createSandboxProvider } from '../../payments/sandbox.js';
import { freshDatabase } from '../helpers/database.js';

/** The spend path (estimate → hold → capture) is Postgres only: it works with no Temporal server at all. */
describe('spend path without Temporal', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let connection: Connection;
  beforeAll(async () => {
    db = await freshDatabase();
  });
  afterAll(async () => {
    await connection?.close();
    await db?.drop();
  });

  it('quotes, holds and captures while the Temporal address answers nothing', async () => {
    // Nothing listens on port 1: any call to Temporal would fail.
    connection = Connection.lazy({ address: '127.0.0.1:1' });
    const app = createApp({
      sql: db.sql, temporal: new Client({ connection }), taskQueue: 'none', adminApiKey: 'operator-key-for-this-test',
      payments: createSandboxProvider({ publicUrl: 'http://localhost', sql: db.sql }), webhookSecret: 'unused', publicUrl: 'http://localhost',
    });
    const clock = await createTestClock(db.sql, new Date('2026-01-01T00:00:00Z'));
    const ws = await createWorkspace(db.sql, { name: 'offline', testClockId: clock.id });
    await grantLot(db.sql, {
      key: 'g1', workspaceId: ws.id, source: 'monthly', amount: 50,
      grantedAt: new Date('2026-01-01T00:00:00Z'), expiresAt: new Date('2026-03-02T00:00:00Z'),
    });
    const call = async (path: string, body?: unknown) => {
      const response = await app.request(path, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { authorization: `Bearer ${ws.apiKey}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: response.status, body: await response.json() };
    };
    const quote = await call('/v1/credits/estimate', { model: 'kling-2', duration_s: 10 });
    expect([quote.status, quote.body.credits]).toEqual([201, 12]);
    const creation = await call('/v1/creations', { quote_id: quote.body.quote_id });
    expect([creation.status, creation.body.held]).toEqual([201, 12]);
    const done = await call(`/v1/creations/${creation.body.id}/complete`, { credits: 11 });
    expect(done.body).toMatchObject({ status: 'succeeded', charged: 11, released: 1 });
    expect((await call('/v1/credits')).body).toMatchObject({ available: 39, held: 0 });
    // …while anything that needs Temporal does fail.
    expect((await app.request('/readyz')).status).toBe(503);
    // A request that needs a workflow is told to come back: 503 problem with Retry-After.
    const unavailable = await app.request('/v1/subscription', {
      method: 'POST', headers: { authorization: `Bearer ${ws.apiKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ plan: 'plus', interval: 'month' }),
    });
    expect([unavailable.status, unavailable.headers.get('retry-after'), unavailable.headers.get('content-type')])
      .toEqual([503, '5', 'application/problem+json']);
    expect(await unavailable.json()).toMatchObject({ status: 503, code: 'temporarily_unavailable' });
  });
});
