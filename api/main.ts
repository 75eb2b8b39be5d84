import { randomBytes } from 'node:crypto';
import { serve } from '@hono/node-server';
import { Client, Connection } from '@temporalio/client';
import { flushLedgerBatches } from '../ledger/batching.js';
import { createSql } from '../ledger/db.js';
import { createPayments } from '../payments/factory.js';
import { saveSellerSettings } from '../ledger/seller.js';
import { loadConfig, sellerOf } from '../runtime/config.js';
import { surviveDatabaseRestarts } from '../runtime/survive-postgres-restart.js';
import { loadTemporalSettings } from '../runtime/temporal-connection.js';
import { createApp } from './app.js';
import { createLogger } from './observability.js';
import { startWebhookLoops } from './webhooks/loops.js';

surviveDatabaseRestarts();
const config = loadConfig();
if (!config.ADMIN_API_KEY) throw new Error('ADMIN_API_KEY is required (at least 16 characters)');
const sql = createSql(config.DATABASE_URL);
// The seller on invoices and the prefix of their numbers: stored for every process that finalizes invoices.
const seller = sellerOf(config);
await saveSellerSettings(sql, seller);
const temporalSettings = loadTemporalSettings();
const connection = await Connection.connect(temporalSettings.connectionOptions);
const temporal = new Client({ connection, namespace: temporalSettings.namespace });
// The sandbox signs its own events; without SANDBOX_WEBHOOK_SECRET a secret is made for this process.
const payments = createPayments(config, sql, () => randomBytes(24).toString('hex'));
const app = createApp({
  sql, temporal, taskQueue: config.TEMPORAL_TASK_QUEUE, adminApiKey: config.ADMIN_API_KEY, publicUrl: config.PUBLIC_URL,
  // Only a configured PUBLIC_URL (loadConfig treats an empty one as unset, as here): the localhost default may not be where clients are.
  ...(process.env.PUBLIC_URL ? { problemTypeBase: config.PUBLIC_URL } : {}),
  payments: payments.provider, webhookSecret: payments.webhookSecret, sandbox: payments.sandbox, stripe: payments.stripe,
  logger: createLogger(config.LOG_LEVEL), seller, metricsToken: config.METRICS_TOKEN, allowPrivateWebhookTargets: config.ALLOW_PRIVATE_WEBHOOK_TARGETS,
  rateLimit: { perSecond: config.RATE_LIMIT_PER_SECOND, burst: config.RATE_LIMIT_BURST }, ...(config.TEMPORAL_UI_URL ? { temporalUiUrl: config.TEMPORAL_UI_URL } : {}),
});
const stopWebhookLoops = startWebhookLoops({
  sql, temporal, payments: payments.provider, stripe: payments.stripe,
  sandbox: payments.sandbox ? { endpoint: `http://127.0.0.1:${config.PORT}/webhooks/stripe`, secret: payments.webhookSecret } : undefined,
});

const server = serve({ fetch: app.fetch, port: config.PORT }, (info) => console.log(`API listening on :${info.port}`));

async function shutdown(): Promise<void> {
  server.close();
  await stopWebhookLoops();
  await connection.close();
  // Items gathered for a ledger batch (at most LEDGER_BATCH_WINDOW_MS old) go out before the pool closes.
  await flushLedgerBatches(sql);
  await sql.end({ timeout: 5 });
  process.exit(0);
}
process.once('SIGINT', () => void shutdown());
process.once('SIGTERM', () => void shutdown());
