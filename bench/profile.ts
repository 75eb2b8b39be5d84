/**
 * --profile: where the spend path's time goes. pg_stat_statements over the spend and balance phases,
 * and a summary of the API's CPU profile (node --cpu-prof, written when the API exits).
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { log } from './log.js';
import type { Stack } from './stack.js';

export async function startProfiling(stack: Stack): Promise<void> {
  await stack.sql.unsafe('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  await stack.sql.unsafe('SELECT pg_stat_statements_reset()');
}

export async function writeProfileReport(stack: Stack, dir: string): Promise<void> {
  const rows = await stack.sql<{ calls: number; total_ms: number; mean_ms: number; rows: number; query: string }[]>`
    SELECT s.calls::int, round(s.total_exec_time::numeric, 1)::float AS total_ms, round(s.mean_exec_time::numeric, 3)::float AS mean_ms,
      s.rows::int, regexp_replace(s.query, '\\s+', ' ', 'g') AS query
    FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
    WHERE d.datname = 'app' ORDER BY s.total_exec_time DESC LIMIT 40`;
  const text = rows.map((r) => `${String(r.calls).padStart(8)} calls ${String(r.total_ms).padStart(10)} ms total ${String(r.mean_ms).padStart(8)} ms mean  ${r.query.slice(0, 220)}`);
  writeFileSync(join(dir, 'pg_stat_statements.txt'), `${text.join('\n')}\n`);
  log(`profile: pg_stat_statements → ${join(dir, 'pg_stat_statements.txt')}`);
}

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
}

/** Self time by function and by package of every .cpuprofile in `dir`, into cpu-summary.txt. */
export function summarizeCpuProfiles(dir: string): void {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  for (const file of files) {
    const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
    const byNode = new Map(profile.nodes.map((n) => [n.id, n]));
    const parent = new Map<number, number>();
    for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id);
    const selfUs = new Map<number, number>();
    profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
    const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
    const byFunction = new Map<string, number>();
    const byPackage = new Map<string, number>();
    const byCaller = new Map<string, number>();
    const packageOf = (where: string, functionName: string) =>
      /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(where)?.[1] ?? (where.startsWith('node:') ? 'node core' : where === '' ? functionName : where.split('/')[0]!);
    const whereOf = (id: number) => byNode.get(id)!.callFrame.url.replace(/^file:\/\//, '').replace(`${process.cwd()}/`, '');
    for (const [id, us] of selfUs) {
      const { functionName, url, lineNumber } = byNode.get(id)!.callFrame;
      const where = url.replace(/^file:\/\//, '').replace(`${process.cwd()}/`, '');
      const fn = `${functionName || '(anonymous)'} ${where}:${lineNumber + 1}`;
      byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
      byPackage.set(packageOf(where, functionName), (byPackage.get(packageOf(where, functionName)) ?? 0) + us);
      // Native code and Node internals are charged to the nearest caller in a package or in our code.
      let at: number | undefined = id;
      while (at !== undefined && !/node_modules|^[a-z]+\//.test(whereOf(at)) && parent.has(at)) at = parent.get(at);
      const caller = at !== undefined && /node_modules|^[a-z]+\//.test(whereOf(at)) ? packageOf(whereOf(at), '') : packageOf(where, functionName);
      byCaller.set(caller, (byCaller.get(caller) ?? 0) + us);
    }
    const top = (m: Map<string, number>, n: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n)
      .map(([k, us]) => `${(100 * us / total).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}`);
    const out = [`${file}: ${(total / 1e6).toFixed(1)} s sampled`, '', 'self time by package:', ...top(byPackage, 25), '',
      'self time by package, native code and Node internals charged to their nearest caller in a package or in our code:',
      ...top(byCaller, 25), '',
      'self time by function:', ...top(byFunction, 50)];
    writeFileSync(join(dir, `${file}.summary.txt`), `${out.join('\n')}\n`);
    log(`profile: API CPU profile summary → ${join(dir, `${file}.summary.txt`)}`);
  }
}
