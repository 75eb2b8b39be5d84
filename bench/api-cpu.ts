/**
 * CPU per request of the API (`npx tsx bench/api-cpu.ts`): GET /v1/credits through the whole app (createApp:
 * every middleware, authentication from the key cache, the route, the balance query, JSON) against a bare Hono
 * app doing one `SELECT 1` through postgres.js (bench/floor-server.ts's one-query handler), both served over
 * HTTP by @hono/node-server in this process and loaded by autocannon from a child process. This process's CPU
 * (user + system) per request over API_CPU_N requests (default 20000), API_CPU_CONCURRENCY connections (default
 * 16), after a warm-up; the median of API_CPU_ROUNDS alternated rounds (default 5). CPU time per request depends
 * little on what else runs on the machine, unlike requests a second.
 * A private cluster under .data/api-cpu (fsync off). The Temporal client is a stand-in nothing calls: the
 * balance route does not use it (but the real one's AsyncLocalStorage is switched on, see below).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { freePort } from '../dev/ports.js';
import { startPrivateCluster } from '../dev/postgres.js';
import { grantLot } from '../ledger/credits.js';
import { createSql } from '../ledger/db.js';
import { migrate } from '../ledger/migrate.js';
import { createTestClock } from '../ledger/test-clocks.js';
import { createWorkspace, newId } from '../ledger/workspaces.js';
import { createApp } from '../api/app.js';
import { createPayments } from '../payments/factory.js';
import { loadConfig } from '../runtime/config.js';

const N = Number(process.env.API_CPU_N ?? 20_000);
const CONCURRENCY = Number(process.env.API_CPU_CONCURRENCY ?? 16);
const ROUNDS = Number(process.env.API_CPU_ROUNDS ?? 5);

const dir = join(process.cwd(), '.data', 'api-cpu');
rmSync(dir, { recursive: true, force: true });
const cluster = await startPrivateCluster({ dir, port: await freePort(), durable: false });
try {
  const admin = createSql(cluster.url, { max: 1 });
  await admin.unsafe('CREATE DATABASE app');
  await admin.end();
  const url = cluster.url.replace(/\/postgres$/, '/app');
  await migrate(url);
  const sql = createSql(url); // the API's pool size
  // The API's Temporal client (Connection.connect) runs an AsyncLocalStorage, which in Node 20 installs promise hooks for
  // the whole process: every promise of every request pays for them (+10-20% CPU per balance read here). The
  // stand-in client below never connects, so one is switched on as the real one is (API_CPU_ALS=0: without).
  if (process.env.API_CPU_ALS !== '0') new AsyncLocalStorage().run({}, () => undefined);
  const clock = await createTestClock(sql, new Date('2026-03-10T12:00:00Z'));
  const keys: string[] = [];
  for (let i = 0; i < 20; i++) {
    const { id: ws, apiKey } = await createWorkspace(sql, { name: `cpu ${i}`, testClockId: clock.id });
    await sql`INSERT INTO subscriptions (id, workspace_id, plan, interval, status, current_period_start, current_period_end)
              VALUES (${newId('sub')}, ${ws}, 'team', 'month', 'active', '2026-03-01T00:00:00Z', '2026-03-31T00:00:00Z')`;
    await grantLot(sql, { key: `${ws}:monthly`, workspaceId: ws, source: 'monthly', amount: 6000, grantedAt: new Date('2026-03-01T00:00:00Z'), expiresAt: new Date('2026-04-30T00:00:00Z') });
    await grantLot(sql, { key: `${ws}:pack`, workspaceId: ws, source: 'pack', amount: 1000, grantedAt: new Date('2026-03-02T00:00:00Z'), expiresAt: null });
    keys.push(apiKey);
  }
  const config = loadConfig({ DATABASE_URL: url, ADMIN_API_KEY: 'api-cpu-operator-key-0123456789', PAYMENTS: 'sandbox' });
  const payments = createPayments(config, sql, () => 'api-cpu-sandbox-secret');
  const app = createApp({
    sql, temporal: {} as Client, taskQueue: 'subscriptions', adminApiKey: config.ADMIN_API_KEY!, publicUrl: 'http://127.0.0.1:1',
    payments: payments.provider, webhookSecret: payments.webhookSecret, sandbox: payments.sandbox,
    rateLimit: { perSecond: 1e9, burst: 1e9 },
  });
  const floor = new Hono();
  floor.get('/one-query/v1/credits', async (c) => {
    const [row] = await sql<{ one: number }[]>`SELECT 1 AS one`;
    return c.json({ available: row!.one, held: 0, lots: [] });
  });

  // Both served by @hono/node-server as api/main.ts and bench/floor-server.ts serve them; the load comes from
  // autocannon in a child process, so this process's CPU is the server's alone.
  const apiServer = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
  const floorServer = serve({ fetch: floor.fetch, port: 0, hostname: '127.0.0.1' });
  await Promise.all([apiServer, floorServer].map((server) => new Promise((resolve) => server.once('listening', resolve))));
  const portOf = (server: typeof apiServer) => (server.address() as AddressInfo).port;
  const drive = async (url: string, count: number): Promise<number> => {
    const started = process.cpuUsage();
    const load = spawn(join(process.cwd(), 'node_modules', '.bin', 'autocannon'),
      ['-c', String(CONCURRENCY), '-a', String(count), '-H', `authorization=Bearer ${keys[0]}`, '-j', url], { stdio: ['ignore', 'pipe', 'ignore'] });
    let output = '';
    load.stdout.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    await new Promise((resolve) => load.once('exit', resolve));
    const used = process.cpuUsage(started);
    const result = JSON.parse(output) as { non2xx: number; errors: number; requests: { total: number } };
    if (result.non2xx > 0 || result.errors > 0) throw new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors`);
    return (used.user + used.system) / result.requests.total; // µs per request
  };
  const api = `http://127.0.0.1:${portOf(apiServer)}/v1/credits`;
  const bare = `http://127.0.0.1:${portOf(floorServer)}/one-query/v1/credits`;
  await drive(api, 2000);
  await drive(bare, 2000);
  const results: { api: number; floor: number }[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    results.push({ api: await drive(api, N), floor: await drive(bare, N) });
  }
  const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const [apiUs, floorUs] = [median(results.map((r) => r.api)), median(results.map((r) => r.floor))];
  console.log(`rounds (µs CPU per request, api / one-query floor): ${results.map((r) => `${r.api.toFixed(1)} / ${r.floor.toFixed(1)}`).join(', ')}`);
  // The ratio of each round (both sides measured back to back) moves less with foreign load than either figure.
  const ratio = median(results.map((r) => r.api / r.floor));
  console.log(`median: GET /v1/credits ${apiUs.toFixed(1)} µs, one-query floor ${floorUs.toFixed(1)} µs; median ratio of a round ×${ratio.toFixed(2)}; the server process only, Postgres not counted`);
  apiServer.close();
  floorServer.close();
  await sql.end();
} finally {
  cluster.stop();
}
