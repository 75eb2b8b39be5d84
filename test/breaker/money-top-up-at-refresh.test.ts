import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAutoTopUps } from '../../worker/auto-top-up.js';
import { ADMIN_KEY, advanceClock, apiClient, startStack } from '../helpers/stack.js';
import { eventually } from '../helpers/temporal.js';

/**
 * Breaker (money): an automatic top-up bought at the very instant a monthly refresh arrives.
 *
 * For monthly plans a lot expires exactly when the period two later starts (granted at anchor + 30·n, expiring at
 * the next refresh + 30 days = anchor + 30·(n+2)), so every renewal instant has an expiry and a refresh. The README
 * processes the expiry first; the expiry's auto-top-up check then sees the balance without the refresh that is due
 * at the same instant, records a crossing, and the worker buys a pack although, once that instant is done, the
 * balance is far above the threshold. Invariant top_up_only_when_below_after_instant: after a clock advance is
 * ready, a top-up recorded during it was recorded only if the balance after every event due at its instant is below
 * the threshold (a renewal never makes the customer also pay for a pack it does not need).
 *
 * Fixed (billing/auto-top-up.ts, domain/auto-top-up.ts refreshAwaited): the expiry still records its top-up (the
 * hook runs in the expiry's transaction), but the worker decides it only once the refresh due at that instant has
 * been granted or has failed, on the balance then: recovered → `skipped` with failure_code `recovered` (no charge,
 * no notification, no event). So the invariant reads: no pack is bought, and whatever was recorded is skipped as
 * recovered. Variants: the refresh leaves the balance below the threshold (the pack is bought), and the renewal's
 * payment fails (past due: SPEC §11 allows no top-up while past due; the top-up is decided, not left pending).
 */
