import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import { searchAttributeFlags } from '../runtime/search-attributes.js';
import { waitForPort } from './ports.js';

export interface DevServer {
  address: string;
  uiUrl: string | null;
  process: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Temporal CLI's dev server with our search attributes registered at start. `dbFile` keeps its state
 * across restarts (npm start); without it the server is in memory (tests).
 */
export async function startDevServer(opts: {
  cli: string; port: number; uiPort: number | null; dbFile?: string; logFile: string;
}): Promise<DevServer> {
  const args = [
    'server', 'start-dev', '--ip', '127.0.0.1', '--port', String(opts.port), '--log-level', 'warn',
    ...(opts.uiPort ? ['--ui-port', String(opts.uiPort)] : ['--headless']),
    ...(opts.dbFile ? ['--db-filename', opts.dbFile] : []),
    ...searchAttributeFlags(),
  ];
  const child = spawn(opts.cli, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const log = createWriteStream(opts.logFile, { flags: 'a' });
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`temporal dev server exited with ${code}; see ${opts.logFile}`))));
  await Promise.race([waitForPort(opts.port, 60_000).then(() => waitForFrontend(`127.0.0.1:${opts.port}`, 60_000)), exited]);
  exited.catch(() => {}); // after startup, an exit is reported through stop() or the caller's own checks
  return {
    address: `127.0.0.1:${opts.port}`,
    uiUrl: opts.uiPort ? `http://localhost:${opts.uiPort}` : null,
    process: child,
    stop: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    }),
  };
}

/**
 * Waits until the frontend answers GetSystemInfo and knows the default namespace: the port opens before the
 * frontend is healthy, and a worker connecting in between fails with "Frontend is not healthy yet".
 */
async function waitForFrontend(address: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const connection = await Connection.connect({ address, connectTimeout: 2000 });
      try {
        await connection.workflowService.getSystemInfo({});
        // The default namespace is registered at start: a worker polls it at once.
        await connection.workflowService.describeNamespace({ namespace: 'default' });
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
