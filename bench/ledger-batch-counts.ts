/**
 * What batched ledger commits save per spend (`npx tsx bench/ledger-batch-counts.ts`, issue 15): hold + capture
 * through holdForQuote and endCreation (the functions the routes call) on a private DURABLE cluster of its own
 * (.data/ledger-batch-counts), once per batch policy: batching off (LEDGER_BATCH_MAX_ITEMS=1, one transaction per
 * call as before) and the default (1 ms, 64, 8 calls out). Per spend, figures that do not depend on the machine's
 * load first: commits (pg_stat_database xact_commit), WAL flushes (pg_stat_wal wal_sync), top-level statements
 * (= round trips, pg_stat_statements track=top), WAL bytes, Postgres CPU ms (/proc, all of the cluster's
 * processes), items per batch call; then spends/s and ms per spend (wall: depends on the load).
 * Then the cost of a savepoint per item: ledger_batch(…, isolate) with and without, on batches of 32 holds.
 * Env: BATCH_COUNTS_N spends per run (default 3000), BATCH_COUNTS_CLIENTS (default 32), BATCH_COUNTS_WORKSPACES (20),
 * BATCH_COUNTS_WINDOW_MS and BATCH_COUNTS_IN_FLIGHT (the batched runs' window and calls out; default 1 and 8, the product's).
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../dev/ports.js';
import { startPrivateCluster } from '../dev/postgres.js';
import { configureLedgerBatching, ledgerBatchStats } from '../ledger/batching.js';
import type { BatchPolicy } from '../ledger/commit-batcher.js';
import { grantLot } from '../ledger/credits.js';
import { createSql, type Sql } from '../ledger/db.js';
import { migrate } from '../ledger/migrate.js';
import { createQuote, endCreation, holdForQuote } from '../ledger/spend.js';
import { createTestClock } from '../ledger/test-clocks.js';
import { createWorkspace, newId } from '../ledger/workspaces.js';
import { clusterCpuMs, foreignShare, mark } from './cpu.js';

const N = Number(process.env.BATCH_COUNTS_N ?? 3000);
const CLIENTS = Number(process.env.BATCH_COUNTS_CLIENTS ?? 32);
const WORKSPACES = Number(process.env.BATCH_COUNTS_WORKSPACES ?? 20);
const REQUEST = { model: 'imagen-3', count: 1, resolution: 'standard' as const };
const CREDITS = 2;
/** The batched runs' policy (BATCH_COUNTS_WINDOW_MS, BATCH_COUNTS_IN_FLIGHT; defaults: the product's). */
const BATCHED = { windowMs: Number(process.env.BATCH_COUNTS_WINDOW_MS ?? 1), maxItems: 64, maxInFlight: Number(process.env.BATCH_COUNTS_IN_FLIGHT ?? 8) };

const dir = join(process.cwd(), '.data', 'ledger-batch-counts');
rmSync(dir, { recursive: true, force: true });
const options = { dir, port: await freePort(), durable: true };
let cluster = await startPrivateCluster(options);
const setup = createSql(cluster.url, { max: 1 });
await setup.unsafe("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'");
await setup.unsafe('CREATE DATABASE app');
await setup.end();
cluster.stop();
cluster = await startPrivateCluster(options);
const postmaster = () => Number(readFileSync(join(dir, 'pgdata', 'postmaster.pid'), 'utf8').split('\n')[0]);
const url = cluster.url.replace(/\/postgres$/, '/app');

