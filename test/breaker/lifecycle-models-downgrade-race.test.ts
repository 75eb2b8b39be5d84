import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, startStack } from '../helpers/stack.js';
import { eventually } from '../helpers/temporal.js';

/**
 * Breaker (lifecycle): entitlements follow the live plan at once (SPEC §4). The workflow deactivates the models
 * above a downgrade's limit as an effect, but POST /v1/custom-models/{id}/activate checks the limit against the
 * subscriptions projection, which the workflow writes only when it goes idle (after every due event up to the
 * clock's time). Activations that land in between are checked against the old plan's limit: the workspace ends
 * on Plus (1 model) with several active models, and nothing deactivates them again.
 */
describe('breaker: activations racing a downgrade at renewal', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => stack?.stop());

  it('never leaves more active custom models than the live plan allows', { timeout: 180_000 }, async () => {
    const operator = stack.api(ADMIN_KEY);
    const clock = (await operator.post('/v1/test-clocks', { frozen_time: '2026-01-01T00:00:00Z' })).body;
    const ws = (await operator.post('/v1/workspaces', { name: 'models race', test_clock_id: clock.id })).body;
    const customer = stack.api(ws.api_key);
    expect((await customer.put('/v1/payment-method', { payment_method: 'pm_card_visa' })).status).toBe(200);
    expect((await customer.post('/v1/subscription', { plan: 'generative', interval: 'month' })).body.status).toBe('active');
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) {
      const created = await customer.post('/v1/custom-models', { name: `model ${i}` });
      expect(created.status).toBe(201);
      ids.push(created.body.id);
    }
    const change = await customer.post('/v1/subscription/change', { plan: 'plus' });
    expect(change.body).toMatchObject({ kind: 'downgrade', effective_at: '2026-01-31T00:00:00.000Z' });

    // The clock crosses the renewal (downgrade applied, 9 models deactivated) and a few more months of events,
    // while the customer's app keeps activating its models.
    let racing = true;
    const refusals: Record<string, number> = {};
    const hammer = (async () => {
      while (racing) {
        for (const id of ids) {
          const r = await customer.post(`/v1/custom-models/${id}/activate`);
          refusals[r.status] = (refusals[r.status] ?? 0) + 1;
        }
      }
    })();
    await operator.post(`/v1/test-clocks/${clock.id}/advance`, { frozen_time: '2026-06-01T00:00:00Z' });
    await eventually(() => operator.get(`/v1/test-clocks/${clock.id}`), (r) => r.body.status === 'ready', 60_000);
    racing = false;
    await hammer;

    const subscription = (await customer.get('/v1/subscription')).body;
    const models = (await customer.get('/v1/custom-models')).body;
    const active = models.data.filter((m: { active: boolean }) => m.active).length;
    const notes = (await customer.get('/v1/notifications')).body.data.filter((n: { kind: string }) => n.kind === 'downgrade_applied');
    console.log('[models-race]', { plan: subscription.plan, limit: models.limit, active, answers: refusals, downgrade: JSON.stringify(notes) });
    expect(subscription.plan).toBe('plus');
    expect({ plan: subscription.plan, active }).toEqual({ plan: 'plus', active: 1 });
  });
});