describe('breaker money: automatic top-up at a refresh instant', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  let stopTopUps: () => Promise<void>;
  const operator = () => stack.api(ADMIN_KEY);
  beforeAll(async () => {
    stack = await startStack();
    stopTopUps = startAutoTopUps({ sql: stack.sql, payments: stack.payments }, 100);
  });
  afterAll(async () => {
    await stopTopUps?.();
    await stack?.stop();
  });

  it('top_up_only_when_below_after_instant: lot A (10 left) expires at 03-02 while lot C (400) is granted then: no pack is bought', async () => {
    const clockId = (await operator().post('/v1/test-clocks', { frozen_time: '2026-01-01T00:00:00Z' })).body.id as string;
    const ws = await operator().post('/v1/workspaces', { name: 'top-up at refresh', test_clock_id: clockId });
    const customer = apiClient(stack.baseUrl, ws.body.api_key);
    expect((await customer.put('/v1/payment-method', { payment_method: 'pm_card_visa' })).status).toBe(200);
    expect((await customer.post('/v1/subscription', { plan: 'max', interval: 'month' })).body.status).toBe('active');
    // Spend 390 of lot A (400, expires 03-02): 10 left.
    for (let i = 0; i < 39; i++) {
      const quote = await customer.post('/v1/credits/estimate', { model: 'imagen-3', count: 5, resolution: 'standard' });
      const hold = await customer.post('/v1/creations', { quote_id: quote.body.quote_id });
      expect(hold.status).toBe(201);
      expect((await customer.post(`/v1/creations/${hold.body.id}/complete`, { credits: 10 })).status).toBe(200);
    }
    await advanceClock(operator(), clockId, '2026-01-31T00:00:00Z'); // renewal: lot B 400, expires 04-01
    expect((await customer.get('/v1/credits')).body.available).toBe(410);
    // Armed at 410 ≥ 405.
    expect((await customer.put('/v1/auto-top-up', { enabled: true, threshold: 405, pack: 100, monthly_limit_cents: 10_000 })).status).toBe(200);

    // 03-02: renewal charged (2900), lot C 400 granted, lot A's 10 expire. After the instant: 800 available.
    await advanceClock(operator(), clockId, '2026-03-02T00:00:00Z');
    const credits = await eventually(() => customer.get('/v1/credits'), (r) => r.body.available >= 800);
    // Give the worker's loop (every 100 ms) time to buy a pack if one was recorded, then look.
    await eventually(() => stack.sql`SELECT status FROM auto_top_ups WHERE workspace_id = ${ws.body.id} AND status = 'pending'`, (rows) => rows.length === 0);
    const topUps = await stack.sql`SELECT status, cause, trigger_key, available, amount_cents FROM auto_top_ups WHERE workspace_id = ${ws.body.id}`;
    const packs = (await customer.get('/v1/invoices')).body.data.filter((i: { kind: string }) => i.kind === 'pack');
    console.log('top-ups recorded', JSON.stringify([...topUps]), 'available', credits.body.available, 'packs', packs.map((p: { status: string; total_cents: number }) => [p.status, p.total_cents]));
    expect([...topUps].map((t) => [t.status, t.cause, t.trigger_key.endsWith(':expire'), t.available, t.amount_cents]))
      .toEqual([['skipped', 'expiry', true, 400, null]]);
    expect((await stack.sql`SELECT failure_code FROM auto_top_ups WHERE workspace_id = ${ws.body.id}`).map((r) => r.failure_code))
      .toEqual(['recovered']);
    expect(packs).toEqual([]);
    expect((await customer.get('/v1/credits')).body.available).toBe(800);
    // Nothing to tell the customer, and the setting is armed again (800 ≥ 405).
    expect((await customer.get('/v1/notifications?limit=100')).body.data.map((n: { kind: string }) => n.kind)).not.toContain('top_up_skipped');
    expect((await customer.get('/v1/auto-top-up')).body.armed).toBe(true);
  });

  it('the refresh leaves the balance below the threshold: the pack is bought once, after the refresh', async () => {
    const { customer, clockId, id } = await historyToJanuary31('top-up below after refresh', 900);
    await advanceClock(operator(), clockId, '2026-03-02T00:00:00Z');
    // 400 after the expiry, 800 after the refresh: still below 900, so one pack of 100 is bought: 900.
    await eventually(() => stack.sql`SELECT status FROM auto_top_ups WHERE workspace_id = ${id}`, (rows) => rows.length === 1 && rows[0]!.status !== 'pending');
    const topUps = await stack.sql`SELECT status, cause, available, amount_cents FROM auto_top_ups WHERE workspace_id = ${id}`;
    expect([...topUps]).toEqual([{ status: 'paid', cause: 'expiry', available: 400, amount_cents: 800 }]);
    expect((await customer.get('/v1/credits')).body.available).toBe(900);
    const paid = (await customer.get('/v1/invoices')).body.data.filter((i: { kind: string; status: string }) => i.kind === 'pack' && i.status === 'paid');
    expect(paid).toHaveLength(1);
  });

  it('the renewal at that instant is declined: the top-up is decided after it, on the low balance (past due: skipped per SPEC §11)', async () => {
    const { customer, clockId, id } = await historyToJanuary31('top-up at failed refresh', 405);
    expect((await customer.put('/v1/payment-method', { payment_method: 'pm_card_chargeDeclined' })).status).toBe(200);
    await advanceClock(operator(), clockId, '2026-03-02T00:00:00Z');
    expect((await customer.get('/v1/subscription')).body.status).toBe('past_due');
    await eventually(() => stack.sql`SELECT status FROM auto_top_ups WHERE workspace_id = ${id}`, (rows) => rows.length === 1 && rows[0]!.status !== 'pending');
    const topUps = await stack.sql`SELECT status, cause, available, failure_code FROM auto_top_ups WHERE workspace_id = ${id}`;
    // Not `recovered`: the balance after the instant is 400 < 405; the customer is really low, and is told why no
    // pack came (top_up_skipped) while the renewal is past due.
    expect([...topUps]).toEqual([{ status: 'skipped', cause: 'expiry', available: 400, failure_code: 'past_due' }]);
    expect((await customer.get('/v1/credits')).body.available).toBe(400);
    expect((await customer.get('/v1/notifications?limit=100')).body.data.map((n: { kind: string }) => n.kind)).toContain('top_up_skipped');
  });

  /** Max monthly from 01-01, 390 of lot A spent, renewed 01-31 (410 available), then auto top-up saved at `threshold`. */
  async function historyToJanuary31(name: string, threshold: number) {
    const clockId = (await operator().post('/v1/test-clocks', { frozen_time: '2026-01-01T00:00:00Z' })).body.id as string;
    const ws = await operator().post('/v1/workspaces', { name, test_clock_id: clockId });
    const customer = apiClient(stack.baseUrl, ws.body.api_key);
    expect((await customer.put('/v1/payment-method', { payment_method: 'pm_card_visa' })).status).toBe(200);
    expect((await customer.post('/v1/subscription', { plan: 'max', interval: 'month' })).body.status).toBe('active');
    for (let i = 0; i < 39; i++) {
      const quote = await customer.post('/v1/credits/estimate', { model: 'imagen-3', count: 5, resolution: 'standard' });
      const hold = await customer.post('/v1/creations', { quote_id: quote.body.quote_id });
      expect((await customer.post(`/v1/creations/${hold.body.id}/complete`, { credits: 10 })).status).toBe(200);
    }
    await advanceClock(operator(), clockId, '2026-01-31T00:00:00Z');
    expect((await customer.get('/v1/credits')).body.available).toBe(410);
    expect((await customer.put('/v1/auto-top-up', { enabled: true, threshold, pack: 100, monthly_limit_cents: 10_000 })).status).toBe(200);
    return { customer, clockId, id: ws.body.id as string };
  }
});
