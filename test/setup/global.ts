/**
 * Starts what every test file shares, once per run: the pinned tools, a throwaway Postgres cluster
 * (or DATABASE_URL's server) and one bundle of the workflow code.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import type { TestProject } from 'vitest/node';
import { freePort } from '../../dev/ports.js';
import { startPrivateCluster, type PrivateCluster } from '../../dev/postgres.js';
import { ensureTemporalCli, ensureTimeSkippingServer } from '../../dev/tools.js';
import { WORKFLOWS_PATH } from '../../worker/create-worker.js';

declare module 'vitest' {
  export interface ProvidedContext {
    postgresAdminUrl: string;
    workflowBundlePath: string;
    timeSkippingServerPath: string;
    temporalCliPath: string;
    /** Scratch directory of this run (logs, bundle), removed at the end. */
    runDir: string;
  }
}

const dataDir = join(process.cwd(), '.data', 'test');

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  mkdirSync(dataDir, { recursive: true });
  // Side by side: Maven's resolution and the CLI's download are independent.
  const [timeSkippingServerPath, temporalCliPath] = await Promise.all([ensureTimeSkippingServer(), ensureTemporalCli()]);
  // Each run gets its own cluster and bundle, so parallel runs (two checkouts, a watcher) never collide.
  const runDir = join(dataDir, `run-${process.pid}`);
  mkdirSync(runDir, { recursive: true });
  let cluster: PrivateCluster | undefined;
  let postgresAdminUrl = process.env.DATABASE_URL;
  if (!postgresAdminUrl) {
    cluster = await startPrivateCluster({ dir: join(runDir, 'postgres'), port: await freePort(), durable: false });
    postgresAdminUrl = cluster.url;
  }
  const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quietLogger });
  const workflowBundlePath = join(runDir, 'workflow-bundle.js');
  writeFileSync(workflowBundlePath, code);

  project.provide('postgresAdminUrl', postgresAdminUrl);
  project.provide('workflowBundlePath', workflowBundlePath);
  project.provide('timeSkippingServerPath', timeSkippingServerPath);
  project.provide('temporalCliPath', temporalCliPath);
  project.provide('runDir', runDir);
  return async () => {
    cluster?.stop();
    rmSync(runDir, { recursive: true, force: true });
  };
}

const noop = (): void => {};
const quietLogger = { trace: noop, debug: noop, info: noop, warn: console.warn, error: console.error, log: noop };
