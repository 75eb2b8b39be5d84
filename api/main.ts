import { randomBytes } from 'node:crypto';
import { serve } from '@hono/node-server';
import { Client, Connection } from '@temporalio/client';
import { createSql } from '../ledger/db.js';
import { createSandboxProvider } from '../payments/sandbox.js';
import { loadConfig } from '../worker/config.js';
import { temporalConnectionOptions } from '../worker/temporal-connection.js';
import { createApp } from './app.js';
import { startWebhookLoops } from './webhooks/loops.js';

const config = loadConfig();
if (!config.ADMIN_API_KEY) throw new Error('ADMIN_API_KEY is required (at least 16 characters)');
const sql = createSql(config.DATABASE_URL);
const connection = await Connection.connect(temporalConnectionOptions(config));
const temporal = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
const payments = createSandboxProvider({ publicUrl: config.PUBLIC_URL, sql });
// The sandbox signs its events with this secret; with Stripe it is the endpoint's signing secret.
const webhookSecret = config.SANDBOX_WEBHOOK_SECRET ?? randomBytes(24).toString('hex');
const app = createApp({
  sql, temporal, taskQueue: config.TEMPORAL_TASK_QUEUE, adminApiKey: config.ADMIN_API_KEY, payments, webhookSecret, sandbox: payments,
});
const stopWebhookLoops = startWebhookLoops({
  sql, temporal, sandbox: { endpoint: `http://127.0.0.1:${config.PORT}/webhooks/stripe`, secret: webhookSecret },
});

const server = serve({ fetch: app.fetch, port: config.PORT }, (info) => console.log(`API listening on :${info.port}`));

async function shutdown(): Promise<void> {
  server.close();
  await stopWebhookLoops();
  await connection.close();
  await sql.end({ timeout: 5 });
  process.exit(0);
}
process.once('SIGINT', () => void shutdown());
process.once('SIGTERM', () => void shutdown());
