/** pgbench (/usr/bin/pgbench) against its own database on the benchmark's cluster. */
import { spawn } from 'node:child_process';

export interface PgbenchTarget {
  host: string;
  port: number;
  db: string;
}

export const PGBENCH_SCALE = 10;

function run(target: PgbenchTarget, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const proc = spawn('pgbench', ['-h', target.host, '-p', String(target.port), '-U', 'postgres', ...args, target.db], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    proc.stdout.on('data', (chunk: Buffer) => { out += chunk.toString(); });
    proc.stderr.on('data', (chunk: Buffer) => { out += chunk.toString(); });
    proc.on('error', reject);
    proc.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`pgbench ${args.join(' ')} exited with ${code}:\n${out}`))));
  });
}

export async function pgbenchInit(target: PgbenchTarget): Promise<void> {
  await run(target, ['-i', '-q', '-s', String(PGBENCH_SCALE)]);
}

export interface PgbenchResult {
  tps: number;
  latencyMs: number;
}

/**
 * `-N` (simple-update: one UPDATE of pgbench_accounts, one SELECT, one INSERT into pgbench_history per
 * transaction) or `-S` (one SELECT by primary key). Prepared statements (`-M prepared`), as postgres.js
 * uses them for the app; `-j 2` threads, one per core.
 */
export async function pgbench(target: PgbenchTarget, mode: '-N' | '-S', clients: number, seconds: number): Promise<PgbenchResult> {
  const out = await run(target, [mode, '-M', 'prepared', '-c', String(clients), '-j', String(Math.min(2, clients)), '-T', String(seconds)]);
  const tps = /tps = ([\d.]+)/.exec(out);
  const latency = /latency average = ([\d.]+) ms/.exec(out);
  if (!tps) throw new Error(`no tps in pgbench output:\n${out}`);
  return { tps: Number(tps[1]), latencyMs: latency ? Number(latency[1]) : NaN };
}
