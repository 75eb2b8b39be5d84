/**
 * A real worker in a process of its own, so a test can kill it with SIGKILL. Test-only instrumentation:
 * every provider charge is appended to CALLS_FILE, and with CRASH_MARKER set the process kills itself
 * right after the first renewal charge of period CRASH_PERIOD succeeds, before reporting it to Temporal
 * (so before the grant).
 */
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createSql } from '../../ledger/db.js';
import { createSandboxProvider } from '../../payments/sandbox.js';
import type { PaymentProvider } from '../../payments/provider.js';
import { createActivities } from '../../activities/index.js';

const env = process.env;
const sql = createSql(env.DATABASE_URL!);
const sandbox = createSandboxProvider({ publicUrl: 'http://localhost', sql });
const payments: PaymentProvider = {
  name: 'sandbox',
  charge: async (request) => {
    appendFileSync(env.CALLS_FILE!, `${request.idempotencyKey}\n`);
    return sandbox.charge(request);
  },
  isInvoicePaid: (invoice) => sandbox.isInvoicePaid(invoice),
};
const activities = createActivities({ sql, payments });
const chargePeriod = activities.chargePeriod;
activities.chargePeriod = async (input) => {
  const outcome = await chargePeriod(input);
  if (env.CRASH_MARKER && input.periodIndex === Number(env.CRASH_PERIOD) && !existsSync(env.CRASH_MARKER)) {
    writeFileSync(env.CRASH_MARKER, 'crashed after the charge, before the grant\n');
    process.kill(process.pid, 'SIGKILL');
  }
  return outcome;
};

const connection = await NativeConnection.connect({ address: env.TEMPORAL_ADDRESS! });
const worker = await Worker.create({
  connection,
  namespace: env.TEMPORAL_NAMESPACE ?? 'default',
  taskQueue: env.TASK_QUEUE!,
  workflowBundle: { codePath: env.WORKFLOW_BUNDLE! },
  activities,
});
process.stdout.write('ready\n');
await worker.run();
await sql.end();
