/**
 * Bytes of Postgres the product writes: per subscription-year (a cohort of monthly subscriptions on one test
 * clock, subscribed and advanced a month at a time for a year, as the history phase does with one) and per
 * million spends (quote + hold + capture over HTTP, N of them, scaled up). Each is the growth of the app's
 * tables (heap, TOAST and indexes, `pg_total_relation_size`) and of the WAL between two snapshots, with the
 * rows inserted and updated per table (`pg_stat_user_tables`), divided by the units of work.
 */
import { apiClient, subscribedWorkspace } from './http.js';
import { log, pool, sleep } from './log.js';
import type { Stack } from './stack.js';
import { advanceClock, clockReady, quiesce, subscribeOnClock } from './storm.js';

const DAY = 86_400_000;

/** One image at standard resolution, as the spend phase: 2 credits a spend. */
const QUOTE_REQUEST = { model: 'imagen-3', resolution: 'standard', count: 1 } as const;

/** Growth of one table: bytes per unit (or per million spends; all of it, and the part in its indexes), rows written per unit. */
export interface TableGrowth {
  bytes: number;
  index_bytes: number;
  rows_inserted: number;
  rows_updated: number;
}

export interface StorageGrowth {
  /** Units of work measured (subscriptions for a year, or spends). */
  units: number;
  /** Bytes of the app's tables (heap + TOAST + indexes) per unit, or per million units for spends. */
  bytes: number;
  /** WAL bytes per unit (or per million), the whole cluster's. */
  wal_bytes: number;
  by_table: Record<string, TableGrowth>;
}

export interface StorageFigures {
  /** Per subscription-year: subscribe (first invoice and lot) and 12 monthly renewals, 13 clock advances. */
  subscription_year: StorageGrowth & { advances: number; of_which_start_bytes: number };
  /** Per million spends (POST /v1/credits/estimate + POST /v1/creations + complete), extrapolated from `units`. */
  million_spends: StorageGrowth;
}

interface Snapshot {
  wal: string;
  tables: Map<string, { bytes: number; index_bytes: number; inserted: number; updated: number }>;
}

/**
 * The app's tables (public schema, without the migrations' own) and the WAL position. Backends report their
 * row counters to the statistics system at most once a second, or after 10 s idle (Postgres 15): wait that
 * long after the work so every counter is in.
 */
async function snapshot(stack: Stack): Promise<Snapshot> {
  await sleep(11_000);
  const rows = await stack.sql<{ table: string; bytes: string; index_bytes: string; inserted: string; updated: string }[]>`
    SELECT c.relname AS table, pg_total_relation_size(c.oid) AS bytes, pg_indexes_size(c.oid) AS index_bytes,
           coalesce(s.n_tup_ins, 0) AS inserted, coalesce(s.n_tup_upd, 0) AS updated
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname <> 'pgmigrations'`;
  const [position] = await stack.sql<{ wal: string }[]>`SELECT pg_current_wal_lsn()::text AS wal`;
  return {
    wal: position!.wal,
    tables: new Map(rows.map((r) => [r.table, {
      bytes: Number(r.bytes), index_bytes: Number(r.index_bytes), inserted: Number(r.inserted), updated: Number(r.updated),
    }])),
  };
}

/** Growth between two snapshots, times `scale / units` (scale 1: per unit; 1e6: per million). */
async function growth(stack: Stack, a: Snapshot, b: Snapshot, units: number, scale = 1): Promise<StorageGrowth> {
  const per = (x: number) => Math.round((x * scale) / units);
  const [diff] = await stack.sql<{ wal: string }[]>`SELECT pg_wal_lsn_diff(${b.wal}::pg_lsn, ${a.wal}::pg_lsn)::bigint AS wal`;
  const by_table: Record<string, TableGrowth> = {};
  let bytes = 0;
  for (const [table, after] of [...b.tables].sort(([x], [y]) => x.localeCompare(y))) {
    const before = a.tables.get(table) ?? { bytes: 0, index_bytes: 0, inserted: 0, updated: 0 };
    const d = { bytes: after.bytes - before.bytes, index_bytes: after.index_bytes - before.index_bytes,
      inserted: after.inserted - before.inserted, updated: after.updated - before.updated };
    bytes += d.bytes;
    if (d.bytes === 0 && d.inserted === 0 && d.updated === 0) continue;
    by_table[table] = {
      bytes: per(d.bytes), index_bytes: per(d.index_bytes),
      // Rows per single unit, with two decimals (a spend writes some rows only now and then).
      rows_inserted: Math.round((d.inserted * 100) / units) / 100,
      rows_updated: Math.round((d.updated * 100) / units) / 100,
    };
  }
  return { units, bytes: per(bytes), wal_bytes: per(Number(diff!.wal)), by_table };
}

/**
 * `subscriptions` workspaces with `pm_card_visa`, each subscribed to Plus monthly through startSubscription (the
 * function behind POST /v1/subscription) on one test clock, then the clock advanced 30 days at a time to one
 * year after the start (13 advances, as the history phase), every webhook event delivered and forwarded.
 */
