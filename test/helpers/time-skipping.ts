import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll } from 'vitest';
import { freshDatabase } from './database.js';
import { startTestWorker, startTimeSkippingEnv } from './temporal.js';

/**
 * For one describe block: the time-skipping test server, a fresh database and a worker with the real
 * activities on both, started before its tests and stopped after them.
 */
export function useTimeSkippingStack() {
  let env: TestWorkflowEnvironment | undefined;
  let db: Awaited<ReturnType<typeof freshDatabase>> | undefined;
  let worker: Awaited<ReturnType<typeof startTestWorker>> | undefined;
  beforeAll(async () => {
    [env, db] = await Promise.all([startTimeSkippingEnv(), freshDatabase()]);
    worker = await startTestWorker(env.nativeConnection, db.sql);
  });
  afterAll(async () => {
    await worker?.stop();
    await env?.teardown();
    await db?.drop();
  });
  return {
    get env() { return env!; },
    get db() { return db!; },
    get worker() { return worker!; },
  };
}
