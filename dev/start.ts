/**
 * `npm start`: the whole product on embedded defaults, in one command.
 * Postgres (DATABASE_URL, else a private cluster under .data/) and, side by side, the Temporal CLI dev server
 * with its Web UI and our search attributes (TEMPORAL_ADDRESS / a temporal.toml profile: an external server
 * instead); then, once the ledger is migrated and the Temporal frontend healthy, the worker and the API as child
 * processes. Prints each phase's duration. Ports: PORT (3000), EMBEDDED_POSTGRES_PORT (54329),
 * TEMPORAL_DEV_SERVER_PORT (7233), TEMPORAL_UI_PORT (its port + 1000), WORKER_METRICS_PORT (9464, or a free one when
 * 9464 is taken and the variable is unset, so a second `npm start` beside another never kills its worker). Ctrl-C stops all.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { migrate } from '../ledger/migrate.js';
import { startPrivateCluster, type PrivateCluster } from './postgres.js';
import { freePort, waitForPort } from './ports.js';
import { type DevServer, startDevServer } from './temporal-dev-server.js';
import { loadTemporalSettings } from '../runtime/temporal-connection.js';
import { ensureTemporalCli } from './tools.js';

const dataDir = join(process.cwd(), '.data');
const say = (message: string): void => console.log(`[start] ${message}`);

function operatorKey(): string {
  if (process.env.ADMIN_API_KEY) return process.env.ADMIN_API_KEY;
  // Generated once and kept under .data/, so the key stays the same across restarts.
  const file = join(dataDir, 'admin-api-key');
  if (!existsSync(file)) writeFileSync(file, `op_${randomBytes(24).toString('base64url')}\n`, { mode: 0o600 });
  return readFileSync(file, 'utf8').trim();
}

function runTs(entry: string, env: NodeJS.ProcessEnv, name: string): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', entry], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  child.stdout!.pipe(process.stdout, { end: false }); // piped, not inherited: printed() watches it too
  child.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(`[start] ${name} exited (${signal ?? code}); stopping everything`);
      void stopAll(1);
    }
  });
  return child;
}

async function waitUntilReady(url: string): Promise<void> {
  for (let attempt = 0; attempt < 600; attempt++) {
    if ((await fetch(url).then((r) => r.ok, () => false))) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url} did not become ready`);
}

let stopping = false;
let cluster: PrivateCluster | undefined;
let devServer: DevServer | undefined;
const children: ChildProcess[] = [];

async function stopAll(exitCode: number): Promise<never> {
  stopping = true;
  say('stopping…');
  await Promise.all(children.map((child) => new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  })));
  await devServer?.stop();
  cluster?.stop();
  process.exit(exitCode);
}

// Ctrl-C reaches this process more than once (from the terminal and relayed by npm and tsx): the first
// starts the shutdown, the others must not end the process before it has stopped Temporal and Postgres.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (!stopping) void stopAll(0);
  });
}

/** Runs `task` as the named phase of the first start, and prints how long it took (first-start-check reads these). */
const startedAt = Date.now();
async function phase<T>(name: string, task: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  const result = await task();
  say(`phase ${name} done in ${((Date.now() - t0) / 1000).toFixed(1)} s (at ${((Date.now() - startedAt) / 1000).toFixed(1)} s)`);
  return result;
}

/** Resolves when the child prints `marker` on its stdout; rejects if it exits first. */
function printed(child: ChildProcess, marker: string, name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      seen = (seen + chunk.toString()).slice(-1000);
      if (seen.includes(marker)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`${name} exited (${code}) before it printed "${marker}"`)));
  });
}

mkdirSync(dataDir, { recursive: true });
const port = Number(process.env.PORT ?? 3000);
const adminKey = operatorKey();
const temporal = loadTemporalSettings();

// Temporal (tool resolution, dev server) and Postgres (initdb, migrations) start side by side: the CLI's
// download and the dev server's boot run in their own processes while Postgres initialises.
const temporalReady: Promise<{ address: string; ui: string | null }> = (async () => {
  if (process.env.TEMPORAL_ADDRESS || process.env.TEMPORAL_CONFIG_FILE || process.env.TEMPORAL_PROFILE) {
    say(`using the Temporal server at ${temporal.address} (namespace ${temporal.namespace})`);
    return { address: temporal.address, ui: process.env.TEMPORAL_UI_URL ?? null };
  }
  const cli = await phase('tools', () => ensureTemporalCli());
  const temporalPort = Number(process.env.TEMPORAL_DEV_SERVER_PORT ?? 7233);
  const uiPort = Number(process.env.TEMPORAL_UI_PORT ?? temporalPort + 1000);
  say(`starting the Temporal dev server on 127.0.0.1:${temporalPort} (state in .data/temporal.sqlite)`);
  devServer = await phase('temporal', () => startDevServer({
    cli, port: temporalPort, uiPort, dbFile: join(dataDir, 'temporal.sqlite'), logFile: join(dataDir, 'temporal.log'),
    namespace: temporal.namespace,
  }));
  return { address: devServer.address, ui: devServer.uiUrl };
})();

