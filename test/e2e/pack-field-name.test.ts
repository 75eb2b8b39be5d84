import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, startStack } from '../helpers/stack.js';

/**
 * POST /v1/credit-packs names the pack `pack`, as PUT /v1/auto-top-up does; `size`, its first name, stays accepted and
 * is marked deprecated in /openapi.json. Both given must agree; neither, or two that differ, is a 400
 * `invalid_request` naming the fields, and buys nothing.
 */
describe('a pack named `pack` (and `size`, deprecated)', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => stack?.stop());

  it('buys with either name or both agreeing; refuses neither and a disagreement, naming the fields', async () => {
    const operator = stack.client(ADMIN_KEY);
    const clockId = (await operator.POST('/v1/test-clocks', { body: { frozen_time: '2026-01-01T00:00:00Z' } })).data!.id;
    const ws = (await operator.POST('/v1/workspaces', { body: { name: 'pack names', test_clock_id: clockId } })).data!;
    const customer = stack.client(ws.api_key);
    expect((await customer.PUT('/v1/payment-method', { body: { payment_method: 'pm_card_visa' } })).response.status).toBe(200);
    expect((await customer.POST('/v1/subscription', { body: { plan: 'plus', interval: 'month' } })).data!.status).toBe('active');
    const purchases = async () => (await stack.sql<{ total_cents: number }[]>`
      SELECT total_cents FROM invoices WHERE workspace_id = ${ws.id} AND kind = 'pack' ORDER BY seq`).map((i) => i.total_cents);

    // Plus has no pack discount: 100 credits $10.00, 500 credits $41.00.
    for (const [body, cents] of [[{ pack: 100 }, 1000], [{ size: 500 }, 4100], [{ pack: 500, size: 500 }, 4100]] as const) {
      const bought = await customer.POST('/v1/credit-packs', { body });
      expect([bought.response.status, bought.data?.invoice.kind, bought.data?.invoice.status, bought.data?.invoice.total_cents], JSON.stringify(body))
        .toEqual([201, 'pack', 'paid', cents]);
      expect(bought.data!.lot).toEqual(expect.any(String));
    }
    expect(await purchases()).toEqual([1000, 4100, 4100]);
    const available = (await customer.GET('/v1/credits')).data!.available;
    expect(available).toBe(150 + 100 + 500 + 500);

    for (const [body, fields] of [[{}, ['pack']], [{ pack: 100, size: 500 }, ['pack', 'size']], [{ pack: 7 }, ['pack']], [{ size: 7 }, ['size']]] as const) {
      const refused = await customer.POST('/v1/credit-packs', { body: body as { pack?: 100 | 500 } });
      expect(refused.response.status, JSON.stringify(body)).toBe(400);
      expect(refused.error).toMatchObject({ code: 'invalid_request' });
      expect((refused.error as { errors: { field: string }[] }).errors.map((e) => e.field).sort()).toEqual([...fields]);
    }
    expect(await purchases()).toEqual([1000, 4100, 4100]);
    expect((await customer.GET('/v1/credits')).data!.available).toBe(available);
  });

  it('documents `pack` and marks `size` deprecated', async () => {
    const doc = await (await fetch(`${stack.baseUrl}/openapi.json`)).json() as {
      components: { schemas: Record<string, { properties: Record<string, { enum?: number[]; deprecated?: boolean }>; required?: string[] }> };
    };
    const params = doc.components.schemas.PackPurchaseCreateParams!;
    expect(params.properties.pack).toMatchObject({ enum: [100, 500] });
    expect(params.properties.pack!.deprecated).toBeUndefined();
    expect(params.properties.size).toMatchObject({ enum: [100, 500], deprecated: true });
    expect(params.required ?? []).toEqual([]);
  });
});
