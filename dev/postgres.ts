/**
 * A private Postgres cluster from the local server binaries, under a directory of the project's.
 * Postgres refuses to run as root, so as root the cluster belongs to (and runs as) the `postgres` user.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ensurePostgresBinDir } from './tools.js';

export interface PrivateCluster {
  url: string;
  stop(): void;
}

const isRoot = process.getuid?.() === 0;

function asServerUser(binary: string, args: string[], mustSucceed = true): void {
  const [cmd, argv] = isRoot ? ['runuser', ['-u', 'postgres', '--', binary, ...args]] : [binary, args];
  const result = spawnSync(cmd, argv, { encoding: 'utf8' });
  if (mustSucceed && result.status !== 0) {
    throw new Error(`${binary} ${args.join(' ')} failed: ${result.stderr || result.stdout}`);
  }
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
    asServerUser(join(bin, 'initdb'), ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-locale']);
  }
  const settings = [
    `-p ${opts.port}`, '-c listen_addresses=127.0.0.1', `-k ${opts.dir}`, '-c max_connections=200',
    ...(opts.durable ? [] : ['-c fsync=off', '-c synchronous_commit=off', '-c full_page_writes=off']),
  ].join(' ');
  const pgCtl = join(bin, 'pg_ctl');
  // A cluster left running by a killed session is stopped first so the settings above apply.
  if (existsSync(join(dataDir, 'postmaster.pid'))) asServerUser(pgCtl, ['-D', dataDir, '-m', 'fast', '-w', 'stop'], false);
  asServerUser(pgCtl, ['-D', dataDir, '-l', join(opts.dir, 'server.log'), '-o', settings, '-w', '-t', '60', 'start']);
  return {
    url: `postgres://postgres@127.0.0.1:${opts.port}/postgres`,
    stop: () => asServerUser(pgCtl, ['-D', dataDir, '-m', 'fast', '-w', 'stop']),
  };
}
