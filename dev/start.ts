/**
 * `npm start`: the whole product on embedded defaults, in one command.
 * Postgres (DATABASE_URL, else a private cluster under .data/), the Temporal CLI dev server with its
 * Web UI and our search attributes, then the worker and the API as child processes. Ctrl-C stops all.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { migrate } from '../ledger/migrate.js';
import { startPrivateCluster, type PrivateCluster } from './postgres.js';
import { waitForPort } from './ports.js';
import { type DevServer, startDevServer } from './temporal-dev-server.js';
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
  const child = spawn(process.execPath, ['--import', 'tsx', entry], { env, stdio: ['ignore', 'inherit', 'inherit'] });
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

mkdirSync(dataDir, { recursive: true });
const port = Number(process.env.PORT ?? 3000);
const adminKey = operatorKey();

let databaseUrl = process.env.DATABASE_URL;
if (databaseUrl) {
  say('using DATABASE_URL');
} else {
  const pgPort = Number(process.env.EMBEDDED_POSTGRES_PORT ?? 54329);
  say(`starting a private Postgres cluster in .data/postgres on 127.0.0.1:${pgPort}`);
  cluster = await startPrivateCluster({ dir: join(dataDir, 'postgres'), port: pgPort, durable: true });
  databaseUrl = cluster.url;
}
say('applying database migrations');
await migrate(databaseUrl);

let temporalAddress = process.env.TEMPORAL_ADDRESS;
let temporalUi = process.env.TEMPORAL_UI_URL ?? null;
if (temporalAddress) {
  say(`using the Temporal server at ${temporalAddress}`);
} else {
  const cli = await ensureTemporalCli();
  say('starting the Temporal dev server (state in .data/temporal.sqlite)');
  devServer = await startDevServer({
    cli, port: 7233, uiPort: 8233, dbFile: join(dataDir, 'temporal.sqlite'), logFile: join(dataDir, 'temporal.log'),
  });
  temporalAddress = devServer.address;
  temporalUi = devServer.uiUrl;
}

const env = {
  ...process.env, DATABASE_URL: databaseUrl, TEMPORAL_ADDRESS: temporalAddress, ADMIN_API_KEY: adminKey, PORT: String(port),
  ...(temporalUi ? { TEMPORAL_UI_URL: temporalUi } : {}), // the console links to the workflows there
  // Local development: alert webhooks may reach receivers on this machine (never set in production).
  ALLOW_PRIVATE_WEBHOOK_TARGETS: process.env.ALLOW_PRIVATE_WEBHOOK_TARGETS ?? 'true',
};
children.push(runTs('worker/main.ts', env, 'worker'), runTs('api/main.ts', env, 'api'));
await waitForPort(port, 60_000);
await waitUntilReady(`http://localhost:${port}/readyz`);

const api = `http://localhost:${port}`;
console.log(`
  Credit engine is running.

    API            ${api}
    API docs       ${api}/docs   (OpenAPI: ${api}/openapi.json)
    Pricing page   ${api}/pricing
    Temporal UI    ${temporalUi ?? '(external Temporal: see your cluster\'s UI)'}
    Operator key   ${adminKey}

  Try:  curl -H "Authorization: Bearer ${adminKey}" -X POST ${api}/v1/workspaces \\
          -H 'content-type: application/json' -d '{"name":"My studio"}'

  Press Ctrl-C to stop everything.
`);
