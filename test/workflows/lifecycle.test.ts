import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buyPack } from '../../billing/packs.js';
import { getWorkspace, setPaymentMethod } from '../../ledger/workspaces.js';
import { createSandboxProvider } from '../../payments/sandbox.js';
import {
  cancelUpdate, changePlanUpdate, paymentMethodUpdatedSignal, pauseUpdate, resumeUpdate, stateQuery,
} from '../../workflows/messages.js';
import { iso, subscribeOnClock } from '../helpers/clock-harness.js';
import { freshDatabase } from '../helpers/database.js';
import { startTestWorker, startTimeSkippingEnv } from '../helpers/temporal.js';

/** SPEC §9 examples 2–9 on the time-skipping server, real activities on real Postgres, exact dates. */
describe('subscription lifecycle (SPEC examples 2–9)', () => {
  let env: TestWorkflowEnvironment;
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let worker: Awaited<ReturnType<typeof startTestWorker>>;
  const subscribe = (opts: Parameters<typeof subscribeOnClock>[3]) => subscribeOnClock(env.client, db.sql, worker.taskQueue, opts);

  beforeAll(async () => {
    [env, db] = await Promise.all([startTimeSkippingEnv(), freshDatabase()]);
    worker = await startTestWorker(env.nativeConnection, db.sql);
  });
  afterAll(async () => {
    await worker?.stop();
    await env?.teardown();
    await db?.drop();
  });

  it('example 2: upgrade Plus → Max on 01-11 prorates −800/+1933 and grants 166 credits expiring with lot A', async () => {
    const sub = await subscribe({ plan: 'plus', interval: 'month', start: '2026-01-01T00:00:00Z' });
    await sub.advance('2026-01-11T00:00:00Z');
    const result = await sub.handle.executeUpdate(changePlanUpdate, { args: [{ plan: 'max' }] });
    expect(result).toMatchObject({ kind: 'upgrade', effective_at: '2026-01-11T00:00:00.000Z', credits_granted: 166 });
    const upgrade = (await sub.invoices()).find((i) => i.kind === 'upgrade')!;
    expect(upgrade.lines.map((l) => [l.description, l.amount_cents])).toEqual([
      ['Unused time on Plus (monthly)', -800], ['Remaining time on Max (monthly)', 1933],
    ]);
    expect([upgrade.total_cents, upgrade.status, iso(upgrade.created_at)]).toEqual([1133, 'paid', '2026-01-11T00:00:00Z']);
    const lots = await sub.lots();
    expect(lots.map((l) => [l.source, l.granted, iso(l.expires_at)])).toEqual([
      ['monthly', 150, '2026-03-02T00:00:00Z'], ['upgrade', 166, '2026-03-02T00:00:00Z'],
    ]);
    expect((await sub.handle.query(stateQuery)).plan).toBe('max');

    await sub.advance('2026-01-31T00:00:00Z');
    const renewal = (await sub.invoices()).at(-1)!;
    expect([renewal.kind, renewal.total_cents, iso(renewal.created_at)]).toEqual(['subscription', 2900, '2026-01-31T00:00:00Z']);
    expect((await sub.lots()).at(-1)).toMatchObject({ source: 'monthly', granted: 400 });
    await sub.recordHistory('example-2-upgrade');
  });

  it('example 3: downgrade Generative → Max is scheduled for 01-31, then charges 2900, grants 400 and keeps 3 custom models', async () => {
    const sub = await subscribe({
      plan: 'generative', interval: 'month', start: '2026-01-01T00:00:00Z',
      beforeStart: async (workspaceId) => {
        for (let i = 1; i <= 5; i++) {
          await db.sql`INSERT INTO custom_models (id, workspace_id, name, last_used_at, created_at)
                       VALUES (${`cm_${workspaceId}_${i}`}, ${workspaceId}, ${`model ${i}`}, ${new Date(Date.UTC(2025, 11, i))}, ${new Date(Date.UTC(2025, 10, 1))})`;
        }
      },
    });
    await sub.advance('2026-01-20T00:00:00Z');
    const result = await sub.handle.executeUpdate(changePlanUpdate, { args: [{ plan: 'max' }] });
    expect(result).toEqual({ kind: 'downgrade', effective_at: '2026-01-31T00:00:00.000Z' });
    const before = await sub.handle.query(stateQuery);
    expect([before.plan, before.scheduled_change]).toEqual(['generative', { plan: 'max', effective_at: '2026-01-31T00:00:00.000Z' }]);

    await sub.advance('2026-01-31T00:00:00Z');
    const after = await sub.handle.query(stateQuery);
    expect([after.plan, after.scheduled_change]).toEqual(['max', null]);
    const renewal = (await sub.invoices()).at(-1)!;
    expect([renewal.total_cents, iso(renewal.created_at)]).toEqual([2900, '2026-01-31T00:00:00Z']);
    expect((await sub.lots()).at(-1)).toMatchObject({ granted: 400 });
    const models = await db.sql<{ name: string; active: boolean }[]>`
      SELECT name, active FROM custom_models WHERE workspace_id = ${sub.workspaceId} ORDER BY name`;
    expect(models.map((m) => [m.name, m.active])).toEqual([
      ['model 1', false], ['model 2', false], ['model 3', true], ['model 4', true], ['model 5', true],
    ]);
    const [notice] = await db.sql`SELECT kind, payload FROM notifications WHERE workspace_id = ${sub.workspaceId} AND kind = 'downgrade_applied'`;
    expect(notice!.payload.plan).toBe('max');
  });

  it('example 4: monthly → yearly on 01-11 charges −1933 + 20880, re-anchors and grants 134 (400 − floor(400 × 20/30)) expiring 03-13', async () => {
    const sub = await subscribe({ plan: 'max', interval: 'month', start: '2026-01-01T00:00:00Z' });
    await sub.advance('2026-01-11T00:00:00Z');
    const result = await sub.handle.executeUpdate(changePlanUpdate, { args: [{ interval: 'year' }] });
    expect(result).toMatchObject({ kind: 'interval_switch', effective_at: '2026-01-11T00:00:00.000Z', credits_granted: 134 });
    const invoice = (await sub.invoices()).find((i) => i.kind === 'interval_switch')!;
    expect(invoice.lines.map((l) => l.amount_cents)).toEqual([-1933, 20880]);
    expect([invoice.total_cents, invoice.amount_due_cents]).toEqual([18947, 18947]);
    const state = await sub.handle.query(stateQuery);
    expect([state.interval, state.current_period_start, state.current_period_end]).toEqual([
      'year', '2026-01-11T00:00:00.000Z', '2027-01-11T00:00:00.000Z',
    ]);
    expect((await sub.lots()).map((l) => [l.granted, iso(l.granted_at), iso(l.expires_at)])).toEqual([
      [400, '2026-01-01T00:00:00Z', '2026-03-02T00:00:00Z'], [134, '2026-01-11T00:00:00Z', '2026-03-13T00:00:00Z'],
    ]);
  });

  it('example 5: yearly → monthly on 07-02 leaves a 7569 balance that pays 08-01 and 08-31 and 1769 of 09-30', async () => {
    const sub = await subscribe({ plan: 'max', interval: 'year', start: '2026-01-01T00:00:00Z' });
    await sub.advance('2026-07-02T00:00:00Z');
    const result = await sub.handle.executeUpdate(changePlanUpdate, { args: [{ interval: 'month' }] });
    // 30 of July's 31 refresh days are unused: 400 − floor(400 × 30/31) = 13.
    expect(result).toMatchObject({ kind: 'interval_switch', credits_granted: 13 });
    expect((await sub.lots()).map((l) => [l.source, l.granted, iso(l.granted_at)]).at(-1)).toEqual(['monthly', 13, '2026-07-02T00:00:00Z']);
    const invoice = (await sub.invoices()).find((i) => i.kind === 'interval_switch')!;
    expect(invoice.lines.map((l) => l.amount_cents)).toEqual([-10469, 2900]);
    expect([invoice.total_cents, invoice.amount_due_cents, invoice.status]).toEqual([-7569, 0, 'paid']);
    expect(await sub.customerBalance()).toBe(7569);

    await sub.advance('2026-09-30T00:00:00Z');
    const renewals = (await sub.invoices()).filter((i) => i.kind === 'subscription' && i.created_at > new Date('2026-07-02'));
    expect(renewals.map((i) => [iso(i.created_at), i.total_cents, i.balance_applied_cents, i.amount_due_cents])).toEqual([
      ['2026-08-01T00:00:00Z', 2900, 2900, 0], ['2026-08-31T00:00:00Z', 2900, 2900, 0], ['2026-09-30T00:00:00Z', 2900, 1769, 1131],
    ]);
    expect(await sub.customerBalance()).toBe(0);
    await sub.recordHistory('example-5-yearly-to-monthly');
  });

  it('example 6: Plus yearly from 29 Feb 2028 renews on 28 Feb, 29 Feb in leap years, and refreshes monthly', async () => {
    const sub = await subscribe({ plan: 'plus', interval: 'year', start: '2028-02-29T09:00:00Z' });
    await sub.advance('2032-03-01T00:00:00Z');
    expect((await sub.invoices()).map((i) => [iso(i.created_at), i.total_cents])).toEqual([
      ['2028-02-29T09:00:00Z', 8640], ['2029-02-28T09:00:00Z', 8640], ['2030-02-28T09:00:00Z', 8640],
      ['2031-02-28T09:00:00Z', 8640], ['2032-02-29T09:00:00Z', 8640],
    ]);
    const grants = (await sub.lots()).map((l) => iso(l.granted_at));
    expect(grants.slice(0, 13)).toEqual([
      '2028-02-29T09:00:00Z', '2028-03-29T09:00:00Z', '2028-04-29T09:00:00Z', '2028-05-29T09:00:00Z', '2028-06-29T09:00:00Z',
      '2028-07-29T09:00:00Z', '2028-08-29T09:00:00Z', '2028-09-29T09:00:00Z', '2028-10-29T09:00:00Z', '2028-11-29T09:00:00Z',
      '2028-12-29T09:00:00Z', '2029-01-29T09:00:00Z', '2029-02-28T09:00:00Z',
    ]);
    expect(grants).toHaveLength(4 * 12 + 1);
    // Every lot but the two newest has been journaled as expired, 30 days after the next refresh.
    const lots = await sub.lots();
    expect(lots.filter((l) => l.expired_at !== null)).toHaveLength(lots.length - 2);
    expect(iso(lots[11]!.expires_at)).toBe('2029-03-30T09:00:00Z');
  });

  it('example 7: cancel keeps the plan until 01-31, then forfeits monthly credits and freezes packs; restart on 02-10 thaws them', async () => {
    const sub = await subscribe({ plan: 'max', interval: 'month', start: '2026-01-01T00:00:00Z' });
    const payments = createSandboxProvider({ publicUrl: 'http://localhost', sql: db.sql });
    const workspace = (await getWorkspace(db.sql, sub.workspaceId))!;
    for (const key of ['first', 'second']) await buyPack({ sql: db.sql, payments }, workspace, { size: 100, idempotencyKey: key });
    await sub.advance('2026-01-20T00:00:00Z');
    expect((await sub.handle.executeUpdate(cancelUpdate)).cancel_at_period_end).toBe(true);
    await sub.advance('2026-01-30T23:59:59Z');
    expect((await sub.handle.query(stateQuery)).status).toBe('active');

    await sub.advance('2026-01-31T00:00:00Z');
    expect((await sub.handle.query(stateQuery)).status).toBe('canceled');
    let lots = await sub.lots();
    expect(lots.map((l) => [l.source, l.remaining, l.frozen])).toEqual([['monthly', 0, false], ['pack', 100, true], ['pack', 100, true]]);
    expect((await sub.invoices()).filter((i) => i.kind === 'subscription')).toHaveLength(1);

    await sub.advance('2026-02-10T00:00:00Z');
    const restarted = await sub.handle.executeUpdate(resumeUpdate);
    expect(restarted).toMatchObject({
      status: 'active', current_period_start: '2026-02-10T00:00:00.000Z', current_period_end: '2026-03-12T00:00:00.000Z',
    });
    const charge = (await sub.invoices()).at(-1)!;
    expect([charge.total_cents, iso(charge.created_at)]).toEqual([2900, '2026-02-10T00:00:00Z']);
    lots = await sub.lots();
    expect(lots.map((l) => [l.source, l.remaining, l.frozen])).toEqual([
      ['monthly', 0, false], ['pack', 100, false], ['pack', 100, false], ['monthly', 400, false],
    ]);
    await sub.recordHistory('example-7-cancel-restart');
  });

  it('example 8: pause for one cycle from 01-31: no charge, lot A spendable until 03-02, then charged and re-anchored', async () => {
    const sub = await subscribe({ plan: 'max', interval: 'month', start: '2026-01-01T00:00:00Z' });
    await sub.advance('2026-01-20T00:00:00Z');
    expect((await sub.handle.executeUpdate(pauseUpdate, { args: [{ cycles: 1 }] })).pause).toEqual({
      cycles: 1, starts_at: '2026-01-31T00:00:00.000Z', resumes_at: null,
    });
    await sub.advance('2026-02-15T00:00:00Z');
    const paused = await sub.handle.query(stateQuery);
    expect([paused.status, paused.pause?.resumes_at]).toEqual(['paused', '2026-03-02T00:00:00.000Z']);
    expect(await sub.invoices()).toHaveLength(1);
    expect((await sub.lots()).map((l) => [l.remaining, l.expired_at])).toEqual([[400, null]]);

    await sub.advance('2026-03-02T00:00:00Z');
    const resumed = await sub.handle.query(stateQuery);
    expect([resumed.status, resumed.current_period_start, resumed.pause]).toEqual(['active', '2026-03-02T00:00:00.000Z', null]);
    expect((await sub.invoices()).map((i) => [iso(i.created_at), i.total_cents])).toEqual([
      ['2026-01-01T00:00:00Z', 2900], ['2026-03-02T00:00:00Z', 2900],
    ]);
    expect((await sub.lots()).map((l) => [iso(l.granted_at), iso(l.expires_at), iso(l.expired_at)])).toEqual([
      ['2026-01-01T00:00:00Z', '2026-03-02T00:00:00Z', '2026-03-02T00:00:00Z'],
      ['2026-03-02T00:00:00Z', '2026-05-01T00:00:00Z', null],
    ]);
    await sub.recordHistory('example-8-pause');
  });

  it('example 9: a declined renewal is past due, retried on 02-01, and paid at once when the card is updated on 02-02', async () => {
    const sub = await subscribe({ plan: 'max', interval: 'month', start: '2026-01-01T00:00:00Z' });
    await setPaymentMethod(db.sql, sub.workspaceId, 'pm_card_chargeDeclined');
    await sub.advance('2026-01-31T00:00:00Z');
    expect((await sub.handle.query(stateQuery)).status).toBe('past_due');
    expect(await sub.lots()).toHaveLength(1);
    await sub.advance('2026-02-01T12:00:00Z');
    const [renewal] = (await sub.invoices()).slice(-1);
    expect([renewal!.status, iso(renewal!.created_at)]).toEqual(['open', '2026-01-31T00:00:00Z']);
    const failures = await db.sql`SELECT payload FROM notifications WHERE workspace_id = ${sub.workspaceId} AND kind = 'payment_failed'`;
    expect(failures).toHaveLength(2); // the due date and the retry of 02-01

    await sub.advance('2026-02-02T00:00:00Z');
    await setPaymentMethod(db.sql, sub.workspaceId, 'pm_card_visa');
    await sub.handle.signal(paymentMethodUpdatedSignal);
    const { eventually } = await import('../helpers/temporal.js');
    await eventually(() => sub.handle.query(stateQuery), (s) => s.status === 'active');
    const lots = await sub.lots();
    expect(lots.map((l) => [l.granted, iso(l.granted_at), iso(l.expires_at)])).toEqual([
      [400, '2026-01-01T00:00:00Z', '2026-03-02T00:00:00Z'], [400, '2026-02-02T00:00:00Z', '2026-04-01T00:00:00Z'],
    ]);
    const paid = (await sub.invoices()).filter((i) => i.kind === 'subscription');
    expect(paid.map((i) => [i.status, i.total_cents])).toEqual([['paid', 2900], ['paid', 2900]]);
    await sub.recordHistory('example-9-dunning');
  });

  it('ends a subscription that stays unpaid after the last retry on day 7', async () => {
    const sub = await subscribe({ plan: 'plus', interval: 'month', start: '2026-01-01T00:00:00Z' });
    await setPaymentMethod(db.sql, sub.workspaceId, 'pm_card_chargeDeclined');
    await sub.advance('2026-02-06T00:00:00Z');
    expect((await sub.handle.query(stateQuery)).status).toBe('past_due');
    await sub.advance('2026-02-07T00:00:00Z');
    expect((await sub.handle.query(stateQuery)).status).toBe('canceled');
    expect((await sub.invoices()).at(-1)!.status).toBe('void');
    expect((await sub.lots())[0]!.remaining).toBe(0); // forfeited with the subscription
  });

  it('refuses invalid requests in the validator: nothing is accepted into history', async () => {
    const sub = await subscribe({ plan: 'max', interval: 'month', start: '2026-01-01T00:00:00Z' });
    // The time-skipping server still records a workflow task for a rejected update (the dev server does
    // not: the end-to-end test checks the history stays the same there); no update is ever accepted.
    const accepted = async () => (await sub.handle.fetchHistory()).events!.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes).length;
    const before = await accepted();
    const refusal = async (run: () => Promise<unknown>) => {
      const error = await run().then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(WorkflowUpdateFailedError);
      return (error as WorkflowUpdateFailedError).cause as { type?: string };
    };
    expect((await refusal(() => sub.handle.executeUpdate(changePlanUpdate, { args: [{ plan: 'max' }] }))).type).toBe('same_plan');
    expect((await refusal(() => sub.handle.executeUpdate(changePlanUpdate, { args: [{ plan: 'gold' }] }))).type).toBe('unknown_plan');
    expect((await refusal(() => sub.handle.executeUpdate(resumeUpdate))).type).toBe('nothing_to_resume');
    expect((await refusal(() => sub.handle.executeUpdate(pauseUpdate, { args: [{ cycles: 4 }] }))).type).toBe('invalid_request');
    expect(await accepted()).toBe(before);

    await sub.handle.executeUpdate(pauseUpdate, { args: [{ cycles: 1 }] });
    expect((await refusal(() => sub.handle.executeUpdate(pauseUpdate, { args: [{ cycles: 1 }] }))).type).toBe('already_paused');
    expect(await accepted()).toBe(before + 1);
  });
});
