/**
 * `npm run bench`: the DESIGN.md performance targets, measured on this machine, each as a ratio against a
 * baseline run side by side in the same run (see bench/README.md). Never part of `npm test`; all traffic
 * stays on 127.0.0.1.
 *
 * Options: --only=spend,balance,history,usage,storm,storage (a subset; writes bench/results/partial.json instead of latest.json),
 * --profile (CPU profile of the API and pg_stat_statements into bench/results/profile/),
 * --quick (short runs, for trying the harness). Env: BENCH_STORM_N (default "2000,10000": one storm per size), BENCH_DURABLE=0 (fsync off on
 * both sides), BENCH_STORAGE_SUBSCRIPTIONS (default 100) and BENCH_STORAGE_SPENDS (default 10,000) for the storage
 * phase, BENCH_RESULTS_FILE (another file name in bench/results/, so concurrent runs keep their own).
 */
import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { log, waitForQuiet } from './log.js';
import { PGBENCH_SCALE, pgbenchInit } from './pgbench.js';
import { startProfiling, summarizeCpuProfiles, writeProfileReport } from './profile.js';
import { measureSpendAndBalance, type SpendFigures } from './spend.js';
import { startStack } from './stack.js';
import { measureStorage, type StorageFigures } from './storage.js';
import { measureHistoryPerYear, measureStorm, type StormFigures } from './storm.js';
import { measureUsage, type UsageFiguresOut } from './usage.js';

const args = new Set(process.argv.slice(2));
const only = [...args].find((a) => a.startsWith('--only='))?.slice('--only='.length).split(',');
const phase = (name: string) => !only || only.includes(name);
const quick = args.has('--quick');
const profile = args.has('--profile');
const durable = process.env.BENCH_DURABLE !== '0';
// BENCH_STORM_N: one size or several, comma-separated ("2000,10000"); each is its own storm on its own clock.
const stormSizes = (process.env.BENCH_STORM_N ?? (quick ? '200' : '2000,10000')).split(',').map((v) => Number(v.trim()));
if (stormSizes.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`BENCH_STORM_N must be positive integers, comma-separated: ${process.env.BENCH_STORM_N}`);
const storageSubscriptions = Number(process.env.BENCH_STORAGE_SUBSCRIPTIONS ?? (quick ? 20 : 100));
const storageSpends = Number(process.env.BENCH_STORAGE_SPENDS ?? (quick ? 1000 : 10_000));
const resultsDir = join(process.cwd(), 'bench', 'results');
const profileDir = join(resultsDir, 'profile');

const TARGETS = {
  spendRatio: 0.5, spendP99Ms: 20, balanceRatio: 0.8, stormRatio: 0.5, historyEvents: 200,
} as const;

interface Summary {
  spend?: SpendFigures['spend'];
  balance?: SpendFigures['balance'];
  ledger_floor?: SpendFigures['ledger_floor'];
  http_floor?: SpendFigures['http_floor'];
  /** The first storm size's figures (kept for older readers); every size in renewal_storms. */
  renewal_storm?: StormFigures;
  renewal_storms?: StormFigures[];
  history_events_per_year?: number;
  history?: { runs: number; advances: number };
  usage?: UsageFiguresOut;
  storage?: StorageFigures;
  targets: { name: string; value: number; target: string; pass: boolean }[];
  environment: Record<string, unknown>;
}

function environment(): Record<string, unknown> {
  const pg = execFileSync('pgbench', ['--version'], { encoding: 'utf8' }).trim();
  const git = (...a: string[]) => execFileSync('git', a, { encoding: 'utf8' }).trim();
  return {
    generated_at: new Date().toISOString(),
    // The code measured: others may be editing the work tree, so say whether it differs from the commit.
    git_commit: git('rev-parse', '--short', 'HEAD'),
    git_uncommitted_changes: git('status', '--porcelain', '--untracked-files=no').split('\n').filter(Boolean).length,
    cpus: cpus().length,
    cpu_model: cpus()[0]?.model,
    node: process.version,
    pgbench: pg,
    pgbench_scale: PGBENCH_SCALE,
    postgres_durable: durable,
    storm_n: stormSizes,
    quick,
    profile,
  };
}

