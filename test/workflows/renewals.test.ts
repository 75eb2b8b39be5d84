import { TypedSearchAttributes } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { insertSubscription } from '../../ledger/subscriptions.js';
import { createWorkspace, newId, setPaymentMethod } from '../../ledger/workspaces.js';
import { firstPaymentSettledUpdate, stateQuery } from '../../workflows/messages.js';
import * as attrs from '../../workflows/search-attributes.js';
import { subscriptionLifecycleWorkflow } from '../../workflows/subscription.js';
import type { Interval } from '../../domain/catalog.js';
import { eventually } from '../helpers/temporal.js';
import { useTimeSkippingStack } from '../helpers/time-skipping.js';

const DAY = 86_400_000;

describe('subscription workflow on the time-skipping server, real Postgres', () => {
  const t = useTimeSkippingStack();

  async function subscribe(plan: string, interval: Interval) {
    const ws = await createWorkspace(t.db.sql, { name: 'wf test', testClockId: null });
    await setPaymentMethod(t.db.sql, ws.id, 'pm_card_visa');
    const subscriptionId = newId('sub');
    const startedAt = await t.env.currentTimeMs();
    await insertSubscription(t.db.sql, {
      id: subscriptionId, workspaceId: ws.id, plan, interval,
      periodStart: new Date(startedAt), periodEnd: new Date(startedAt), clockTime: null,
    });
    const handle = await t.env.client.workflow.start(subscriptionLifecycleWorkflow, {
      taskQueue: t.worker.taskQueue,
      workflowId: `subscription-${subscriptionId}`,
      args: [{ subscriptionId, workspaceId: ws.id, plan, interval, startedAt, testClockId: null }],
      typedSearchAttributes: new TypedSearchAttributes([{ key: attrs.WorkspaceId, value: ws.id }]),
    });
    const first = await handle.executeUpdate(firstPaymentSettledUpdate);
    return { workspaceId: ws.id, handle, startedAt, first, firstRunId: handle.firstExecutionRunId };
  }

  const invoicesOf = (workspaceId: string) =>
    t.db.sql<{ total_cents: number; status: string; created_at: Date }[]>`
      SELECT total_cents, status, created_at FROM invoices WHERE workspace_id = ${workspaceId} ORDER BY created_at`;
  const lotsOf = (workspaceId: string) =>
    t.db.sql<{ granted: number; remaining: number; granted_at: Date; expires_at: Date; expired_at: Date | null }[]>`
      SELECT granted, remaining, granted_at, expires_at, expired_at FROM lots WHERE workspace_id = ${workspaceId} ORDER BY id`;

  it('runs three monthly cycles: charges every 30 days, grants a lot each time, expires rolled-over lots on time', async () => {
    const { workspaceId, handle, startedAt, first } = await subscribe('max', 'month');
    expect(first.status).toBe('active');
    expect(first.current_period_end).toBe(new Date(startedAt + 30 * DAY).toISOString());

    await t.env.sleep(90 * DAY + 60_000);
    await eventually(() => handle.query(stateQuery), (s) => Date.parse(s.next_due_at!) > startedAt + 90 * DAY);

    const invoices = await invoicesOf(workspaceId);
    expect(invoices.map((i) => [i.total_cents, i.status, i.created_at.getTime() - startedAt])).toEqual([
      [2900, 'paid', 0], [2900, 'paid', 30 * DAY], [2900, 'paid', 60 * DAY], [2900, 'paid', 90 * DAY],
    ]);
    const lots = await lotsOf(workspaceId);
    expect(lots.map((l) => [l.granted, l.granted_at.getTime() - startedAt, l.expires_at.getTime() - startedAt])).toEqual([
      [400, 0, 60 * DAY], [400, 30 * DAY, 90 * DAY], [400, 60 * DAY, 120 * DAY], [400, 90 * DAY, 150 * DAY],
    ]);
    // Lots 0 and 1 reached their expiry (next refresh + 30 days) and were journaled as expired.
    expect(lots.map((l) => (l.expired_at ? l.expired_at.getTime() - startedAt : null))).toEqual([60 * DAY, 90 * DAY, null, null]);
    expect(lots.map((l) => l.remaining)).toEqual([0, 0, 400, 400]);
    const state = await handle.query(stateQuery);
    expect(state).toMatchObject({ status: 'active', plan: 'max', interval: 'month' });
    expect(state.current_period_start).toBe(new Date(startedAt + 90 * DAY).toISOString());
  });

  it('runs a yearly plan: twelve monthly refreshes, then renews on the same calendar day', async () => {
    const { workspaceId, handle, startedAt, first } = await subscribe('plus', 'year');
    expect(first.status).toBe('active');
    const nextYear = new Date(startedAt);
    nextYear.setUTCFullYear(nextYear.getUTCFullYear() + 1);

    await t.env.sleep(nextYear.getTime() - startedAt + 60_000);
    await eventually(() => handle.query(stateQuery), (s) => s.current_period_start === nextYear.toISOString());

    const invoices = await invoicesOf(workspaceId);
    expect(invoices.map((i) => [i.total_cents, i.created_at.toISOString()])).toEqual([
      [8640, new Date(startedAt).toISOString()], [8640, nextYear.toISOString()],
    ]);
    const lots = await lotsOf(workspaceId);
    expect(lots).toHaveLength(13);
    expect(lots.every((l) => l.granted === 150)).toBe(true);
    const grantMonths = lots.map((l) => l.granted_at.toISOString().slice(0, 7));
    const expectedMonths = Array.from({ length: 13 }, (_, k) => {
      const d = new Date(startedAt);
      d.setUTCDate(1);
      d.setUTCMonth(d.getUTCMonth() + k);
      return d.toISOString().slice(0, 7);
    });
    expect(grantMonths).toEqual(expectedMonths);
  });

  /** Follows the continue-as-new chain from the first run and counts every run's events. */
  async function eventsAcrossRuns(workflowId: string, firstRunId: string): Promise<number> {
    let total = 0;
    let runId: string | undefined = firstRunId;
    while (runId) {
      const history: { events?: { workflowExecutionContinuedAsNewEventAttributes?: { newExecutionRunId?: string | null } | null }[] | null } =
        await t.env.client.workflow.getHandle(workflowId, runId).fetchHistory();
      const events = history.events ?? [];
      total += events.length;
      runId = events.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
    }
    return total;
  }

  it.each([['max', 'month'], ['generative', 'year']] as const)(
    'keeps a subscription-year of a %s %sly plan under 200 history events (DESIGN budget)',
    async (plan, interval) => {
      const { handle, startedAt, firstRunId } = await subscribe(plan, interval);
      const yearLater = new Date(startedAt);
      yearLater.setUTCFullYear(yearLater.getUTCFullYear() + 1);
      await t.env.sleep(yearLater.getTime() - startedAt + 60_000);
      await eventually(() => handle.query(stateQuery), (s) => Date.parse(s.current_period_start) >= yearLater.getTime() - 31 * DAY);
      const events = await eventsAcrossRuns(handle.workflowId, firstRunId);
      expect(events).toBeLessThanOrEqual(200);
      console.log(`history events for one ${interval}ly subscription-year: ${events}`);
    },
  );
});
