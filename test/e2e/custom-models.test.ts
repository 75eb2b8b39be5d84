import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, advanceClock, apiClient, startStack } from '../helpers/stack.js';

/** SPEC §6 entitlements: active custom models are limited by the plan (409 `custom_model_limit`). */
describe('custom models', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  let operator: ReturnType<typeof apiClient>;
  let clockId: string;

  beforeAll(async () => {
    stack = await startStack();
    operator = stack.api(ADMIN_KEY);
    clockId = (await operator.post('/v1/test-clocks', { frozen_time: '2026-01-01T00:00:00Z' })).body.id;
  });
  afterAll(async () => stack?.stop());

  async function workspace(plan?: string) {
    const ws = await operator.post('/v1/workspaces', { name: `studio ${plan ?? 'none'}`, test_clock_id: clockId });
    expect(ws.status).toBe(201);
    const customer = stack.api(ws.body.api_key);
    if (plan) {
      expect((await customer.put('/v1/payment-method', { payment_method: 'pm_card_visa' })).status).toBe(200);
      const sub = await customer.post('/v1/subscription', { plan, interval: 'month' });
      expect(sub.status).toBe(201);
      expect(sub.body.status).toBe('active');
    }
    return { id: ws.body.id as string, customer };
  }

  const expectLimitProblem = (response: { status: number; contentType: string | null; body: any }) => {
    expect(response.status).toBe(409);
    expect(response.contentType).toMatch(/^application\/problem\+json/);
    expect(response.body).toMatchObject({ status: 409, code: 'custom_model_limit' });
  };

  it('Plus allows one active model: the second is refused; deactivate, create, re-activate within the limit', async () => {
    const { customer } = await workspace('plus');
    const first = await customer.post('/v1/custom-models', { name: 'Portraits' });
    expect(first.status).toBe(201);
    expect(first.body).toEqual({
      id: expect.stringMatching(/^cm_/), name: 'Portraits', active: true,
      last_used_at: '2026-01-01T00:00:00.000Z', created_at: '2026-01-01T00:00:00.000Z',
    });
    expectLimitProblem(await customer.post('/v1/custom-models', { name: 'Landscapes' }));

    let list = (await customer.get('/v1/custom-models')).body;
    expect(list).toEqual({ data: [first.body], limit: 1, has_more: false, next_cursor: null });

    const deactivated = await customer.delete(`/v1/custom-models/${first.body.id}`);
    expect(deactivated.status).toBe(200);
    expect(deactivated.body).toMatchObject({ id: first.body.id, active: false });
    const second = await customer.post('/v1/custom-models', { name: 'Landscapes' });
    expect(second.status).toBe(201);
    // The first cannot come back while the second is active.
    expectLimitProblem(await customer.post(`/v1/custom-models/${first.body.id}/activate`));
    expect((await customer.delete(`/v1/custom-models/${second.body.id}`)).status).toBe(200);

    // Activation records the workspace's time (its test clock's) as last use.
    await advanceClock(operator, clockId, '2026-01-03T12:00:00Z');
    const reactivated = await customer.post(`/v1/custom-models/${first.body.id}/activate`);
    expect(reactivated.status).toBe(200);
    expect(reactivated.body).toMatchObject({ id: first.body.id, active: true, last_used_at: '2026-01-03T12:00:00.000Z', created_at: '2026-01-01T00:00:00.000Z' });
    // Activating an active model changes nothing (and is not refused).
    expect((await customer.post(`/v1/custom-models/${first.body.id}/activate`)).body).toEqual(reactivated.body);

    // Newest first.
    list = (await customer.get('/v1/custom-models')).body;
    expect(list.data.map((m: any) => [m.name, m.active])).toEqual([['Landscapes', false], ['Portraits', true]]);
  });

  it('Max allows three; concurrent creations and activations at the limit: exactly the allowed number succeed', async () => {
    const { id, customer } = await workspace('max');
    const attempts = await Promise.all(Array.from({ length: 8 }, (_, i) => customer.post('/v1/custom-models', { name: `model ${i}` })));
    expect(attempts.map((a) => a.status).sort()).toEqual([201, 201, 201, 409, 409, 409, 409, 409]);
    for (const refusal of attempts.filter((a) => a.status === 409)) expectLimitProblem(refusal);
    const [count] = await stack.sql<{ active: number }[]>`
      SELECT count(*)::int AS active FROM custom_models WHERE workspace_id = ${id} AND active`;
    expect(count!.active).toBe(3);

    // Two inactive models race for the one free place.
    const created = attempts.filter((a) => a.status === 201).map((a) => a.body.id as string);
    expect((await customer.delete(`/v1/custom-models/${created[0]}`)).status).toBe(200);
    expect((await customer.delete(`/v1/custom-models/${created[1]}`)).status).toBe(200);
    expect((await customer.post('/v1/custom-models', { name: 'the third' })).status).toBe(201);
    const races = await Promise.all([created[0], created[1]].map((m) => customer.post(`/v1/custom-models/${m}/activate`)));
    expect(races.map((r) => r.status).sort()).toEqual([200, 409]);
    expectLimitProblem(races.find((r) => r.status === 409)!);
    const list = (await customer.get('/v1/custom-models')).body;
    expect(list.limit).toBe(3);
    expect(list.data).toHaveLength(4);
    expect(list.data[0]).toMatchObject({ name: 'the third', active: true });
    expect(list.data.filter((m: any) => m.active)).toHaveLength(3);
    expectLimitProblem(await customer.post('/v1/custom-models', { name: 'a fourth' }));
  });

  it("another workspace's or an unknown model is 404; without a subscription the limit is 0; bad input is 400", async () => {
    const owner = await workspace('plus');
    const model = (await owner.customer.post('/v1/custom-models', { name: 'Mine' })).body;
    const other = await workspace('max');
    for (const response of [
      await other.customer.delete(`/v1/custom-models/${model.id}`),
      await other.customer.post(`/v1/custom-models/${model.id}/activate`),
      await other.customer.delete('/v1/custom-models/cm_unknown'),
      await other.customer.post('/v1/custom-models/cm_unknown/activate'),
    ]) {
      expect(response.status).toBe(404);
      expect(response.contentType).toMatch(/^application\/problem\+json/);
      expect(response.body.code).toBe('custom_model_not_found');
    }
    expect((await other.customer.get('/v1/custom-models')).body.data).toEqual([]);
    expect((await owner.customer.get('/v1/custom-models')).body.data).toEqual([model]);

    const unsubscribed = await workspace();
    expectLimitProblem(await unsubscribed.customer.post('/v1/custom-models', { name: 'Anything' }));
    expect((await unsubscribed.customer.get('/v1/custom-models')).body).toEqual({ data: [], limit: 0, has_more: false, next_cursor: null });

    for (const body of [{}, { name: '' }, { name: '   ' }, { name: 'x'.repeat(101) }, { name: 'ok', active: false }]) {
      const response = await owner.customer.post('/v1/custom-models', body);
      expect(response.status).toBe(400);
      expect(response.body.code).toBe('invalid_request');
    }
    expect((await owner.customer.post('/v1/custom-models', { name: 42 })).body.errors).toEqual([expect.objectContaining({ field: 'name' })]);
    // The operator has no workspace to hold models.
    expect((await operator.get('/v1/custom-models')).status).toBe(403);
  });
});
