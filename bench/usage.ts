/**
 * `npm run bench -- --only=usage`: GET /v1/usage (SPEC §11) for one workspace whose journal holds 1,000,000
 * entries, over HTTP, each group_by × a 30-day and a 365-day window: p50 / p99 of sequential requests. Target
 * p99 < 100 ms (issue 13). The first request folds the two years into the daily rollup (timed apart); the
 * same queries are then timed with migration 1732400000022's two indexes dropped (the rollup kept), so the
 * figure says what the indexes buy. See bench/README.md, "Usage queries".
 */
import { performance } from 'node:perf_hooks';
import { apiClient } from './http.js';
import { log } from './log.js';
import type { Stack } from './stack.js';

export const USAGE_JOURNAL_ENTRIES = 1_000_000;
const DAYS = 730; // the journal spans two years up to now
const CREATIONS = 423_700; // × 2.36 entries each (see load) ≈ 1,000,000 with the grants, expiries and adjustments
const MODELS = ['imagen-3', 'veo-2', 'kling-2', 'runway-gen4-turbo'];
const TARGET_P99_MS = 100;

export interface UsageCase {
  group_by: 'day' | 'model' | 'api_key';
  window_days: 30 | 365;
  requests: number;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  /** Creations and journal entries the window covers. */
  window_creations: number;
  window_entries: number;
}

