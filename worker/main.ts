import { Connection } from '@temporalio/client';
import { NativeConnection, Runtime } from '@temporalio/worker';
import { createSql } from '../ledger/db.js';
import { createPayments } from '../payments/factory.js';
import { loadConfig } from '../runtime/config.js';
import { surviveDatabaseRestarts } from '../runtime/survive-postgres-restart.js';
import { createWorker } from './create-worker.js';
import { startAlertLoops } from './alerts.js';
import { startHoldSweeper } from './hold-sweeper.js';
import { startAutoTopUps } from './auto-top-up.js';
import { startPackLapses } from './pack-lapse.js';
import { registerSearchAttributes } from '../runtime/search-attributes.js';
import { loadTemporalSettings } from '../runtime/temporal-connection.js';

surviveDatabaseRestarts();
const config = loadConfig();
const temporal = loadTemporalSettings();
const sql = createSql(config.DATABASE_URL);
// The Temporal runtime's own metrics (workflow/activity task latencies, slots, polls) for Prometheus.
const metricsAddress = `${config.WORKER_METRICS_HOST}:${config.WORKER_METRICS_PORT}`;
try {
  Runtime.install({ telemetryOptions: { metrics: { prometheus: { bindAddress: metricsAddress } } } });
} catch (error) {
  // The runtime's own message does not say which address: name it and the setting that moves it.
  throw new Error(`the worker's metrics exporter cannot listen on ${metricsAddress} (WORKER_METRICS_PORT / WORKER_METRICS_HOST): ${(error as Error).message}`, { cause: error });
}
const connection = await NativeConnection.connect(temporal.connectionOptions);
if (config.TEMPORAL_REGISTER_SEARCH_ATTRIBUTES) {
  // Self-hosted clusters (docker compose) learn our search attributes here; the dev server gets them as flags.
  const admin = await Connection.connect(temporal.connectionOptions);
  await registerSearchAttributes(admin, temporal.namespace);
  await admin.close();
}
// The worker never verifies webhooks: the secret is only needed by the API.
const payments = createPayments(config, sql, () => 'unused-by-the-worker').provider;
const worker = await createWorker({
  connection,
  namespace: temporal.namespace,
  taskQueue: config.TEMPORAL_TASK_QUEUE,
  sql,
  payments,
  maxCachedWorkflows: config.WORKER_MAX_CACHED_WORKFLOWS,
});
const stopSweeper = startHoldSweeper(sql);
const stopAlerts = startAlertLoops(sql);
const stopAutoTopUps = startAutoTopUps({ sql, payments });
const stopPackLapses = startPackLapses({ sql, payments });
console.log(`worker polling task queue "${config.TEMPORAL_TASK_QUEUE}" on ${temporal.address} (namespace ${temporal.namespace})`);
// run() resolves after SIGINT/SIGTERM: in-flight activities finish, then we close our resources.
await worker.run();
await stopSweeper();
await stopAlerts();
await stopAutoTopUps();
await stopPackLapses();
await connection.close();
await sql.end();
