/**
 * What one spend writes (`npx tsx bench/spend-writes.ts`): hold + capture through the ledger's own
 * holdForQuote and endCreation (the functions the routes call, with the workspace's API key as the HTTP path
 * passes it), on a private cluster of its own (.data/spend-writes, fsync off: bytes and rows do not depend
 * on it). Counts that do not depend on the machine's load, per spend:
 * - WAL: bytes (pg_current_wal_insert_lsn delta), records and full-page images (pg_stat_wal);
 * - rows written per table (pg_stat_user_tables: inserts, HOT and other updates, deletes);
 * - statements (pg_stat_statements, nested ones included): calls and rows per spend.
 * Quotes are made before the measured loop (as bench/spend.ts does); SPEND_WRITES_QUOTES=1 measures quote + hold
 * + capture instead. Autovacuum is off and checkpoints are pushed out, so no background work lands in the
 * window; a warm-up round first touches every page the loop will touch (no full-page images in the window).
 * SPEND_WRITES_N spends (default 2000) over SPEND_WRITES_WORKSPACES workspaces (default 20), 4 at a time.
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../dev/ports.js';
import { startPrivateCluster } from '../dev/postgres.js';
import { ensurePostgresBinDir } from '../dev/tools.js';
import { grantLot } from '../ledger/credits.js';
import { createSql, type Sql } from '../ledger/db.js';
import { migrate } from '../ledger/migrate.js';
import { createQuote, endCreation, holdForQuote } from '../ledger/spend.js';
import { createTestClock } from '../ledger/test-clocks.js';
import { createWorkspace, newId, workspaceAndKeyIdByKey } from '../ledger/workspaces.js';

const N = Number(process.env.SPEND_WRITES_N ?? 2000);
const WORKSPACES = Number(process.env.SPEND_WRITES_WORKSPACES ?? 20);
const WITH_QUOTES = process.env.SPEND_WRITES_QUOTES === '1';
const REQUEST = { model: 'imagen-3', count: 1, resolution: 'standard' as const };
const CREDITS = 2;

interface Lane { ws: string; keyId: string }

async function spend(sql: Sql, lane: Lane, quoteId?: string): Promise<void> {
  const quote = quoteId ?? (await createQuote(sql, lane.ws, REQUEST, CREDITS)).quote_id;
  const { creation } = await holdForQuote(sql, lane.ws, quote, { apiKeyId: lane.keyId });
  await endCreation(sql, lane.ws, creation.id, { status: 'succeeded', reported: CREDITS });
}

/** `count` spends round-robin over the lanes, 4 at a time; quotes made first unless WITH_QUOTES. */
async function run(db: () => Sql, lanes: Lane[], count: number, measured: () => Promise<void>): Promise<number> {
  const work = Array.from({ length: count }, (_, i) => lanes[i % lanes.length]!);
  const quotes = WITH_QUOTES ? [] : await Promise.all(work.map((lane) => createQuote(db(), lane.ws, REQUEST, CREDITS).then((q) => q.quote_id)));
  await measured();
  const started = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: 4 }, async () => {
    while (next < work.length) {
      const i = next++;
      await spend(db(), work[i]!, quotes[i]);
    }
  }));
  return performance.now() - started;
}