const databaseReady: Promise<string> = (async () => {
  let url = process.env.DATABASE_URL;
  if (url) {
    say('using DATABASE_URL');
  } else {
    const pgPort = Number(process.env.EMBEDDED_POSTGRES_PORT ?? 54329);
    say(`starting a private Postgres cluster in .data/postgres on 127.0.0.1:${pgPort}`);
    cluster = await phase('postgres', () => startPrivateCluster({ dir: join(dataDir, 'postgres'), port: pgPort, durable: true }));
    url = cluster.url;
  }
  const databaseUrl = url;
  say('applying database migrations');
  await phase('migrations', () => migrate(databaseUrl));
  return databaseUrl;
})();

let databaseUrl = '';
let temporalAddress = '';
let temporalUi: string | null = null;
try {
  [databaseUrl, { address: temporalAddress, ui: temporalUi }] = await Promise.all([databaseReady, temporalReady]);
} catch (error) {
  console.error(`[start] ${(error as Error).message}`);
  await Promise.allSettled([databaseReady, temporalReady]); // both halves settled before stopping what started
  await stopAll(1);
}

/** WORKER_METRICS_PORT when set; else 9464 when nothing listens there; else a free port (printed below). */
async function workerMetricsPort(): Promise<string> {
  if (process.env.WORKER_METRICS_PORT) return process.env.WORKER_METRICS_PORT;
  const taken = await new Promise<boolean>((resolve) => {
    const probe = createServer().once('error', () => resolve(true)).listen(9464, '127.0.0.1', () => probe.close(() => resolve(false)));
  });
  return String(taken ? await freePort() : 9464);
}
const metricsPort = await workerMetricsPort();

const env = {
  ...process.env, DATABASE_URL: databaseUrl, WORKER_METRICS_PORT: metricsPort, TEMPORAL_ADDRESS: temporalAddress, TEMPORAL_NAMESPACE: temporal.namespace,
  ADMIN_API_KEY: adminKey, PORT: String(port),
  ...(temporalUi ? { TEMPORAL_UI_URL: temporalUi } : {}), // the console links to the workflows there
  // Local development: alert webhooks may reach receivers on this machine (never set in production).
  ALLOW_PRIVATE_WEBHOOK_TARGETS: process.env.ALLOW_PRIVATE_WEBHOOK_TARGETS ?? 'true',
};
// Both start once Postgres is migrated and the Temporal frontend is healthy (not merely listening).
const worker = runTs('worker/main.ts', env, 'worker');
children.push(worker, runTs('api/main.ts', env, 'api'));
await Promise.all([
  phase('worker', () => printed(worker, 'worker polling', 'worker')),
  phase('api', async () => {
    await waitForPort(port, 120_000);
    await waitUntilReady(`http://localhost:${port}/readyz`);
  }),
]).catch(async (error: Error) => {
  console.error(`[start] ${error.message}`);
  await stopAll(1);
});
say(`ready in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);

const api = `http://localhost:${port}`;
console.log(`
  Credit engine is running.

    API            ${api}
    API docs       ${api}/docs   (OpenAPI: ${api}/openapi.json)
    Error codes    ${api}/docs/errors
    Pricing page   ${api}/pricing
    Billing page   ${api}/billing   (a workspace's page: sign in with its API key)
    Operator page  ${api}/admin     (sign in with the operator key)
    Temporal UI    ${temporalUi ?? '(external Temporal: see your cluster\'s UI)'}
    Worker metrics http://127.0.0.1:${metricsPort}/metrics
    Operator key   ${adminKey}

  Try:  curl -H "Authorization: Bearer ${adminKey}" -X POST ${api}/v1/workspaces \\
          -H 'content-type: application/json' -d '{"name":"My studio"}'

  Press Ctrl-C to stop everything.
`);
