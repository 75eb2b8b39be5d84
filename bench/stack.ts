/**
 * The real stack for the benchmark, all on 127.0.0.1: a fresh private Postgres cluster under
 * .data/bench/, the Temporal CLI dev server (in memory), and the worker and the API as child processes
 * started exactly as `npm start` starts them (`node --import tsx worker/main.ts`, `api/main.ts`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { freePort, waitForPort } from '../dev/ports.js';
import { startPrivateCluster, type PrivateCluster } from '../dev/postgres.js';
import { type DevServer, startDevServer } from '../dev/temporal-dev-server.js';
import { ensureTemporalCli } from '../dev/tools.js';
import { createSql, type Sql } from '../ledger/db.js';
import { migrate } from '../ledger/migrate.js';
import { log } from './log.js';

// BENCH_DIR: another folder, so two benchmark runs on one machine never share (and wipe) one cluster.
export const BENCH_DIR = process.env.BENCH_DIR ?? join(process.cwd(), '.data', 'bench');
export const TASK_QUEUE = 'subscriptions';

export interface Stack {
  /** The product's database. */
  appUrl: string;
  /** pgbench's database, on the same cluster. */
  pgbench: { host: string; port: number; db: string };
  sql: Sql;
  temporal: Client;
  temporalAddress: string;
  apiUrl: string;
  adminKey: string;
  durable: boolean;
  pids: { api: number; worker: number; postmaster: number; temporal: number };
  /** The worker's Prometheus metrics (the Temporal runtime's: sticky cache, task slots, latencies). */
  workerMetricsUrl: string;
  /** Starts a TypeScript entry point as a child process with a clean environment (only what is given). */
  child(name: string, entry: string, env: Record<string, string>, nodeArgs?: string[]): Promise<ChildProcess>;
  /** Stops a child started with child() (SIGTERM) and waits for it to exit. */
  stopChild(proc: ChildProcess): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Children get PATH and HOME and nothing else of ours: no STRIPE_SECRET_KEY, TEMPORAL_API_KEY or
 * DATABASE_URL from the caller's shell can point them anywhere but this machine.
 */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...extra };
}

