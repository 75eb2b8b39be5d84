import { NativeConnection } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createSql } from '../../ledger/db.js';
import { createSandboxProvider } from '../../payments/sandbox.js';
import { loadConfig } from '../../runtime/config.js';
import { createWorker } from '../../worker/create-worker.js';
import { startTestDevServer } from '../helpers/temporal.js';

const base = { DATABASE_URL: 'postgres://user@127.0.0.1:1/app' };

describe('WORKER_MAX_CACHED_WORKFLOWS sets the worker\'s sticky cache', () => {
  let dev: Awaited<ReturnType<typeof startTestDevServer>>;
  let connection: NativeConnection;
  // Never connected: the workers below are created, not run.
  const sql = createSql(base.DATABASE_URL);
  beforeAll(async () => {
    dev = await startTestDevServer();
    connection = await NativeConnection.connect({ address: dev.server.address });
  });
  afterAll(async () => {
    await connection?.close();
    await dev?.connection.close();
    await dev?.server.stop();
    await sql.end({ timeout: 1 });
  });

  /** The sticky cache size of a worker created with `maxCachedWorkflows` (run and shut down at once, to release the connection). */
  const cacheOf = async (maxCachedWorkflows: number | undefined, taskQueue: string) => {
    const worker = await createWorker({
      connection, namespace: 'default', taskQueue, sql, maxCachedWorkflows,
      payments: createSandboxProvider({ publicUrl: 'http://localhost', sql }),
      workflowBundle: { codePath: inject('workflowBundlePath') },
    });
    const running = worker.run();
    worker.shutdown();
    await running;
    return worker.options.maxCachedWorkflows;
  };

  it('parses the setting: a count, unset when absent or empty, refused when negative', () => {
    expect(loadConfig({ ...base, WORKER_MAX_CACHED_WORKFLOWS: '12000' }).WORKER_MAX_CACHED_WORKFLOWS).toBe(12_000);
    expect(loadConfig({ ...base }).WORKER_MAX_CACHED_WORKFLOWS).toBeUndefined();
    expect(loadConfig({ ...base, WORKER_MAX_CACHED_WORKFLOWS: '' }).WORKER_MAX_CACHED_WORKFLOWS).toBeUndefined();
    expect(() => loadConfig({ ...base, WORKER_MAX_CACHED_WORKFLOWS: '-1' })).toThrow(/WORKER_MAX_CACHED_WORKFLOWS/);
  });

  it('gives the worker that many cached workflows, or the SDK\'s default from the heap limit', async () => {
    expect(await cacheOf(12_000, 'cache-size-set')).toBe(12_000);
    // The SDK's own rule (reused V8 context): 600 per GiB of heap above 200 MiB, at least 10.
    const { heap_size_limit } = (await import('node:v8')).getHeapStatistics();
    const sdkDefault = Math.max(Math.floor((Math.max(heap_size_limit / 2 ** 20 - 200, 0) * 600) / 1024), 10);
    expect(await cacheOf(undefined, 'cache-size-default')).toBe(sdkDefault);
  });
});