try {
  await migrate(url);
  const admin = createSql(url, { max: 1 });
  await admin.unsafe('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  const seed = createSql(url);
  const clock = await createTestClock(seed, new Date('2026-03-10T12:00:00Z'));
  const workspaces: string[] = [];
  for (let i = 0; i < WORKSPACES; i++) {
    const { id: ws } = await createWorkspace(seed, { name: `batch ${i}`, testClockId: clock.id });
    await seed`INSERT INTO subscriptions (id, workspace_id, plan, interval, status, current_period_start, current_period_end)
               VALUES (${newId('sub')}, ${ws}, 'team', 'month', 'active', '2026-03-01T00:00:00Z', '2026-03-31T00:00:00Z')`;
    await grantLot(seed, { key: `${ws}:grant`, workspaceId: ws, source: 'pack', amount: 100_000_000, grantedAt: new Date('2026-03-10T00:00:00Z'), expiresAt: null });
    workspaces.push(ws);
  }

  const counters = async () => (await admin<{ commits: number; syncs: number; lsn: string; statements: number }[]>`
    SELECT (SELECT xact_commit::float FROM pg_stat_database WHERE datname = 'app') AS commits,
           (SELECT wal_sync::float FROM pg_stat_wal) AS syncs, pg_current_wal_insert_lsn()::text AS lsn,
           (SELECT coalesce(sum(calls), 0)::float FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
            WHERE d.datname = 'app' AND s.query NOT LIKE '%pg_stat%' AND s.query NOT LIKE '%pg_current_wal%') AS statements`)[0]!;

  /** N spends by CLIENTS clients round-robin over the workspaces, quotes made first; the pool is the API's (10). */
  async function measure(label: string, policy: Partial<BatchPolicy>) {
    const sql: Sql = createSql(url);
    await configureLedgerBatching(sql, policy);
    const quotes = await Promise.all(Array.from({ length: N + CLIENTS * 5 }, (_, i) =>
      createQuote(seed, workspaces[i % WORKSPACES]!, REQUEST, CREDITS).then((q) => ({ ws: workspaces[i % WORKSPACES]!, id: q.quote_id }))));
    let next = 0;
    const spendAll = (count: number) => Promise.all(Array.from({ length: CLIENTS }, async () => {
      while (next < count) {
        const q = quotes[next++]!;
        const { creation } = await holdForQuote(sql, q.ws, q.id);
        await endCreation(sql, q.ws, creation.id, { status: 'succeeded', reported: CREDITS });
      }
    }));
    await spendAll(CLIENTS * 5); // warm-up: connections open, plans cached
    const calls0 = ledgerBatchStats(sql).spend ?? { calls: 0, items: 0 };
    await admin`SELECT pg_stat_statements_reset()`;
    await admin`SELECT pg_stat_force_next_flush()`;
    const before = await counters();
    const cpu0 = clusterCpuMs(postmaster());
    const mark0 = mark(cpu0 + process.cpuUsage().user / 1000 + process.cpuUsage().system / 1000);
    const started = performance.now();
    next = CLIENTS * 5;
    await spendAll(CLIENTS * 5 + N);
    const ms = performance.now() - started;
    const cpu1 = clusterCpuMs(postmaster());
    const mark1 = mark(cpu1 + process.cpuUsage().user / 1000 + process.cpuUsage().system / 1000);
    await admin`SELECT pg_stat_force_next_flush()`;
    await sql.end(); // backends flush their counters as they close
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const after = await counters();
    const [wal] = await admin<{ bytes: number }[]>`SELECT pg_wal_lsn_diff(${after.lsn}, ${before.lsn})::float AS bytes`;
    const calls1 = ledgerBatchStats(sql).spend ?? { calls: 0, items: 0 };
    const per = (x: number) => (x / N).toFixed(3);
    const batchCalls = calls1.calls - calls0.calls;
    console.log(`${label}: ${N} spends, ${CLIENTS} clients, ${WORKSPACES} workspaces`);
    console.log(`  per spend: ${per(after.commits - before.commits)} commits, ${per(after.syncs - before.syncs)} WAL flushes, `
      + `${per(after.statements - before.statements)} statements (round trips), ${per(wal!.bytes)} WAL bytes, `
      + `${per(cpu1 - cpu0)} ms Postgres CPU`);
    console.log(`  batches: ${batchCalls ? ((calls1.items - calls0.items) / batchCalls).toFixed(1) : '-'} items per call; `
      + `wall: ${((N * 1000) / ms).toFixed(0)} spends/s, ${((ms * CLIENTS) / N).toFixed(2)} ms per spend per client `
      + `(machine load by others: ${foreignShare(mark0, mark1, 2)} of 2 cores)`);
  }

  await measure('unbatched (LEDGER_BATCH_MAX_ITEMS=1)', { maxItems: 1 });
  await measure(`batched (${BATCHED.windowMs} ms, 64, ${BATCHED.maxInFlight} out)`, BATCHED);
  await measure('unbatched again', { maxItems: 1 });
  await measure('batched again', BATCHED);

  // The savepoint's price: the same batches of 32 holds, with and without a subtransaction per item.
  const thresholds = {};
  for (const isolate of [false, true, false, true]) {
    const batches = 40;
    const items = [];
    for (let b = 0; b < batches; b++) {
      const batch = [];
      for (let i = 0; i < 32; i++) {
        const ws = workspaces[i % WORKSPACES]!;
        const q = await createQuote(seed, ws, REQUEST, CREDITS);
        batch.push({ op: 'hold', ws, quote: q.quote_id, creation: newId('cr'), hold_ttl_ms: 3_600_000, api_key: null, external_id: null, metadata: {} });
      }
      items.push(batch);
    }
    const cpu0 = clusterCpuMs(postmaster());
    const t0 = performance.now();
    for (const batch of items) await seed`SELECT ledger_batch(${seed.json(batch as never)}, ${seed.json(thresholds)}, ${isolate}) AS answers`;
    const ms = performance.now() - t0;
    console.log(`ledger_batch of 32 holds, isolate=${isolate}: ${((cpu1Of(cpu0)) / (batches * 32)).toFixed(3)} ms Postgres CPU per item, `
      + `${(ms / batches).toFixed(2)} ms per call (wall)`);
  }
  function cpu1Of(cpu0: number) { return clusterCpuMs(postmaster()) - cpu0; }
  await seed.end();
  await admin.end();
} finally {
  cluster.stop();
}
