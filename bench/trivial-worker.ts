/**
 * The baseline's worker, a process of its own like the product's worker (worker/main.ts), with the
 * same (default) worker options, on its own task queue. Prints "ready" once it polls.
 */
import { createRequire } from 'node:module';
import { NativeConnection, Worker } from '@temporalio/worker';
import * as activities from './trivial-activities.js';

const require = createRequire(import.meta.url);
const connection = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS! });
const worker = await Worker.create({
  connection,
  taskQueue: process.env.TASK_QUEUE!,
  workflowsPath: require.resolve('./trivial-workflow.ts'),
  activities,
});
process.once('SIGTERM', () => worker.shutdown());
const running = worker.run();
console.log('ready');
await running;
await connection.close();
