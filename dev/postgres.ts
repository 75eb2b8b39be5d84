/**
 * A private Postgres cluster from the local server binaries, under a directory of the project's.
 * Postgres refuses to run as root, so as root the cluster belongs to (and runs as) the `postgres` user.
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ensurePostgresBinDir } from './tools.js';

export interface PrivateCluster {
  url: string;
  stop(): void;
}

const isRoot = process.getuid?.() === 0;

const execFileAsync = promisify(execFile);

/** `binary args`, as the `postgres` user when we are root. */
function serverCommand(binary: string, args: string[]): [string, string[]] {
  return isRoot ? ['runuser', ['-u', 'postgres', '--', binary, ...args]] : [binary, args];
}

/**
 * Runs a server binary without blocking the event loop (initdb takes seconds on a first start, while the Temporal
 * half of `npm start` downloads and boots beside it). Throws `<binary> <args> failed: <its output>` when it fails
 * and `mustSucceed`.
 */
async function asServerUser(binary: string, args: string[], mustSucceed = true): Promise<void> {
  const [cmd, argv] = serverCommand(binary, args);
  try {
    await execFileAsync(cmd, argv, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  } catch (error) {
    if (!mustSucceed) return;
    const { stderr, stdout, message } = error as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${binary} ${args.join(' ')} failed: ${stderr || stdout || message}`, { cause: error });
  }
}

/** The same, blocking: for stop(), which shutdown paths call synchronously. */
function asServerUserSync(binary: string, args: string[]): void {
  const [cmd, argv] = serverCommand(binary, args);
  const result = spawnSync(cmd, argv, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${binary} ${args.join(' ')} failed: ${result.stderr || result.stdout}`);
}

function ownForServer(dir: string): void {
  if (!isRoot) return;
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  chownSync(dir, uid, gid);
}

/**
 * Starts (initialising on first use) a cluster in `dir` listening on 127.0.0.1:`port`.
 * `durable: false` turns off fsync for throwaway test clusters.
 */
export async function startPrivateCluster(opts: { dir: string; port: number; durable: boolean }): Promise<PrivateCluster> {
  const bin = await ensurePostgresBinDir();
  const dataDir = join(opts.dir, 'pgdata');
  mkdirSync(opts.dir, { recursive: true });
  ownForServer(opts.dir);
  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    await asServerUser(join(bin, 'initdb'), ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-locale']);
  }
  const settings = [
    `-p ${opts.port}`, '-c listen_addresses=127.0.0.1', `-k ${opts.dir}`, '-c max_connections=200',
    ...(opts.durable ? [] : ['-c fsync=off', '-c synchronous_commit=off', '-c full_page_writes=off']),
  ].join(' ');
  const pgCtl = join(bin, 'pg_ctl');
  // A cluster left running by a killed session is stopped first so the settings above apply.
  if (existsSync(join(dataDir, 'postmaster.pid'))) await asServerUser(pgCtl, ['-D', dataDir, '-m', 'fast', '-w', 'stop'], false);
  await asServerUser(pgCtl, ['-D', dataDir, '-l', join(opts.dir, 'server.log'), '-o', settings, '-w', '-t', '60', 'start']);
  return {
    url: `postgres://postgres@127.0.0.1:${opts.port}/postgres`,
    stop: () => asServerUserSync(pgCtl, ['-D', dataDir, '-m', 'fast', '-w', 'stop']),
  };
}
