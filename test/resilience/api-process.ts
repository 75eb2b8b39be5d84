/**
 * The API in a process of its own (like api/main.ts, without Temporal: nothing listens on the address it
 * gets, which the spend path never needs), so a resilience test can restart Postgres under it and see
 * whether the process survives. Env: DATABASE_URL, PORT, ADMIN_API_KEY. Prints `ready` once listening.
 */
import { serve } from '@hono/node-server';
import { Client, Connection } from '@temporalio/client';
import { createApp } from '../../api/app.js';
import { createSql } from '../../ledger/db.js';
import { createSandboxProvider } from '../../payments/sandbox.js';
import { surviveDatabaseRestarts } from '../../runtime/survive-postgres-restart.js';

// As api/main.ts does: outlive postgres.js's own error when the database restarts.
surviveDatabaseRestarts();
const env = process.env;
const sql = createSql(env.DATABASE_URL!);
const publicUrl = `http://127.0.0.1:${env.PORT}`;
const payments = createSandboxProvider({ publicUrl, sql });
const app = createApp({
  sql, temporal: new Client({ connection: Connection.lazy({ address: '127.0.0.1:1' }) }), taskQueue: 'none',
  adminApiKey: env.ADMIN_API_KEY!, payments, webhookSecret: 'unused', publicUrl,
  spendRateLimit: { perSecond: 100_000, burst: 100_000 },
});
serve({ fetch: app.fetch, port: Number(env.PORT), hostname: '127.0.0.1' }, () => process.stdout.write('ready\n'));
