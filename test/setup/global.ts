/**
 * Starts what every test file shares, once per run: the pinned tools, a throwaway Postgres cluster
 * (or DATABASE_URL's server) and one bundle of the workflow code.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import type { TestProject } from 'vitest/node';
import { startPrivateCluster, type PrivateCluster } from '../../dev/postgres.js';
import { ensureTemporalCli, ensureTimeSkippingServer } from '../../dev/tools.js';
import { WORKFLOWS_PATH } from '../../worker/create-worker.js';

declare module 'vitest' {
  export interface ProvidedContext {
    postgresAdminUrl: string;
    workflowBundlePath: string;
    timeSkippingServerPath: string;
    temporalCliPath: string;
  }
}

const dataDir = join(process.cwd(), '.data', 'test');

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  mkdirSync(dataDir, { recursive: true });
  const [timeSkippingServerPath, temporalCliPath] = [await ensureTimeSkippingServer(), await ensureTemporalCli()];
  let cluster: PrivateCluster | undefined;
  let postgresAdminUrl = process.env.DATABASE_URL;
  if (!postgresAdminUrl) {
    cluster = await startPrivateCluster({ dir: join(dataDir, 'postgres'), port: 55433, durable: false });
    postgresAdminUrl = cluster.url;
  }
  const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quietLogger });
  const workflowBundlePath = join(dataDir, 'workflow-bundle.js');
  writeFileSync(workflowBundlePath, code);

  project.provide('postgresAdminUrl', postgresAdminUrl);
  project.provide('workflowBundlePath', workflowBundlePath);
  project.provide('timeSkippingServerPath', timeSkippingServerPath);
  project.provide('temporalCliPath', temporalCliPath);
  return async () => cluster?.stop();
}

const noop = (): void => {};
const quietLogger = { trace: noop, debug: noop, info: noop, warn: console.warn, error: console.error, log: noop };
