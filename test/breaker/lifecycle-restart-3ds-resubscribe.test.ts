import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LiveSubscriptionConflict, markSubscriptionStatus } from '../../ledger/subscriptions.js';
import { authenticateOnHostedPage } from '../helpers/hosted-page.js';
import { ADMIN_KEY, advanceClock, startStack } from '../helpers/stack.js';
import { eventually } from '../helpers/temporal.js';

/**
 * Breaker finding (lifecycle), now a regression test: a restart waiting for 3-D Secure left the old subscription
 * `canceled` in the projection, so POST /v1/subscription created a second subscription in the same workspace;
 * both got paid (2900 + 1200) and the first workflow could never record itself active
 * (one_live_subscription_per_workspace): it retried forever and its clock never became ready again. A restart
 * now holds the workspace's live-subscription slot (the `restarting` mark, same unique index) from before its
 * charge until it is paid or lapses, so the subscribe is refused 409 subscription_exists, as the lifecycle
 * world's `resubscribe` is.
 */
describe('breaker: a restart waiting for 3-D Secure, then a second subscribe', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => stack?.stop());

  /** A Max subscription canceled at its period end, now `canceled`, with a card that needs 3-D Secure. */
  async function canceledWorkspace(name: string) {
    const operator = stack.api(ADMIN_KEY);
    const clock = (await operator.post('/v1/test-clocks', { frozen_time: '2026-01-01T00:00:00Z' })).body;
    const ws = (await operator.post('/v1/workspaces', { name, test_clock_id: clock.id })).body;
    const customer = stack.api(ws.api_key);
    expect((await customer.put('/v1/payment-method', { payment_method: 'pm_card_visa' })).status).toBe(200);
    const first = await customer.post('/v1/subscription', { plan: 'max', interval: 'month' });
    expect([first.status, first.body.status]).toEqual([201, 'active']);
    expect((await customer.post('/v1/subscription/cancel')).status).toBe(200);
    await advanceClock(operator, clock.id, '2026-02-05T00:00:00Z');
    expect((await customer.get('/v1/subscription')).body).toMatchObject({ id: first.body.id, status: 'canceled' });
    return { operator, clock, ws, customer, first };
  }

  /** Invariant: one live (or restarting) subscription; every subscription invoice paid after the cancel is one subscription's. */
  async function oneSubscriptionBilled(workspaceId: string) {
    const live = await stack.sql`SELECT id FROM subscriptions WHERE workspace_id = ${workspaceId} AND (status <> 'canceled' OR restarting)`;
    const paid = await stack.sql<{ subscription_id: string }[]>`
      SELECT subscription_id FROM invoices WHERE workspace_id = ${workspaceId} AND status = 'paid' AND kind = 'subscription' AND total_cents > 0
      ORDER BY created_at, seq`;
    expect(live.length).toBeLessThanOrEqual(1);
    expect(new Set(paid.slice(1).map((i) => i.subscription_id)).size).toBeLessThanOrEqual(1);
  }

  it('refuses a subscribe while the restart waits for 3-D Secure; the paid restart is the one subscription', { timeout: 180_000 }, async () => {
    const { operator, clock, ws, customer, first } = await canceledWorkspace('restart-3ds');
    expect((await customer.put('/v1/payment-method', { payment_method: 'pm_card_authenticationRequired' })).status).toBe(200);
    const restart = await customer.post('/v1/subscription/resume');
    expect(restart.status).toBe(200);
    expect(restart.body).toMatchObject({ status: 'canceled', incomplete_payment: { outcome: 'requires_action' } });
    const restartInvoice = restart.body.incomplete_payment.invoice_id as string;

    const second = await customer.post('/v1/subscription', { plan: 'plus', interval: 'month' });
    expect({ status: second.status, code: second.body?.code }).toEqual({ status: 409, code: 'subscription_exists' });
    await oneSubscriptionBilled(ws.id);

    await authenticateOnHostedPage(`${stack.baseUrl}/sandbox/invoices/${restartInvoice}`);
    await eventually(() => customer.get('/v1/subscription'), (r) => r.body.status === 'active');
    expect((await customer.get('/v1/subscription')).body).toMatchObject({ id: first.body.id, plan: 'max', incomplete_payment: null });
    expect((await customer.post('/v1/subscription', { plan: 'plus', interval: 'month' })).status).toBe(409);
    await advanceClock(operator, clock.id, '2026-02-06T00:00:00Z'); // waits for the clock to be ready
    await oneSubscriptionBilled(ws.id);
    const [row] = await stack.sql`SELECT restarting FROM subscriptions WHERE id = ${first.body.id}`;
    expect(row!.restarting).toBe(false);
  });

  it('a restart that lapses unpaid frees the slot: a new subscription is accepted', { timeout: 180_000 }, async () => {
    const { operator, clock, ws, customer } = await canceledWorkspace('restart-lapse');
    expect((await customer.put('/v1/payment-method', { payment_method: 'pm_card_authenticationRequired' })).status).toBe(200);
    expect((await customer.post('/v1/subscription/resume')).body).toMatchObject({ status: 'canceled', incomplete_payment: { outcome: 'requires_action' } });
    await advanceClock(operator, clock.id, '2026-02-06T00:00:00Z'); // past the restart's 23 h deadline
    expect((await customer.get('/v1/subscription')).body).toMatchObject({ status: 'canceled', incomplete_payment: null });
    expect((await customer.put('/v1/payment-method', { payment_method: 'pm_card_visa' })).status).toBe(200);
    const second = await customer.post('/v1/subscription', { plan: 'plus', interval: 'month' });
    expect([second.status, second.body.status]).toEqual([201, 'active']);
    await oneSubscriptionBilled(ws.id);
  });

  it('a restart and a subscribe sent at once: one of them wins, one subscription is billed', { timeout: 180_000 }, async () => {
    const { ws, customer } = await canceledWorkspace('restart-race');
    expect((await customer.put('/v1/payment-method', { payment_method: 'pm_card_visa' })).status).toBe(200);
    const [resumed, subscribed] = await Promise.all([
      customer.post('/v1/subscription/resume'), customer.post('/v1/subscription', { plan: 'plus', interval: 'month' }),
    ]);
    expect([resumed.status, subscribed.status].filter((s) => s < 300).length).toBeGreaterThanOrEqual(1);
    expect((await customer.get('/v1/subscription')).body.status).toBe('active');
    await oneSubscriptionBilled(ws.id);
  });

  it('a second live subscription that still happens (data from before the fix) fails its write as not retryable', async () => {
    const { ws, customer, first } = await canceledWorkspace('restart-conflict');
    expect((await customer.put('/v1/payment-method', { payment_method: 'pm_card_visa' })).status).toBe(200);
    expect((await customer.post('/v1/subscription', { plan: 'plus', interval: 'month' })).status).toBe(201);
    await expect(markSubscriptionStatus(stack.sql, first.body.id, 'active')).rejects.toBeInstanceOf(LiveSubscriptionConflict);
    await oneSubscriptionBilled(ws.id);
  });
});