async function waitForHttp(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await fetch(url).then((r) => r.ok, () => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms`);
}

export async function startStack(options: { durable: boolean; profileDir?: string }): Promise<Stack> {
  // A fresh cluster every run: no bloat or cached plans carried over from an earlier run.
  rmSync(join(BENCH_DIR, 'postgres'), { recursive: true, force: true });
  mkdirSync(BENCH_DIR, { recursive: true });
  const [pgPort, apiPort] = await Promise.all([freePort(), freePort()]);
  log(`postgres: fresh cluster in .data/bench/postgres on 127.0.0.1:${pgPort} (durable: ${options.durable})`);
  const clusterOptions = { dir: join(BENCH_DIR, 'postgres'), port: pgPort, durable: options.durable };
  let cluster: PrivateCluster = await startPrivateCluster(clusterOptions);
  if (options.profileDir) {
    // Profiling: per-statement times, and the plans of statements slower than 10 ms in server.log.
    const setup = createSql(cluster.url, { max: 1 });
    await setup.unsafe("ALTER SYSTEM SET shared_preload_libraries = pg_stat_statements, auto_explain");
    await setup.unsafe("LOAD 'auto_explain'");
    await setup.unsafe("ALTER SYSTEM SET auto_explain.log_min_duration = '10ms'");
    await setup.end();
    cluster.stop();
    cluster = await startPrivateCluster(clusterOptions);
    // Statements inside the ledger's SQL functions too, and the functions' own times (now that the module is loaded).
    const tracking = createSql(cluster.url, { max: 1 });
    await tracking.unsafe("ALTER SYSTEM SET pg_stat_statements.track = 'all'");
    await tracking.unsafe("ALTER SYSTEM SET track_functions = 'all'");
    await tracking.unsafe('SELECT pg_reload_conf()');
    await tracking.end();
  }
  const admin = createSql(cluster.url, { max: 1 });
  await admin.unsafe('CREATE DATABASE app');
  await admin.unsafe('CREATE DATABASE pgbench');
  await admin.end();
  const appUrl = cluster.url.replace(/\/postgres$/, '/app');
  await migrate(appUrl);
  const sql = createSql(appUrl, { max: 20 });

  // Any free port, retried elsewhere if a parallel start wins it; resolves once the frontend is healthy.
  const devServer: DevServer = await startDevServer({
    cli: await ensureTemporalCli(), port: 'any', uiPort: null, logFile: join(BENCH_DIR, 'temporal.log'),
  });
  log(`temporal: dev server (in memory) on ${devServer.address}`);
  const connection = await Connection.connect({ address: devServer.address });
  const temporal = new Client({ connection });

  const children = new Set<ChildProcess>();
  let stopping = false;
  const stopChild = (proc: ChildProcess) => new Promise<void>((resolve) => {
    children.delete(proc);
    if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
    proc.once('exit', () => resolve());
    proc.kill('SIGTERM');
  });
  const child: Stack['child'] = async (name, entry, env, nodeArgs = []) => {
    const logFile = createWriteStream(join(BENCH_DIR, `${name}.log`), { flags: 'w' });
    await new Promise((resolve) => logFile.once('open', resolve));
    const proc = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', entry], { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    // Both streams into one file, which is closed when the process exits (not when the first stream ends: the
    // other one's last lines would then be written after the end).
    proc.stdout!.pipe(logFile, { end: false });
    proc.stderr!.pipe(logFile, { end: false });
    proc.once('close', () => logFile.end());
    proc.on('exit', (code, signal) => {
      if (!stopping && children.has(proc)) log(`!! ${name} exited unexpectedly (${signal ?? code}); see .data/bench/${name}.log`);
    });
    children.add(proc);
    return proc;
  };

  const adminKey = `bench-operator-${randomBytes(12).toString('hex')}`;
  // LEDGER_BATCH_* from the bench's own environment reach the product (batched commits on/off, to compare).
  const batching = Object.fromEntries(Object.entries(process.env).filter(([name, value]) => name.startsWith('LEDGER_BATCH_') && value)) as Record<string, string>;
  const common = { DATABASE_URL: appUrl, TEMPORAL_ADDRESS: devServer.address, TEMPORAL_TASK_QUEUE: TASK_QUEUE, LOG_LEVEL: 'silent', ...batching };
  log('worker: worker/main.ts (bundles the workflows at start)');
  // BENCH_WORKER_MAX_CACHED_WORKFLOWS: the worker's sticky cache size (the SDK's default otherwise), to compare.
  const cache = process.env.BENCH_WORKER_MAX_CACHED_WORKFLOWS;
  // Chosen once the dev server listens: chosen earlier, the dev server (which picks its own port) could take it.
  const metricsPort = await freePort();
  const worker = await child('worker', 'worker/main.ts', {
    ...common, WORKER_METRICS_PORT: String(metricsPort), ...(cache ? { WORKER_MAX_CACHED_WORKFLOWS: cache } : {}),
  });
  const workerReady = new Promise<void>((resolve, reject) => {
    worker.stdout!.on('data', (chunk: Buffer) => { if (chunk.toString().includes('worker polling')) resolve(); });
    worker.once('exit', (code) => reject(new Error(`worker exited with ${code}; see .data/bench/worker.log`)));
  });
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  log(`api: api/main.ts on ${apiUrl}${options.profileDir ? ` (CPU profile into ${options.profileDir})` : ''}`);
  const profileArgs = options.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`] : [];
  const api = await child('api', 'api/main.ts', {
    ...common, ADMIN_API_KEY: adminKey, PORT: String(apiPort), PUBLIC_URL: apiUrl,
    // The bench measures the API, not its per-key limit: read peaks come from a few keys at thousands a second.
    RATE_LIMIT_PER_SECOND: '10000000', RATE_LIMIT_BURST: '10000000',
  }, profileArgs);
  // Minutes, not seconds: on a machine other programs keep busy, tsx takes that long to load the API.
  await waitForPort(apiPort, 240_000);
  await waitForHttp(`${apiUrl}/readyz`, 240_000);
  await workerReady;

  return {
    appUrl,
    pgbench: { host: '127.0.0.1', port: pgPort, db: 'pgbench' },
    sql,
    temporal,
    temporalAddress: devServer.address,
    apiUrl,
    adminKey,
    durable: options.durable,
    pids: {
      api: api.pid!, worker: worker.pid!, temporal: devServer.process.pid!,
      postmaster: Number(readFileSync(join(clusterOptions.dir, 'pgdata', 'postmaster.pid'), 'utf8').split('\n')[0]),
    },
    workerMetricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
    child,
    stopChild,
    async stop() {
      stopping = true;
      await Promise.all([...children].map(stopChild));
      await connection.close();
      await sql.end({ timeout: 5 });
      await devServer.stop();
      cluster.stop();
    },
  };
}
