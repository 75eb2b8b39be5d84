import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Client, Connection } from '@temporalio/client';
import { createApp } from '../../api/app.js';
import type { ApiDeps } from '../../api/router.js';
import { createTestClock } from '../../ledger/test-clocks.js';
import { createWorkspace } from '../../ledger/workspaces.js';
import { createSandboxProvider } from '../../payments/sandbox.js';
import { freshDatabase } from '../helpers/database.js';
import { apiClient } from '../helpers/stack.js';

export const OPERATOR_KEY = 'security-test-operator-key-0123';

/**
 * The real API (createApp) on a real 127.0.0.1 port over a fresh Postgres, with a Temporal client that
 * reaches nothing (nothing listens on port 1): the security checks of issue 16 are all in the API and
 * Postgres, and a whole Temporal dev server per file would only slow the suite down.
 */
export async function startLightApp(extra: Partial<Omit<ApiDeps, 'apiKeys'>> = {}, listen: { hostname?: string } = {}) {
  const db = await freshDatabase();
  const connection = Connection.lazy({ address: '127.0.0.1:1' });
  const payments = createSandboxProvider({ publicUrl: 'http://127.0.0.1', sql: db.sql });
  let baseUrl = '';
  const app = createApp({
    sql: db.sql, temporal: new Client({ connection }), taskQueue: 'none', adminApiKey: OPERATOR_KEY, payments,
    webhookSecret: 'security-test-webhook-secret', sandbox: payments, publicUrl: 'http://127.0.0.1', ...extra,
  });
  const server = serve({ fetch: app.fetch, port: 0, hostname: listen.hostname ?? '127.0.0.1' });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    app, sql: db.sql, baseUrl,
    api: (key: string) => apiClient(baseUrl, key),
    /** A workspace on its own test clock, with its first API key. */
    async workspace(name = 'studio') {
      const clock = await createTestClock(db.sql, new Date('2026-01-01T00:00:00Z'));
      return createWorkspace(db.sql, { name, testClockId: clock.id });
    },
    async stop() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await connection.close();
      await db.drop();
    },
  };
}