export interface UsageFiguresOut {
  journal_entries: number;
  creations: number;
  load_seconds: number;
  /** The first GET /v1/usage after the load: it folds the workspace's two years into the daily rollup. */
  first_request_ms: number;
  with_indexes: UsageCase[];
  without_indexes: UsageCase[];
  worst_p99_ms: number;
  target_p99_ms: number;
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
const round = (n: number) => Math.round(n * 100) / 100;

/**
 * Loads one workspace with exactly USAGE_JOURNAL_ENTRIES journal entries over two years, as the spend path
 * writes them: per creation a hold, then a capture (succeeded, 90%) and a release of the rest (40% of those),
 * or a release (failed 7%, lapsed 3%); four models and 2% without one; five named keys and 1/6 without; a
 * monthly lot per 30 days with its grant and expiry; adjustments to the exact count. Bulk SQL (generate_series),
 * then VACUUM ANALYZE as autovacuum would after a load (index-only scans need the visibility map).
 */
async function load(stack: Stack, workspaceId: string): Promise<{ entries: number; creations: number }> {
  const { sql } = stack;
  await sql.begin(async (tx) => {
    await tx`CREATE TEMP TABLE bench_clock ON COMMIT DROP AS SELECT date_trunc('second', now()) - ${DAYS} * interval '1 day' AS t0`;
    await tx`
      INSERT INTO lots (workspace_id, source, granted, remaining, granted_at, expires_at, expired_at)
      SELECT ${workspaceId}, 'monthly', 20000, 0, t0 + m * interval '30 days', t0 + (m + 2) * interval '30 days',
        CASE WHEN t0 + (m + 2) * interval '30 days' < now() THEN t0 + (m + 2) * interval '30 days' END
      FROM bench_clock, generate_series(0, ${Math.floor(DAYS / 30)}) m`;
    await tx`
      INSERT INTO api_keys (key_hash, id, hint, workspace_id, name)
      SELECT md5(${workspaceId} || k), 'key_bench_' || k, 'b' || k, ${workspaceId}, 'tool-' || k FROM generate_series(1, 5) k`;
    await tx`
      CREATE TEMP TABLE bench_creations ON COMMIT DROP AS
      SELECT c, 'cr_bench_' || c AS id, 'qt_bench_' || c AS quote_id,
        CASE WHEN c % 100 < 7 THEN 'failed' WHEN c % 100 < 10 THEN 'expired' ELSE 'succeeded' END AS status,
        CASE WHEN c % 50 = 0 THEN NULL ELSE (${MODELS}::text[])[1 + c % 4] END AS model,
        CASE WHEN c % 6 = 0 THEN NULL ELSE 'key_bench_' || (c % 6) END AS api_key_id,
        2 + c % 19 AS quoted,
        t0 + (c::float8 / ${CREATIONS}) * ${DAYS} * interval '1 day' AS created_at,
        (SELECT array_agg(id ORDER BY granted_at) FROM lots WHERE workspace_id = ${workspaceId}) AS lot_ids
      FROM bench_clock, generate_series(0, ${CREATIONS - 1}) c`;
    await tx`
      INSERT INTO quotes (id, workspace_id, request, credits, created_at, expires_at)
      SELECT quote_id, ${workspaceId}, jsonb_build_object('model', coalesce(model, 'imagen-3')), quoted, created_at, created_at + interval '15 minutes'
      FROM bench_creations`;
    await tx`
      INSERT INTO creations (id, workspace_id, quote_id, status, quoted, reported, charged, variance, created_at, hold_expires_at, ended_at, model, api_key_id)
      SELECT id, ${workspaceId}, quote_id, status, quoted,
        CASE WHEN status = 'succeeded' THEN quoted - (c % 10 < 4)::int END,
        CASE WHEN status = 'succeeded' THEN quoted - (c % 10 < 4)::int ELSE 0 END, NULL,
        created_at, created_at + interval '1 hour',
        created_at + CASE WHEN status = 'expired' THEN interval '1 hour' ELSE interval '30 seconds' END,
        model, api_key_id
      FROM bench_creations`; // a creation's request is its quote's (creations.request was dropped in session 5's review)
    // hold; capture (succeeded); release of the rest (succeeded below the quote, failed, lapsed).
    await tx`
      INSERT INTO ledger_entries (workspace_id, kind, lot_id, remaining_delta, held_delta, amount, balance_after, at, operation_key)
      SELECT ${workspaceId}, e.kind, lot_ids[1 + floor(extract(epoch FROM created_at - (SELECT t0 FROM bench_clock)) / 2592000)::int],
        e.remaining_delta, e.held_delta, e.amount, 10000 - c % 5000, e.at, e.kind || ':' || id
      FROM bench_creations, LATERAL (VALUES
        ('hold', 0, quoted, -quoted, created_at, true),
        ('capture', -(quoted - (c % 10 < 4)::int), -(quoted - (c % 10 < 4)::int), -(quoted - (c % 10 < 4)::int),
          created_at + interval '30 seconds', status = 'succeeded'),
        ('release', 0, -CASE WHEN status = 'succeeded' THEN 1 ELSE quoted END, CASE WHEN status = 'succeeded' THEN 1 ELSE quoted END,
          created_at + CASE WHEN status = 'expired' THEN interval '1 hour' ELSE interval '30 seconds' END,
          status <> 'succeeded' OR c % 10 < 4)
      ) AS e(kind, remaining_delta, held_delta, amount, at, present)
      WHERE e.present`;
    await tx`
      INSERT INTO ledger_entries (workspace_id, kind, lot_id, remaining_delta, held_delta, amount, balance_after, at, operation_key)
      SELECT ${workspaceId}, 'grant', id, granted, 0, granted, 10000, granted_at, 'grant:' || id FROM lots WHERE workspace_id = ${workspaceId}
      UNION ALL
      SELECT ${workspaceId}, 'expire', id, -100, 0, -100, 10000, expired_at, 'expire:' || id FROM lots WHERE workspace_id = ${workspaceId} AND expired_at IS NOT NULL`;
    const [row] = await tx<{ count: number }[]>`SELECT count(*)::int AS count FROM ledger_entries WHERE workspace_id = ${workspaceId}`;
    const count = row!.count;
    const missing = USAGE_JOURNAL_ENTRIES - count;
    if (missing < 0) throw new Error(`the load wrote ${count} entries, more than ${USAGE_JOURNAL_ENTRIES}`);
    await tx`
      INSERT INTO ledger_entries (workspace_id, kind, lot_id, remaining_delta, held_delta, amount, balance_after, at, operation_key, reason)
      SELECT ${workspaceId}, 'adjust', (SELECT max(id) FROM lots WHERE workspace_id = ${workspaceId}), 1, 0, 1, 10000,
        t0 + (a::float8 / ${Math.max(1, missing)}) * ${DAYS} * interval '1 day', 'adjust:bench:' || a, 'bench'
      FROM bench_clock, generate_series(1, ${missing}) a`;
  });
  for (const table of ['ledger_entries', 'creations', 'quotes', 'lots', 'api_keys']) await sql.unsafe(`VACUUM (ANALYZE) ${table}`);
  const [counts] = await sql<{ entries: number; creations: number }[]>`
    SELECT (SELECT count(*)::int FROM ledger_entries WHERE workspace_id = ${workspaceId}) AS entries,
           (SELECT count(*)::int FROM creations WHERE workspace_id = ${workspaceId}) AS creations`;
  return counts!;
}

async function timeCase(stack: Stack, key: string, workspaceId: string, groupBy: UsageCase['group_by'], windowDays: UsageCase['window_days'], requests: number): Promise<UsageCase> {
  const to = new Date(Math.floor(Date.now() / 1000) * 1000);
  const from = new Date(to.getTime() - windowDays * 86_400_000);
  const url = `${stack.apiUrl}/v1/usage?from=${from.toISOString()}&to=${to.toISOString()}&group_by=${groupBy}`;
  const once = async () => {
    const started = performance.now();
    const res = await fetch(url, { headers: { authorization: `Bearer ${key}` } });
    const body = await res.json() as { totals: { creations: number } };
    if (res.status !== 200) throw new Error(`GET /v1/usage: ${res.status} ${JSON.stringify(body)}`);
    return { ms: performance.now() - started, body };
  };
  for (let i = 0; i < Math.min(10, requests); i++) await once(); // warm: plans, caches, connections
  const times: number[] = [];
  for (let i = 0; i < requests; i++) times.push((await once()).ms);
  times.sort((a, b) => a - b);
  const [sizes] = await stack.sql<{ window_creations: number; window_entries: number }[]>`
    SELECT (SELECT count(*)::int FROM creations WHERE workspace_id = ${workspaceId} AND ended_at >= ${from} AND ended_at < ${to}) AS window_creations,
           (SELECT count(*)::int FROM ledger_entries WHERE workspace_id = ${workspaceId} AND at >= ${from} AND at < ${to}) AS window_entries`;
  return {
    group_by: groupBy, window_days: windowDays, requests, p50_ms: round(quantile(times, 0.5)), p99_ms: round(quantile(times, 0.99)),
    max_ms: round(times[times.length - 1]!), ...sizes!,
  };
}

const INDEXES = {
  ledger_entries_by_time: 'CREATE INDEX ledger_entries_by_time ON ledger_entries(workspace_id, at, id) INCLUDE (kind, amount, remaining_delta, balance_after)',
  creations_by_end: 'CREATE INDEX creations_by_end ON creations(workspace_id, ended_at) INCLUDE (status, charged, model, api_key_id) WHERE status <> \'running\'',
};

/** The usage phase: load, then time every case with the indexes (`requests` each) and without them (fewer). */
export async function measureUsage(stack: Stack, opts: { requests: number; requestsWithoutIndexes: number }): Promise<UsageFiguresOut> {
  const operator = apiClient(stack.apiUrl, stack.adminKey);
  const ws = await operator.post<{ id: string; api_key: string }>('/v1/workspaces', { name: 'usage bench' });
  const started = performance.now();
  log(`usage: loading ${USAGE_JOURNAL_ENTRIES.toLocaleString('en')} journal entries into ${ws.id}`);
  const loaded = await load(stack, ws.id);
  const loadSeconds = round((performance.now() - started) / 1000);
  log(`usage: ${loaded.entries} entries, ${loaded.creations} creations in ${loadSeconds} s`);
  const firstStarted = performance.now();
  const first = await fetch(`${stack.apiUrl}/v1/usage?group_by=day`, { headers: { authorization: `Bearer ${ws.api_key}` } });
  if (first.status !== 200) throw new Error(`GET /v1/usage: ${first.status} ${await first.text()}`);
  await first.text();
  const firstRequestMs = round(performance.now() - firstStarted);
  log(`usage: the first request (folds two years into the rollup) took ${firstRequestMs} ms`);
  const cases = (['day', 'model', 'api_key'] as const).flatMap((g) => ([30, 365] as const).map((d) => [g, d] as const));
  const withIndexes: UsageCase[] = [];
  for (const [g, d] of cases) {
    const c = await timeCase(stack, ws.api_key, ws.id, g, d, opts.requests);
    log(`usage: group_by=${g} ${d} days: p50 ${c.p50_ms} ms, p99 ${c.p99_ms} ms (${c.window_entries} entries, ${c.window_creations} creations)`);
    withIndexes.push(c);
  }
  const withoutIndexes: UsageCase[] = [];
  if (opts.requestsWithoutIndexes > 0) {
    for (const name of Object.keys(INDEXES)) await stack.sql.unsafe(`DROP INDEX ${name}`);
    try {
      for (const [g, d] of cases) {
        const c = await timeCase(stack, ws.api_key, ws.id, g, d, opts.requestsWithoutIndexes);
        log(`usage without the indexes: group_by=${g} ${d} days: p50 ${c.p50_ms} ms, p99 ${c.p99_ms} ms`);
        withoutIndexes.push(c);
      }
    } finally {
      for (const ddl of Object.values(INDEXES)) await stack.sql.unsafe(ddl);
    }
  }
  const worst = Math.max(...withIndexes.map((c) => c.p99_ms));
  return {
    journal_entries: loaded.entries, creations: loaded.creations, load_seconds: loadSeconds, first_request_ms: firstRequestMs,
    with_indexes: withIndexes, without_indexes: withoutIndexes, worst_p99_ms: worst, target_p99_ms: TARGET_P99_MS,
  };
}
