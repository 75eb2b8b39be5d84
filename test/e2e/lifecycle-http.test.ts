import type { WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idempotencyKey } from '../../client/index.js';
import { ADMIN_KEY, startStack } from '../helpers/stack.js';
import { eventually } from '../helpers/temporal.js';
import { advanceTestClock, type Change, type PlanId, problemOf } from '../helpers/typed-client.js';

type HistoryEvent = NonNullable<Awaited<ReturnType<WorkflowHandle['fetchHistory']>>['events']>[number];

const T = (day: string) => `${day}T00:00:00.000Z`;

/** SPEC §9 examples 2, 3, 7 and 9 and the refusals of §4/§8, end to end over HTTP, each on its own test clock. */
describe('subscription lifecycle over HTTP', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => stack?.stop());

  /** A workspace on a fresh clock at 2026-01-01, paying with pm_card_visa and subscribed to `plan` monthly. */
  async function subscribed(plan: PlanId, beforeSubscribe?: (workspaceId: string) => Promise<void>) {
    const operator = stack.client(ADMIN_KEY);
    const clock = await operator.POST('/v1/test-clocks', { body: { frozen_time: '2026-01-01T00:00:00Z' } });
    expect(clock.response.status).toBe(201);
    const ws = await operator.POST('/v1/workspaces', { body: { name: `${plan} monthly`, test_clock_id: clock.data!.id } });
    expect(ws.response.status).toBe(201);
    const { api_key: apiKey, id: workspaceId } = ws.data!;
    const customer = stack.client(apiKey);
    expect((await customer.PUT('/v1/payment-method', { body: { payment_method: 'pm_card_visa' } })).response.status).toBe(200);
    await beforeSubscribe?.(workspaceId);
    const sub = await customer.POST('/v1/subscription', { body: { plan, interval: 'month' } });
    expect(sub.response.status).toBe(201);
    expect(sub.data).toMatchObject({ status: 'active', plan, current_period_start: T('2026-01-01'), current_period_end: T('2026-01-31') });
    return {
      customer,
      apiKey,
      workspaceId,
      subscriptionId: sub.data!.id,
      advance: (to: string) => advanceTestClock(operator, clock.data!.id, to),
      subscription: async () => (await customer.GET('/v1/subscription')).data!,
      invoices: async () => (await customer.GET('/v1/invoices')).data!.data,
      credits: async () => (await customer.GET('/v1/credits')).data!,
    };
  }

  function expectProblem(result: { response: Response; error?: unknown }, status: number, code: string) {
    expect(problemOf(result)).toEqual({ status, code, problemJson: true });
  }

  it('example 2: upgrade Plus → Max on 01-11 invoices −800/+1933, grants 166 credits to 03-02, then renews at 2900 with 400', async () => {
    const sub = await subscribed('plus');
    await sub.advance('2026-01-11T00:00:00Z');

    const change = await sub.customer.POST('/v1/subscription/change', { body: { plan: 'max' } });
    expect(change.response.status).toBe(200);
    expect(change.data).toMatchObject({ kind: 'upgrade', effective_at: T('2026-01-11'), credits_granted: 166 });
    expect(change.data!.pending).toBeFalsy();

    const [upgrade] = await sub.invoices();
    expect(change.data!.latest_invoice).toMatchObject({ id: change.data!.invoice_id, kind: 'upgrade', total_cents: 1133 });
    expect(upgrade).toMatchObject({ id: change.data!.invoice_id, kind: 'upgrade', status: 'paid', total_cents: 1133, amount_due_cents: 1133, created_at: T('2026-01-11') });
    expect(upgrade!.lines).toEqual([
      { description: 'Unused time on Plus (monthly)', amount_cents: -800 },
      { description: 'Remaining time on Max (monthly)', amount_cents: 1933 },
    ]);
    const credits = await sub.credits();
    expect(credits.available).toBe(150 + 166);
    expect(credits.lots.map((l) => [l.source, l.granted, l.remaining, l.granted_at, l.expires_at])).toEqual([
      ['monthly', 150, 150, T('2026-01-01'), T('2026-03-02')],
      ['upgrade', 166, 166, T('2026-01-11'), T('2026-03-02')],
    ]);
    expect(await sub.subscription()).toMatchObject({ plan: 'max', status: 'active', current_period_end: T('2026-01-31') });

    await sub.advance('2026-01-31T00:00:00Z');
    const invoices = await sub.invoices();
    expect(invoices.map((i) => [i.kind, i.status, i.total_cents, i.created_at])).toEqual([
      ['subscription', 'paid', 2900, T('2026-01-31')],
      ['upgrade', 'paid', 1133, T('2026-01-11')],
      ['subscription', 'paid', 1200, T('2026-01-01')],
    ]);
    const renewed = await sub.credits();
    expect(renewed.lots.map((l) => [l.source, l.granted, l.granted_at, l.expires_at])).toEqual([
      ['monthly', 150, T('2026-01-01'), T('2026-03-02')],
      ['upgrade', 166, T('2026-01-11'), T('2026-03-02')],
      ['monthly', 400, T('2026-01-31'), T('2026-04-01')],
    ]);
    expect(renewed.available).toBe(150 + 166 + 400);
    expect(await sub.subscription()).toMatchObject({ plan: 'max', status: 'active', current_period_start: T('2026-01-31'), current_period_end: T('2026-03-02') });
  });

  it('example 3: downgrade Generative → Max on 01-20 is scheduled (and withdrawable) until 01-31, then charges 2900, grants 400 and keeps 3 custom models', async () => {
    const sub = await subscribed('generative', async (workspaceId) => {
      for (let i = 1; i <= 5; i++) {
        await stack.sql`INSERT INTO custom_models (id, workspace_id, name, active, last_used_at, created_at)
                        VALUES (${`cm_${workspaceId}_${i}`}, ${workspaceId}, ${`model ${i}`}, true,
                                ${new Date(Date.UTC(2025, 11, i))}, ${new Date(Date.UTC(2025, 10, 1))})`;
      }
    });
    await sub.advance('2026-01-20T00:00:00Z');

    const scheduled = { plan: 'max', effective_at: T('2026-01-31') };
    const change = await sub.customer.POST('/v1/subscription/change', { body: { plan: 'max' } });
    expect(change.response.status).toBe(200);
    expect(change.data).toEqual({ kind: 'downgrade', effective_at: T('2026-01-31'), invoice_id: null, latest_invoice: null });
    expect(await sub.subscription()).toMatchObject({ plan: 'generative', status: 'active', scheduled_change: scheduled });
    expect(await sub.invoices()).toHaveLength(1); // nothing charged for a downgrade until it happens

    // Withdrawn: the plan stays as it is.
    const withdrawn = await sub.customer.DELETE('/v1/subscription/scheduled-change');
    expect(withdrawn.response.status).toBe(200);
    expect(withdrawn.data).toMatchObject({ plan: 'generative', scheduled_change: null });
    expect(await sub.subscription()).toMatchObject({ plan: 'generative', scheduled_change: null });
    expectProblem(await sub.customer.DELETE('/v1/subscription/scheduled-change'), 409, 'no_scheduled_change');

    // Scheduled again.
    await sub.advance('2026-01-25T00:00:00Z');
    const again = await sub.customer.POST('/v1/subscription/change', { body: { plan: 'max' } });
    expect(again.response.status).toBe(200);
    expect(again.data).toEqual({ kind: 'downgrade', effective_at: T('2026-01-31'), invoice_id: null, latest_invoice: null });
    expect(await sub.subscription()).toMatchObject({ plan: 'generative', scheduled_change: scheduled });

    await sub.advance('2026-01-30T23:59:59Z');
    expect(await sub.subscription()).toMatchObject({ plan: 'generative', scheduled_change: scheduled });
    expect((await stack.sql`SELECT id FROM custom_models WHERE workspace_id = ${sub.workspaceId} AND active`).length).toBe(5);

    await sub.advance('2026-01-31T00:00:00Z');
    expect(await sub.subscription()).toMatchObject({
      plan: 'max', status: 'active', scheduled_change: null, current_period_start: T('2026-01-31'), current_period_end: T('2026-03-02'),
    });
    const invoices = await sub.invoices();
    expect(invoices.map((i) => [i.kind, i.status, i.total_cents, i.created_at])).toEqual([
      ['subscription', 'paid', 2900, T('2026-01-31')],
      ['subscription', 'paid', 5900, T('2026-01-01')],
    ]);
    expect((await sub.credits()).lots.map((l) => [l.source, l.granted, l.granted_at, l.expires_at])).toEqual([
      ['monthly', 900, T('2026-01-01'), T('2026-03-02')],
      ['monthly', 400, T('2026-01-31'), T('2026-04-01')],
    ]);
    const models = await stack.sql<{ name: string; active: boolean }[]>`
      SELECT name, active FROM custom_models WHERE workspace_id = ${sub.workspaceId} ORDER BY name`;
    expect(models.map((m) => [m.name, m.active])).toEqual([
      ['model 1', false], ['model 2', false], ['model 3', true], ['model 4', true], ['model 5', true],
    ]);
  });

  it('example 7: cancel on 01-20 keeps Max until 01-31, then forfeits the lot and freezes both packs; restart on 02-10 charges 2900 and thaws them', async () => {
    const sub = await subscribed('max');
    const buyPack = (key: string) => sub.customer.POST('/v1/credit-packs', { body: { size: 100 }, ...idempotencyKey(key) });
    const packs: NonNullable<Awaited<ReturnType<typeof buyPack>>['data']>[] = [];
    for (const key of ['pack-one', 'pack-two']) {
      const pack = await buyPack(key);
      expect(pack.response.status).toBe(201);
      expect(pack.data!.invoice).toMatchObject({ kind: 'pack', status: 'paid', total_cents: 800, amount_due_cents: 800, created_at: T('2026-01-01') });
      expect(pack.data!.lot).toEqual(expect.any(String));
      packs.push(pack.data!);
    }
    // A retried purchase (same Idempotency-Key) is the first one, not a third pack.
    const retried = await buyPack('pack-one');
    expect(retried.response.status).toBe(201);
    expect([retried.data!.invoice.id, retried.data!.lot]).toEqual([packs[0]!.invoice.id, packs[0]!.lot]);
    const bought = await sub.credits();
    expect(bought.available).toBe(400 + 200);
    expect(bought.lots.filter((l) => l.source === 'pack').map((l) => l.id)).toEqual(packs.map((p) => p.lot));

    await sub.advance('2026-01-20T00:00:00Z');
    const cancel = await sub.customer.POST('/v1/subscription/cancel');
    expect(cancel.response.status).toBe(200);
    expect(cancel.data).toMatchObject({ status: 'active', cancel_at_period_end: true, current_period_end: T('2026-01-31') });
    expect(await sub.subscription()).toMatchObject({ status: 'active', cancel_at_period_end: true });

    await sub.advance('2026-01-30T23:59:59Z');
    expect(await sub.subscription()).toMatchObject({ status: 'active', cancel_at_period_end: true });
    expect((await sub.credits()).available).toBe(600);

    await sub.advance('2026-01-31T00:00:00Z');
    expect(await sub.subscription()).toMatchObject({ status: 'canceled', cancel_at_period_end: false });
    const ended = await sub.credits();
    expect(ended.available).toBe(0);
    // The monthly lot is forfeited (it ends now, so it is no longer listed); the packs are kept, frozen.
    expect(ended.lots.map((l) => [l.source, l.remaining, l.frozen])).toEqual([['pack', 100, true], ['pack', 100, true]]);
    expect((await sub.invoices()).filter((i) => i.kind === 'subscription')).toHaveLength(1); // no renewal

    await sub.advance('2026-02-10T00:00:00Z');
    const restart = await sub.customer.POST('/v1/subscription/resume');
    expect(restart.response.status).toBe(200);
    expect(restart.data).toMatchObject({
      status: 'active', plan: 'max', cancel_at_period_end: false,
      current_period_start: T('2026-02-10'), current_period_end: T('2026-03-12'),
    });
    expect(await sub.subscription()).toMatchObject({ status: 'active', current_period_start: T('2026-02-10'), current_period_end: T('2026-03-12') });
    const [charge] = await sub.invoices();
    expect(charge).toMatchObject({ kind: 'subscription', status: 'paid', total_cents: 2900, created_at: T('2026-02-10') });
    const restarted = await sub.credits();
    expect(restarted.available).toBe(400 + 200);
    expect(restarted.lots.map((l) => [l.source, l.remaining, l.frozen, l.granted_at, l.expires_at])).toEqual([
      ['monthly', 400, false, T('2026-02-10'), T('2026-04-11')],
      ['pack', 100, false, T('2026-01-01'), null],
      ['pack', 100, false, T('2026-01-01'), null],
    ]);
  });

  it('example 9: a declined renewal on 01-31 is past due without a lot, still after the 02-01 retry, and paid at once when the card is updated on 02-02', async () => {
    const sub = await subscribed('max');
    expect((await sub.customer.PUT('/v1/payment-method', { body: { payment_method: 'pm_card_chargeDeclined' } })).response.status).toBe(200);

    await sub.advance('2026-01-31T00:00:00Z');
    // Retries 1, 3, 5 and 7 days after the due date: the next one is 02-01.
    expect(await sub.subscription()).toMatchObject({ status: 'past_due', next_due_at: T('2026-02-01') });
    expect((await sub.credits()).lots.map((l) => [l.granted, l.granted_at])).toEqual([[400, T('2026-01-01')]]);
    const [due] = await sub.invoices();
    expect(due).toMatchObject({ kind: 'subscription', status: 'open', total_cents: 2900, created_at: T('2026-01-31') });

    await sub.advance('2026-02-01T12:00:00Z');
    expect(await sub.subscription()).toMatchObject({ status: 'past_due', next_due_at: T('2026-02-03') });
    expect((await sub.credits()).lots).toHaveLength(1);
    expect((await sub.invoices())[0]).toMatchObject({ id: due!.id, status: 'open' });

    await sub.advance('2026-02-02T00:00:00Z');
    expect((await sub.customer.PUT('/v1/payment-method', { body: { payment_method: 'pm_card_visa' } })).response.status).toBe(200);
    const active = await eventually(() => sub.subscription(), (s) => s.status === 'active');
    expect(active).toMatchObject({ current_period_start: T('2026-01-31'), current_period_end: T('2026-03-02') });
    const credits = await sub.credits();
    expect(credits.lots.map((l) => [l.source, l.granted, l.granted_at, l.expires_at])).toEqual([
      ['monthly', 400, T('2026-01-01'), T('2026-03-02')],
      ['monthly', 400, T('2026-02-02'), T('2026-04-01')],
    ]);
    expect(credits.available).toBe(800);
    const subscriptionInvoices = (await sub.invoices()).filter((i) => i.kind === 'subscription');
    expect(subscriptionInvoices.map((i) => [i.id, i.status, i.total_cents])).toEqual([[due!.id, 'paid', 2900], [expect.any(String), 'paid', 2900]]);
  });

  /** History length once no workflow task or activity is outstanding (the workflow is waiting). */
  async function settledHistoryLength(subscriptionId: string): Promise<number> {
    const handle = stack.temporal.workflow.getHandle(`subscription-${subscriptionId}`);
    const events = await eventually(async () => (await handle.fetchHistory()).events ?? [], settled);
    return events.length;
  }

  function settled(events: HistoryEvent[]): boolean {
    let lastScheduled = -1;
    let lastCompleted = -1;
    let openActivities = 0;
    events.forEach((e, i) => {
      if (e.workflowTaskScheduledEventAttributes) lastScheduled = i;
      if (e.workflowTaskCompletedEventAttributes) lastCompleted = i;
      if (e.activityTaskScheduledEventAttributes) openActivities += 1;
      if (e.activityTaskCompletedEventAttributes || e.activityTaskFailedEventAttributes
        || e.activityTaskTimedOutEventAttributes || e.activityTaskCanceledEventAttributes) openActivities -= 1;
    });
    return lastCompleted > lastScheduled && openActivities === 0;
  }

  it('refuses invalid requests with problem+json and leaves no event in the workflow history', async () => {
    const sub = await subscribed('max');
    await sub.advance('2026-01-02T00:00:00Z');
    type Refusable = { response: Response; error?: { errors?: { field: string }[] } };
    const refused = async (request: () => Promise<Refusable>, status: number, code: string, field?: string) => {
      const before = await settledHistoryLength(sub.subscriptionId);
      const result = await request();
      expectProblem(result, status, code);
      if (field) expect(result.error!.errors!.map((e) => e.field)).toContain(field);
      expect(await settledHistoryLength(sub.subscriptionId)).toBe(before);
    };
    // Bodies the document forbids are sent on purpose (the cast): the API must refuse them.
    const change = (body: object) => () => sub.customer.POST('/v1/subscription/change', { body: body as Change });
    const pause = (cycles: number) => () => sub.customer.POST('/v1/subscription/pause', { body: { cycles } });
    const resume = () => sub.customer.POST('/v1/subscription/resume');
    const cancel = () => sub.customer.POST('/v1/subscription/cancel');

    await refused(change({ plan: 'max' }), 409, 'same_plan');
    await refused(change({ plan: 'max', interval: 'month' }), 409, 'same_plan');
    await refused(change({ plan: 'gold' }), 400, 'invalid_request', 'plan');
    await refused(change({}), 400, 'invalid_request', 'plan');
    await refused(change({ interval: 'week' }), 400, 'invalid_request', 'interval');
    await refused(pause(4), 400, 'invalid_request', 'cycles');
    await refused(pause(0), 400, 'invalid_request', 'cycles');
    await refused(resume, 409, 'nothing_to_resume');
    await refused(() => sub.customer.DELETE('/v1/subscription/scheduled-change'), 409, 'no_scheduled_change');
    expect(await sub.subscription()).toMatchObject({ status: 'active', plan: 'max', scheduled_change: null, pause: null, cancel_at_period_end: false });
    expect(await sub.invoices()).toHaveLength(1);

    // Paused once (accepted: that one is in the history); a second pause is refused.
    const beforePause = await settledHistoryLength(sub.subscriptionId);
    const paused = await pause(1)();
    expect(paused.response.status).toBe(200);
    expect(paused.data!.pause).toEqual({ cycles: 1, starts_at: T('2026-01-31'), resumes_at: null });
    await sub.advance('2026-01-03T00:00:00Z');
    const pauseEvents = (await stack.temporal.workflow.getHandle(`subscription-${sub.subscriptionId}`).fetchHistory()).events ?? [];
    expect(pauseEvents.length).toBeGreaterThan(beforePause);
    expect(pauseEvents.slice(beforePause).filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes)).toHaveLength(1);
    await refused(pause(1), 409, 'already_paused');
    await refused(pause(2), 409, 'already_paused');

    // The pause is withdrawn and the subscription canceled: changes wait for a resume.
    expect((await resume()).data).toMatchObject({ status: 'active', pause: null });
    expect((await cancel()).data).toMatchObject({ status: 'active', cancel_at_period_end: true });
    await sub.advance('2026-01-04T00:00:00Z');
    await refused(change({ plan: 'generative' }), 409, 'subscription_canceling');
    await refused(cancel, 409, 'already_canceling');

    // Past the period end it is canceled: no change, pause or cancel, only a restart.
    await sub.advance('2026-02-01T00:00:00Z');
    expect(await sub.subscription()).toMatchObject({ status: 'canceled' });
    await refused(change({ plan: 'generative' }), 409, 'subscription_not_active');
    await refused(change({ plan: 'plus' }), 409, 'subscription_not_active');
    await refused(change({ interval: 'year' }), 409, 'subscription_not_active');
    await refused(pause(1), 409, 'subscription_not_active');
    await refused(cancel, 409, 'not_cancelable');
    expect(await sub.invoices()).toHaveLength(1);
  });
});
