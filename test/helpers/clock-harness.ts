import { TypedSearchAttributes } from '@temporalio/common';
import { writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client, Connection } from '@temporalio/client';
import { inject } from 'vitest';
import type { Sql } from '../../ledger/db.js';
import { insertSubscription } from '../../ledger/subscriptions.js';
import { advanceTestClock, createTestClock } from '../../ledger/test-clocks.js';
import { createWorkspace, newId, setPaymentMethod } from '../../ledger/workspaces.js';
import { periodBounds } from '../../domain/calendar.js';
import type { Interval } from '../../domain/catalog.js';
import { clockAdvancedSignal, firstPaymentSettledUpdate } from '../../workflows/messages.js';
import * as attrs from '../../workflows/search-attributes.js';
import { subscriptionLifecycleWorkflow } from '../../workflows/subscription.js';
import { eventually } from './temporal.js';

/**
 * A subscription on its own test clock, driven the way the API drives one: the clock moves in Postgres,
 * the workflow is signalled, and we wait until it reports that it has caught up.
 */
export async function subscribeOnClock(
  client: Client,
  sql: Sql,
  taskQueue: string,
  opts: { plan: string; interval: Interval; start: string; paymentMethod?: string; beforeStart?: (workspaceId: string) => Promise<void> },
) {
  const start = new Date(opts.start);
  const clock = await createTestClock(sql, start);
  const ws = await createWorkspace(sql, { name: `${opts.plan} ${opts.interval}`, testClockId: clock.id });
  await setPaymentMethod(sql, ws.id, opts.paymentMethod ?? 'pm_card_visa');
  await opts.beforeStart?.(ws.id);
  const subscriptionId = newId('sub');
  const { end } = periodBounds(start.getTime(), opts.interval, 0);
  await insertSubscription(sql, {
    id: subscriptionId, workspaceId: ws.id, plan: opts.plan, interval: opts.interval,
    periodStart: start, periodEnd: new Date(end), clockTime: start,
  });
  const handle = await client.workflow.start(subscriptionLifecycleWorkflow, {
    taskQueue,
    workflowId: `subscription-${subscriptionId}`,
    args: [{ subscriptionId, workspaceId: ws.id, plan: opts.plan, interval: opts.interval, startedAt: start.getTime(), testClockId: clock.id }],
    typedSearchAttributes: new TypedSearchAttributes([{ key: attrs.WorkspaceId, value: ws.id }]),
  });
  const first = await handle.executeUpdate(firstPaymentSettledUpdate);

  async function advance(to: string, timeoutMs = 30_000): Promise<void> {
    const target = new Date(to);
    const result = await advanceTestClock(sql, clock.id, target);
    if (!result.ok) throw new Error(`cannot advance: ${result.reason}`);
    await handle.signal(clockAdvancedSignal, { frozenTimeMs: target.getTime() });
    await eventually(
      () => sql<{ synced: Date | null }[]>`SELECT clock_synced_to AS synced FROM subscriptions WHERE id = ${subscriptionId}`,
      ([row]) => row?.synced !== null && row!.synced!.getTime() >= target.getTime(),
      timeoutMs,
    );
  }

  const invoices = () => sql<{
    id: string; kind: string; status: string; lines: { description: string; amount_cents: number }[];
    total_cents: number; amount_due_cents: number; balance_applied_cents: number; created_at: Date;
  }[]>`SELECT id, kind, status, lines, total_cents, amount_due_cents, balance_applied_cents, created_at
       FROM invoices WHERE workspace_id = ${ws.id} ORDER BY created_at, seq`;
  const lots = () => sql<{
    id: number; source: string; granted: number; remaining: number; granted_at: Date; expires_at: Date | null;
    expired_at: Date | null; frozen: boolean;
  }[]>`SELECT id, source, granted, remaining, granted_at, expires_at, expired_at, frozen FROM lots WHERE workspace_id = ${ws.id} ORDER BY id`;
  const customerBalance = async () =>
    (await sql<{ cents: number }[]>`SELECT customer_balance_cents AS cents FROM workspaces WHERE id = ${ws.id}`)[0]!.cents;

  /**
   * With RECORD_HISTORIES=1 (`npm run record-histories`), writes this run's history to test/histories/,
   * where the replay test checks on every run that workflow changes stay compatible with it.
   */
  async function recordHistory(name: string, runId?: string): Promise<void> {
    if (!process.env.RECORD_HISTORIES) return;
    // The CLI writes the proto JSON that the replayer (and the Temporal UI's import) reads.
    const address = (client.connection as Connection).options.address;
    const run = runId ? ['--run-id', runId] : [];
    const json = execFileSync(inject('temporalCliPath'), ['workflow', 'show', '--address', address, '-w', handle.workflowId, ...run, '-o', 'json'], { maxBuffer: 64 << 20 });
    writeFileSync(join(HISTORIES_DIR, `${name}.json`), json);
  }

  return { workspaceId: ws.id, subscriptionId, clockId: clock.id, handle, first, advance, invoices, lots, customerBalance, recordHistory };
}

export const HISTORIES_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'histories');

export const iso = (date: Date | null) => date?.toISOString().replace('.000Z', 'Z') ?? null;