async function subscriptionYear(stack: Stack, subscriptions: number): Promise<StorageFigures['subscription_year']> {
  const operator = apiClient(stack.apiUrl, stack.adminKey);
  const start = Date.parse('2026-01-01T00:00:00Z');
  const clock = await operator.post<{ id: string }>('/v1/test-clocks', { frozen_time: new Date(start).toISOString() });
  const s0 = await snapshot(stack);
  log(`storage: ${subscriptions} Plus monthly subscriptions on one test clock`);
  await pool(Array.from({ length: subscriptions }, (_, i) => i), 16, (i) => subscribeOnClock(stack, clock.id, `storage ${i}`));
  await clockReady(operator, clock.id, 300_000);
  await quiesce(stack);
  const s1 = await snapshot(stack);
  const yearLater = new Date(start);
  yearLater.setUTCFullYear(yearLater.getUTCFullYear() + 1);
  let advances = 0;
  for (let t = start + 30 * DAY; ; t = Math.min(t + 30 * DAY, yearLater.getTime())) {
    await advanceClock(operator, clock.id, new Date(t).toISOString());
    await clockReady(operator, clock.id, 900_000);
    advances += 1;
    log(`storage: advance ${advances} to ${new Date(t).toISOString().slice(0, 10)} done`);
    if (t >= yearLater.getTime()) break;
  }
  await quiesce(stack);
  const [paid] = await stack.sql<{ invoices: number }[]>`
    SELECT count(*)::int AS invoices FROM invoices i JOIN workspaces w ON w.id = i.workspace_id
    WHERE w.test_clock_id = ${clock.id} AND i.status = 'paid'`;
  // Subscribed 1 January: paid at the start and on the first of each month to the next 1 January.
  if (paid!.invoices !== subscriptions * 13) throw new Error(`storage: ${paid!.invoices} paid invoices, expected ${subscriptions * 13}`);
  const s2 = await snapshot(stack);
  const year = await growth(stack, s0, s2, subscriptions);
  const startOnly = await growth(stack, s0, s1, subscriptions);
  log(`storage: ${year.bytes} bytes and ${year.wal_bytes} WAL bytes per subscription-year (${startOnly.bytes} of them at the start)`);
  return { ...year, advances, of_which_start_bytes: startOnly.bytes };
}

/**
 * `spends` spends over HTTP, each a quote, a hold and a capture of 2 credits, in `lanes` Team workspaces
 * (6,000 credits each) on a clock that never moves, one lane per workspace (one open quote at a time).
 */
async function millionSpends(stack: Stack, spends: number, lanes = 20): Promise<StorageFigures['million_spends']> {
  const operator = apiClient(stack.apiUrl, stack.adminKey);
  const clock = await operator.post<{ id: string }>('/v1/test-clocks', { frozen_time: '2026-01-01T00:00:00Z' });
  const perLane = Math.ceil(spends / lanes);
  if (perLane * 2 > 6000) throw new Error(`storage: ${perLane} spends of 2 credits exceed a Team workspace's 6,000 credits`);
  const workspaces = await pool(Array.from({ length: lanes }, (_, i) => i), 8, (i) =>
    subscribedWorkspace(operator, stack.apiUrl, { name: `storage spend ${i}`, clockId: clock.id, plan: 'team' }));
  await quiesce(stack);
  const s0 = await snapshot(stack);
  log(`storage: ${perLane * lanes} spends (quote, hold, capture) over HTTP in ${lanes} workspaces`);
  let done = 0;
  await Promise.all(workspaces.map(async (ws) => {
    const api = apiClient(stack.apiUrl, ws.key);
    // A request on a kept-alive socket the API closed at that moment ("other side closed") never reached it: again.
    const again = async <T>(call: () => Promise<T>): Promise<T> => {
      for (let attempt = 0; ; attempt++) {
        try {
          return await call();
        } catch (error) {
          if (attempt >= 3 || !String(error).includes('fetch failed')) throw error;
        }
      }
    };
    const customer = { post: <T>(path: string, body: unknown) => again(() => api.post<T>(path, body)) };
    for (let k = 0; k < perLane; k++) {
      const quote = await customer.post<{ quote_id: string; credits: number }>('/v1/credits/estimate', QUOTE_REQUEST);
      const creation = await customer.post<{ id: string }>('/v1/creations', { quote_id: quote.quote_id });
      await customer.post(`/v1/creations/${creation.id}/complete`, { credits: quote.credits });
      if (++done % 2000 === 0) log(`storage: ${done} spends`);
    }
  }));
  await quiesce(stack);
  const s1 = await snapshot(stack);
  const figures = await growth(stack, s0, s1, done, 1_000_000);
  log(`storage: ${figures.bytes} bytes and ${figures.wal_bytes} WAL bytes per million spends`);
  return figures;
}

/** Both measurements, one after the other, on a stack with nothing else running. */
export async function measureStorage(stack: Stack, opts: { subscriptions: number; spends: number }): Promise<StorageFigures> {
  // Spends first: they need no Temporal, so a dev server starved by other programs delays only the second figure.
  const million_spends = await millionSpends(stack, opts.spends);
  return { subscription_year: await subscriptionYear(stack, opts.subscriptions), million_spends };
}
