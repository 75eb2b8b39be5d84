import { describe, expect, it } from 'vitest';
import { advanceTestClock } from '../../ledger/test-clocks.js';
import { cancelUpdate, clockAdvancedSignal, paymentMethodUpdatedSignal, stateQuery } from '../../workflows/messages.js';
import { subscribeOnClock } from '../helpers/clock-harness.js';
import { eventually } from '../helpers/temporal.js';
import { useTimeSkippingStack } from '../helpers/time-skipping.js';

/**
 * Continue-as-new keeps histories short (every 12 refreshes) and must not lose a message that arrives at
 * the boundary: the loop drains the queue after its last publication, so a signal is applied and an
 * Update is answered in this run or the next, never dropped or left hanging.
 */
describe('continue-as-new at the boundary', () => {
  const t = useTimeSkippingStack();

  it('answers an Update and applies a signal sent with the advance that ends the run, then carries on renewing', { timeout: 120_000 }, async () => {
    const sub = await subscribeOnClock(t.env.client, t.db.sql, t.worker.taskQueue, { plan: 'max', interval: 'month', start: '2026-01-01T00:00:00Z' });
    const firstRun = (await sub.handle.describe()).runId;
    // Thirteen refreshes ahead: the run continues as new after the twelfth. The Update and the signal race it.
    const target = Date.parse('2027-01-01T00:00:00Z');
    expect((await advanceTestClock(t.db.sql, sub.clockId, new Date(target))).ok).toBe(true);
    await sub.handle.signal(clockAdvancedSignal, { frozenTimeMs: target });
    const [view] = await Promise.all([
      sub.handle.executeUpdate(cancelUpdate),
      sub.handle.signal(paymentMethodUpdatedSignal),
    ]);
    expect(view.cancel_at_period_end).toBe(true);
    await eventually(() => t.db.sql<{ synced: Date }[]>`SELECT clock_synced_to AS synced FROM subscriptions WHERE id = ${sub.subscriptionId}`,
      ([row]) => row!.synced.getTime() >= target);

    expect((await sub.handle.describe()).runId).not.toBe(firstRun);
    const history = await t.env.client.workflow.getHandle(sub.handle.workflowId, firstRun).fetchHistory();
    expect(history.events!.at(-1)!.workflowExecutionContinuedAsNewEventAttributes).toBeTruthy();
    // Nothing was lost across the boundary: the cancellation stands, and no period was charged twice.
    expect((await sub.handle.query(stateQuery)).cancel_at_period_end).toBe(true);
    const invoices = await sub.invoices();
    expect(invoices.map((i) => i.created_at.toISOString().slice(0, 10))).toEqual([...new Set(invoices.map((i) => i.created_at.toISOString().slice(0, 10)))]);
    expect(invoices).toHaveLength(13); // 2026-01-01 and twelve renewals every 30 days up to 2026-12-27
    await sub.recordHistory('continue-as-new-first-run', firstRun);
  });
});
