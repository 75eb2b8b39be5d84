import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import { searchAttributeFlags } from '../runtime/search-attributes.js';
import { freePort } from './ports.js';

export interface DevServer {
  address: string;
  /** The frontend's gRPC port (the one to reuse when restarting on the same state). */
  port: number;
  uiUrl: string | null;
  process: ChildProcess;
  stop(): Promise<void>;
}

export interface DevServerOptions {
  cli: string;
  /**
   * The frontend's gRPC port, or 'any': a free port chosen here, and another one if the start loses a race for
   * it (parallel test files each starting a server). A fixed port is kept across retries.
   */
  port: number | 'any';
  uiPort: number | null;
  /** Keeps the server's state across restarts (npm start); without it the server is in memory (tests). */
  dbFile?: string;
  logFile: string;
  /** Created at start besides `default` (the CLI always creates `default`); health waits for it. */
  namespace?: string;
  /** Starts tried when the server exits at once because a port it binds is taken (default 4). */
  attempts?: number;
  /** How long one start may take until the frontend is healthy (default 60 s). */
  timeoutMs?: number;
}

/**
 * Temporal CLI's dev server (1.9.1: Temporal Server 1.32, Web UI 2.54) with our search attributes registered at
 * start; resolves once the frontend is healthy (GetSystemInfo and DescribeNamespace answer), not when its port opens.
 *
 * Ports: the CLI binds the frontend gRPC port (`--port`), the UI (`--ui-port`, unless headless), and picks free
 * ports itself for the frontend's HTTP API, the metrics endpoint and the history, matching and worker services
 * (these three have no flag). A parallel start can take one of them between the pick and the bind, and the
 * server exits at once ("address already in use"): such a start is retried with fresh picks. Throws with the
 * tail of the server's output when it exits for another reason, or after `attempts` lost races.
 */
export async function startDevServer(opts: DevServerOptions): Promise<DevServer> {
  const attempts = opts.attempts ?? 4;
  const log = createWriteStream(opts.logFile, { flags: 'a' });
  for (let attempt = 1; ; attempt++) {
    const port = opts.port === 'any' ? await freePort() : opts.port;
    const outcome = await startOnce({ ...opts, port }, log);
    if ('server' in outcome) return outcome.server;
    if (!outcome.portTaken || attempt >= attempts) {
      log.end();
      throw new Error(`temporal dev server exited with ${outcome.code} (attempt ${attempt}); see ${opts.logFile}:\n${outcome.tail}`);
    }
    log.write(`[dev-server] a port was taken (attempt ${attempt}), starting again\n`);
  }
}

type StartOutcome = { server: DevServer } | { code: number | null; portTaken: boolean; tail: string };

async function startOnce(opts: DevServerOptions & { port: number }, log: WriteStream): Promise<StartOutcome> {
  const args = [
    'server', 'start-dev', '--ip', '127.0.0.1', '--port', String(opts.port), '--log-level', 'warn',
    // No --ui-disable-news-fetch: the fallback build (v1.5.1) does not know it.
    ...(opts.uiPort ? ['--ui-port', String(opts.uiPort)] : ['--headless']),
    ...(opts.dbFile ? ['--db-filename', opts.dbFile] : []),
    ...(opts.namespace && opts.namespace !== 'default' ? ['--namespace', opts.namespace] : []),
    ...searchAttributeFlags(),
  ];
  const child = spawn(opts.cli, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let tail = '';
  const keep = (chunk: Buffer): void => {
    tail = (tail + chunk.toString()).slice(-4000);
    log.write(chunk);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', () => resolve(-1));
  });
  const address = `127.0.0.1:${opts.port}`;
  const healthy = waitForFrontend(address, opts.namespace ?? 'default', opts.timeoutMs ?? 60_000, exited);
  let first: 'healthy' | number | null;
  try {
    first = await Promise.race([healthy.then(() => 'healthy' as const), exited]);
  } catch (error) {
    child.kill('SIGKILL'); // alive but never healthy: not left behind
    throw error;
  }
  if (first !== 'healthy') {
    await healthy.catch(() => {});
    return { code: first, portTaken: /address already in use|bind:/i.test(tail), tail };
  }
  return {
    server: {
      address,
      port: opts.port,
      uiUrl: opts.uiPort ? `http://localhost:${opts.uiPort}` : null,
      process: child,
      stop: () => new Promise<void>((resolve) => {
        const done = (): void => { log.end(); resolve(); };
        if (child.exitCode !== null || child.signalCode !== null) return done();
        child.once('exit', done);
        child.kill('SIGTERM');
      }),
    },
  };
}

/**
 * Waits until the frontend answers GetSystemInfo and knows `namespace`: the port opens before the frontend is
 * healthy, and a worker connecting in between fails with "Frontend is not healthy yet". Gives up when the
 * server exits (`exited` settles) or after timeoutMs.
 */
async function waitForFrontend(address: string, namespace: string, timeoutMs: number, exited: Promise<unknown>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let gone = false;
  void exited.then(() => { gone = true; });
  for (;;) {
    if (gone) throw new Error(`the server at ${address} exited`);
    try {
      const connection = await Connection.connect({ address, connectTimeout: 2000 });
      try {
        await connection.workflowService.getSystemInfo({});
        // The namespaces are registered at start: a worker polls its namespace at once.
        await connection.workflowService.describeNamespace({ namespace });
        return;
      } finally {
        await connection.close();
      }
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`temporal dev server at ${address} not healthy within ${timeoutMs} ms`, { cause: error });
      await sleep(200);
    }
  }
}