const dir = join(process.cwd(), '.data', 'spend-writes');
rmSync(dir, { recursive: true, force: true });
const options = { dir, port: await freePort(), durable: false };
let cluster = await startPrivateCluster(options);
const setup = createSql(cluster.url, { max: 1 });
await setup.unsafe("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'");
await setup.unsafe('ALTER SYSTEM SET autovacuum = off');
await setup.unsafe("ALTER SYSTEM SET checkpoint_timeout = '1h'");
await setup.unsafe("ALTER SYSTEM SET max_wal_size = '10GB'");
await setup.unsafe('ALTER SYSTEM SET full_page_writes = on');
await setup.unsafe('CREATE DATABASE app');
await setup.end();
cluster.stop();
cluster = await startPrivateCluster(options);
const tracking = createSql(cluster.url, { max: 1 });
await tracking.unsafe("ALTER SYSTEM SET pg_stat_statements.track = 'all'"); // known once the module is loaded
await tracking.unsafe('SELECT pg_reload_conf()');
await tracking.end();
const url = cluster.url.replace(/\/postgres$/, '/app');
try {
  await migrate(url);
  const admin = createSql(url, { max: 1 });
  await admin.unsafe('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  let sql = createSql(url); // the API's pool size
  const clock = await createTestClock(sql, new Date('2026-03-10T12:00:00Z'));
  const lanes: Lane[] = [];
  for (let i = 0; i < WORKSPACES; i++) {
    const { id: ws, apiKey } = await createWorkspace(sql, { name: `writes ${i}`, testClockId: clock.id });
    // A live plan: a pack's credits are spendable only while one is (otherwise frozen).
    await sql`INSERT INTO subscriptions (id, workspace_id, plan, interval, status, current_period_start, current_period_end)
              VALUES (${newId('sub')}, ${ws}, 'team', 'month', 'active', '2026-03-01T00:00:00Z', '2026-03-31T00:00:00Z')`;
    await grantLot(sql, { key: `${ws}:grant`, workspaceId: ws, source: 'pack', amount: 10_000_000, grantedAt: new Date('2026-03-10T00:00:00Z'), expiresAt: null });
    lanes.push({ ws, keyId: (await workspaceAndKeyIdByKey(sql, apiKey))!.keyId });
  }
  await run(() => sql, lanes, Math.max(200, WORKSPACES * 10), async () => {}); // warm-up: every page touched once

  type Tables = Map<string, { ins: number; upd: number; hot: number; del: number }>;
  const tables = async (): Promise<Tables> => new Map((await admin<{ relname: string; ins: number; upd: number; hot: number; del: number }[]>`
    SELECT relname, n_tup_ins::int AS ins, n_tup_upd::int AS upd, n_tup_hot_upd::int AS hot, n_tup_del::int AS del
    FROM pg_stat_user_tables`).map((r) => [r.relname, r]));
  const wal = async () => (await admin<{ lsn: string; records: number; fpi: number }[]>`
    SELECT pg_current_wal_insert_lsn()::text AS lsn, wal_records::float AS records, wal_fpi::float AS fpi FROM pg_stat_wal`)[0]!;
  // Each backend flushes its table and WAL counters when it closes: a fresh pool around the measured loop.
  await sql.end();
  sql = createSql(url);
  let before!: { tables: Tables; wal: Awaited<ReturnType<typeof wal>> };
  const ms = await run(() => sql, lanes, N, async () => {
    await sql.end();
    sql = createSql(url);
    await admin`SELECT pg_stat_statements_reset()`;
    await admin`SELECT pg_stat_force_next_flush()`;
    before = { tables: await tables(), wal: await wal() };
  });
  await sql.end();
  await new Promise((resolve) => setTimeout(resolve, 1500)); // the backends' exit flushes reach the stats
  const after = { tables: await tables(), wal: await wal() };
  const [bytes] = await admin<{ bytes: number }[]>`SELECT pg_wal_lsn_diff(${after.wal.lsn}, ${before.wal.lsn})::float AS bytes`;
  const per = (x: number) => Math.round((x / N) * 100) / 100;
  console.log(`spends: ${N} over ${WORKSPACES} workspaces${WITH_QUOTES ? ' (each with its quote)' : ' (quotes made before)'}; ${(ms / N).toFixed(2)} ms each (wall, not a load-independent figure)`);
  console.log(`WAL per spend: ${per(bytes!.bytes)} bytes, ${per(after.wal.records - before.wal.records)} records, ${per(after.wal.fpi - before.wal.fpi)} full-page images`);
  // Which records: pg_waldump's statistics over the window, per record type, divided by the spends.
  const dump = spawnSync(join(await ensurePostgresBinDir(), 'pg_waldump'),
    ['--stats=record', '-p', join(dir, 'pgdata', 'pg_wal'), '-s', before.wal.lsn, '-e', after.wal.lsn], { encoding: 'utf8' });
  const recordLines = dump.stdout.split('\n')
    .map((line) => /^(\S+\/\S+)\s+(\d+)\s+\(\s*[\d.]+\)\s+\d+\s+\(\s*[\d.]+\)\s+\d+\s+\(\s*[\d.]+\)\s+(\d+)/.exec(line))
    .filter((m) => m !== null).map((m) => ({ type: m[1]!, count: Number(m[2]), bytes: Number(m[3]) }))
    .filter((r) => r.count >= N / 10).sort((a, b) => b.bytes - a.bytes);
  console.log('WAL records per spend by type (pg_waldump --stats=record; records, bytes):');
  for (const r of recordLines) console.log(`  ${r.type.padEnd(34)} ${per(r.count).toFixed(2).padStart(6)} ${per(r.bytes).toFixed(0).padStart(6)}`);
  console.log('rows per spend (inserted / updated, of which HOT / deleted):');
  for (const [name, a] of [...after.tables].sort()) {
    const b = before.tables.get(name) ?? { ins: 0, upd: 0, hot: 0, del: 0 };
    const d = { ins: a.ins - b.ins, upd: a.upd - b.upd, hot: a.hot - b.hot, del: a.del - b.del };
    if (d.ins + d.upd + d.del === 0) continue;
    console.log(`  ${name.padEnd(28)} ${per(d.ins)} / ${per(d.upd)} (${per(d.hot)} HOT) / ${per(d.del)}`);
    // An insert and an update that is not HOT add an entry to each index (a partial one when the row qualifies).
    const indexes = await admin<{ indexname: string; indexdef: string }[]>`SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ${name} ORDER BY indexname`;
    for (const index of indexes) console.log(`      ${index.indexdef.replace(/^CREATE (UNIQUE )?INDEX \S+ ON public\.\S+ USING btree /, `${index.indexname} $1`)}`);
  }
  const statements = await admin<{ calls: number; rows: number; query: string }[]>`
    SELECT s.calls::int, s.rows::int, regexp_replace(s.query, '\\s+', ' ', 'g') AS query
    FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
    WHERE d.datname = 'app' AND s.query NOT LIKE '%pg_stat%' AND s.calls >= ${N / 2} ORDER BY s.calls DESC, s.query`;
  const total = statements.reduce((sum, s) => sum + s.calls, 0);
  console.log(`statements per spend (nested included): ${per(total)} calls, ${per(statements.reduce((sum, s) => sum + s.rows, 0))} rows`);
  for (const s of statements) console.log(`  ${per(s.calls).toFixed(2).padStart(5)} calls ${per(s.rows).toFixed(2).padStart(5)} rows  ${s.query.slice(0, 150)}`);
  await admin.end();
} finally {
  cluster.stop();
}
