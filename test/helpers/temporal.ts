import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { NativeConnection, Worker } from '@temporalio/worker';
import { inject } from 'vitest';
import type { Sql } from '../../ledger/db.js';
import { createSandboxProvider } from '../../payments/sandbox.js';
import { type DevServer, startDevServer } from '../../dev/temporal-dev-server.js';
import { createWorker } from '../../worker/create-worker.js';
import { registerSearchAttributes } from '../../runtime/search-attributes.js';

/** Temporal's time-skipping test server (the Java one from Maven Central), started by the SDK. */
export async function startTimeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: inject('timeSkippingServerPath') } },
  });
  await registerSearchAttributes(env.connection, env.namespace ?? 'default');
  return env;
}

/** A real worker with real activities on `sql` and the sandbox provider, on the prebuilt bundle. */
export async function startTestWorker(
  connection: NativeConnection,
  sql: Sql,
  namespace = 'default',
): Promise<{ worker: Worker; taskQueue: string; stop: () => Promise<void> }> {
  const taskQueue = `test-${randomBytes(4).toString('hex')}`;
  const worker = await createWorker({
    connection,
    namespace,
    taskQueue,
    sql,
    payments: createSandboxProvider({ publicUrl: 'http://localhost', sql }),
    workflowBundle: { codePath: inject('workflowBundlePath') },
  });
  const running = worker.run();
  return {
    worker,
    taskQueue,
    stop: async () => {
      worker.shutdown();
      await running;
    },
  };
}

/** Polls `probe` until it returns a value that passes `ready`; fails with the last value after `timeoutMs`. */
export async function eventually<T>(probe: () => Promise<T>, ready: (value: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T = await probe();
  while (!ready(last)) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms; last value: ${JSON.stringify(last)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    last = await probe();
  }
  return last;
}

/** The Temporal CLI dev server for one test file, with a client on it (for tests that kill workers). */
export async function startTestDevServer(): Promise<{ server: DevServer; connection: Connection; client: Client }> {
  const name = randomBytes(4).toString('hex');
  const server = await startDevServer({
    cli: inject('temporalCliPath'), port: 'any', uiPort: null, logFile: join(inject('runDir'), `temporal-${name}.log`),
  });
  const connection = await Connection.connect({ address: server.address });
  return { server, connection, client: new Client({ connection }) };
}