/**
 * Other programs on the machine skew every figure (both sides of a ratio, but not equally): wait up to a
 * minute for the CPUs to be quiet before a phase, and record how busy they were.
 */
async function quietBefore(name: string, summary: Summary): Promise<void> {
  const busy = await waitForQuiet(60_000);
  if (busy > 0.15) log(`!! ${(busy * 100).toFixed(0)}% of the CPUs are busy with other programs before ${name}: its figures will be noisy`);
  (summary.environment.busy_before ??= {} as Record<string, number>);
  (summary.environment.busy_before as Record<string, number>)[name] = Math.round(busy * 100) / 100;
}

const fmt = (value: number, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : String(value));

function printTable(summary: Summary): void {
  const rows = summary.targets.map((t) => [t.name, fmt(t.value, t.name.includes('events') ? 0 : 2), t.target, t.pass ? 'PASS' : 'MISS']);
  const header = ['figure', 'measured', 'target', ''];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  const out = [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
  const s = summary.spend;
  const b = summary.balance;
  if (s) out.push('', `spend: ${fmt(s.tps, 0)} spends/s at peak (${s.clients} connections) vs pgbench -N ${fmt(s.pgbench_tps, 0)} tps; ` +
    `at 70% (${fmt(s.paced_tps, 0)} spends/s) p50 ${fmt(s.p50_ms, 2)} ms, p99 ${fmt(s.p99_ms, 2)} ms per request`);
  if (b) out.push(`balance: ${fmt(b.rps, 0)} reads/s at peak (${b.clients} connections) vs pgbench -S ${fmt(b.pgbench_tps, 0)} tps; p99 ${fmt(b.p99_ms, 2)} ms`);
  const l = summary.ledger_floor;
  if (l) out.push(`ledger floor: holdForQuote + endCreation called directly (no HTTP) reach ${fmt(l.tps, 0)} spends/s ` +
    `(${fmt(l.vs_pgbench_N, 2)} of pgbench -N)`);
  for (const f of summary.http_floor ?? []) {
    out.push(`http floor (${f.handler} handler): ${fmt(f.rps, 0)} requests/s = ${fmt(f.vs_pgbench_S, 2)} of pgbench -S` +
      `${s ? `; as spends of 2 requests, ${fmt(f.rps / 2 / s.pgbench_tps, 2)} of pgbench -N` : ''}`);
  }
  for (const r of summary.renewal_storms ?? []) {
    out.push(`renewal storm: ${r.n} renewals in ${fmt(r.seconds)} s vs ${r.n} trivial workflows in ${fmt(r.baseline_seconds)} s`);
  }
  const g = summary.storage;
  if (g) {
    out.push(`storage: ${fmt(g.subscription_year.bytes / 1024)} KiB of tables and ${fmt(g.subscription_year.wal_bytes / 1024)} KiB of WAL per subscription-year; ` +
      `${fmt(g.million_spends.bytes / 2 ** 20, 0)} MiB of tables and ${fmt(g.million_spends.wal_bytes / 2 ** 20, 0)} MiB of WAL per million spends`);
  }
  console.log(`\n${out.join('\n')}\n`);
}

async function main(): Promise<void> {
  mkdirSync(resultsDir, { recursive: true });
  if (profile) {
    rmSync(profileDir, { recursive: true, force: true });
    mkdirSync(profileDir, { recursive: true });
  }
  const stack = await startStack({ durable, ...(profile ? { profileDir } : {}) });
  const summary: Summary = { targets: [], environment: environment() };
  // BENCH_DROP_USAGE_INDEXES=1: the spend path without migration 1732400000022's indexes, to compare their cost.
  if (process.env.BENCH_DROP_USAGE_INDEXES === '1') {
    await stack.sql.unsafe('DROP INDEX ledger_entries_by_time; DROP INDEX creations_by_end');
    summary.environment.usage_indexes_dropped = true;
  }
  try {
    if (profile) await startProfiling(stack);
    if (phase('spend') || phase('balance')) {
      log(`pgbench: initialising scale ${PGBENCH_SCALE} in its own database`);
      await pgbenchInit(stack.pgbench);
      await quietBefore('spend', summary);
      const figures = await measureSpendAndBalance(stack, quick
        ? { workspaces: 50, clients: [8, 16], sweepSeconds: 4, pacedSeconds: 5, balanceSeconds: 3 }
        : { workspaces: 200, clients: [4, 8, 16, 32, 64], sweepSeconds: 10, pacedSeconds: 30, balanceSeconds: 8 },
      { spend: phase('spend'), balance: phase('balance') });
      if (figures.spend) {
        summary.spend = figures.spend;
        summary.ledger_floor = figures.ledger_floor;
        summary.targets.push(
          { name: 'spend tps / pgbench -N tps', value: figures.spend.ratio, target: `>= ${TARGETS.spendRatio}`, pass: figures.spend.ratio >= TARGETS.spendRatio },
          { name: 'spend p99 ms at 70% of peak', value: figures.spend.p99_ms, target: `<= ${TARGETS.spendP99Ms}`, pass: figures.spend.p99_ms <= TARGETS.spendP99Ms },
        );
      }
      if (figures.balance) {
        summary.balance = figures.balance;
        summary.http_floor = figures.http_floor;
        // DESIGN.md: balance reads against the one-query HTTP floor (Hono + postgres.js doing SELECT 1) of the same run;
        // the ratio to pgbench -S stays in the balance figures.
        const floor = figures.http_floor?.find((f) => f.handler === 'one-query');
        if (floor) {
          const ratio = figures.balance.rps / floor.rps;
          summary.targets.push({ name: 'balance rps / one-query HTTP floor rps', value: ratio, target: `>= ${TARGETS.balanceRatio}`, pass: ratio >= TARGETS.balanceRatio });
        }
      }
      if (profile) await writeProfileReport(stack, profileDir);
    }
    if (phase('history')) {
      await quietBefore('history', summary);
      const history = await measureHistoryPerYear(stack);
      summary.history_events_per_year = history.events;
      summary.history = { runs: history.runs, advances: history.advances };
      summary.targets.push({ name: 'history events per subscription-year', value: history.events, target: `<= ${TARGETS.historyEvents}`,
        pass: history.events <= TARGETS.historyEvents });
    }
    if (phase('usage')) {
      await quietBefore('usage', summary);
      const usage = await measureUsage(stack, quick ? { requests: 20, requestsWithoutIndexes: 0 } : { requests: 200, requestsWithoutIndexes: 10 });
      summary.usage = usage;
      summary.targets.push({ name: 'GET /v1/usage p99 ms, 1M entries (worst case)', value: usage.worst_p99_ms, target: `< ${usage.target_p99_ms}`,
        pass: usage.worst_p99_ms < usage.target_p99_ms });
    }
    if (phase('storage')) {
      await quietBefore('storage', summary);
      summary.storage = await measureStorage(stack, { subscriptions: storageSubscriptions, spends: storageSpends });
    }
    if (phase('storm')) {
      for (const n of stormSizes) {
        await quietBefore(`storm_${n}`, summary);
        const storm = await measureStorm(stack, n);
        summary.renewal_storm ??= storm;
        (summary.renewal_storms ??= []).push(storm);
        summary.targets.push({ name: `renewal storm throughput / trivial (n=${storm.n})`, value: storm.ratio, target: `>= ${TARGETS.stormRatio}`,
          pass: storm.ratio >= TARGETS.stormRatio });
      }
    }
  } catch (error) {
    // Said before stopping: a client call still retrying on the closing connection can end the process first.
    log(`!! ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
    // Client calls still retrying when the connection closes throw from a timer: let the cluster stop first.
    process.on('uncaughtException', (late) => {
      if (!String(late).includes('Channel has been shut down')) throw late;
    });
    throw error;
  } finally {
    log('stopping the stack');
    await stack.stop();
  }
  if (profile) summarizeCpuProfiles(profileDir);
  const file = join(resultsDir, process.env.BENCH_RESULTS_FILE ?? (only || quick ? 'partial.json' : 'latest.json'));
  writeFileSync(`${file}.tmp`, `${JSON.stringify(summary, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
  printTable(summary);
  log(`summary written to ${file.replace(`${process.cwd()}/`, '')}`);
}

main().then(() => process.exit(0), (error: unknown) => {
  console.error(error);
  process.exit(1);
});
