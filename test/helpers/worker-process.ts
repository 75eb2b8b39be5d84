/**
 * A real worker in a process of its own, so a test can kill it with SIGKILL. Test-only instrumentation:
 * every provider charge is appended to CALLS_FILE, and with CRASH_MARKER set the process kills itself
 * right after the first renewal charge of period CRASH_PERIOD succeeds, before reporting it to Temporal
 * (so before the grant).
 *
 * Optional, for the resilience suite:
 * - CHARGE_LOG: every provider charge also appends JSON lines `{phase: 'start'|'done', pid, key, status?}`
 *   (before and after the provider call), so a test can tell which process repeated which key.
 * - CRASH_AFTER_ACTIVITY_CALLS=n: the process kills itself (SIGKILL) right after its n-th activity call
 *   returns, before the result reaches Temporal; with CRASH_LOG set it first appends what it was doing.
 */
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createSql } from '../../ledger/db.js';
import { createSandboxProvider } from '../../payments/sandbox.js';
import { attemptKey, type PaymentProvider } from '../../payments/provider.js';
import { createActivities } from '../../activities/index.js';

const env = process.env;
const sql = createSql(env.DATABASE_URL!);
const sandbox = createSandboxProvider({ publicUrl: 'http://localhost', sql });
const payments: PaymentProvider = {
  name: 'sandbox',
  charge: async (request) => {
    const key = attemptKey(request);
    appendFileSync(env.CALLS_FILE!, `${key}\n`);
    if (env.CHARGE_LOG) appendFileSync(env.CHARGE_LOG, `${JSON.stringify({ phase: 'start', pid: process.pid, key })}\n`);
    const outcome = await sandbox.charge(request);
    if (env.CHARGE_LOG) {
      appendFileSync(env.CHARGE_LOG, `${JSON.stringify({ phase: 'done', pid: process.pid, key, status: outcome.status })}\n`);
    }
    return outcome;
  },
  isInvoicePaid: (invoice) => sandbox.isInvoicePaid(invoice),
  voidInvoice: (input) => sandbox.voidInvoice(input),
  refund: (input) => sandbox.refund(input),
};
const activities = createActivities({ sql, payments });
const charge = activities.charge;
activities.charge = async (input) => {
  const outcome = await charge(input);
  const renewal = input.businessKey.endsWith(`:period:${env.CRASH_PERIOD}:subscription`);
  if (env.CRASH_MARKER && renewal && !existsSync(env.CRASH_MARKER)) {
    writeFileSync(env.CRASH_MARKER, 'crashed after the charge, before the grant\n');
    process.kill(process.pid, 'SIGKILL');
  }
  return outcome;
};

const crashAfter = Number(env.CRASH_AFTER_ACTIVITY_CALLS ?? 0);
if (crashAfter > 0) {
  let calls = 0;
  const table = activities as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  for (const [name, activity] of Object.entries(table)) {
    table[name] = async (...args: unknown[]) => {
      const result = await activity(...args);
      if (++calls === crashAfter) {
        if (env.CRASH_LOG) appendFileSync(env.CRASH_LOG, `${JSON.stringify({ pid: process.pid, after: name, call: calls })}\n`);
        process.kill(process.pid, 'SIGKILL');
      }
      return result;
    };
  }
}

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
