import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, advanceClock, startStack } from '../helpers/stack.js';
import { eventually } from '../helpers/temporal.js';

type Api = ReturnType<Awaited<ReturnType<typeof startStack>>['api']>;

/**
 * SPEC §4 (interval switch: credits of the unused time already used), §10 (adjustments, disputes) on the whole
 * stack: the "Credits of the unused time on OLD already used (n)" line charges only credits spent or held. Credits
 * an operator's negative adjustment took from the plan lots are neither charged nor deducted; credits frozen by an
 * open dispute are kept (deducted from the new lot, clawed back beyond the new plan's credits, frozen or not) and
 * never charged. The preview equals the charge (confirmed at its amount). A month is 30 days: on 01-21, 10 of
 * 01-01 → 01-31 are unused.
 */
describe('interval switch: credits already used', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  const operator = () => stack.api(ADMIN_KEY);
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => stack?.stop());

  async function subscribedMonthly(plan: string, paymentMethod = 'pm_card_visa') {
    const clockId = (await operator().post('/v1/test-clocks', { frozen_time: '2026-01-01T00:00:00Z' })).body.id as string;
    const ws = await operator().post('/v1/workspaces', { name: `switch used ${plan} ${paymentMethod}`, test_clock_id: clockId });
    const customer = stack.api(ws.body.api_key);
    expect((await customer.put('/v1/payment-method', { payment_method: paymentMethod })).status).toBe(200);
    expect((await customer.post('/v1/subscription', { plan, interval: 'month' })).status).toBe(201);
    if (paymentMethod !== 'pm_card_visa') expect((await customer.put('/v1/payment-method', { payment_method: 'pm_card_visa' })).status).toBe(200);
    return { customer, clockId, workspaceId: ws.body.id as string };
  }
  /** Spends `credits` through real holds and captures (imagen-3 at high resolution: up to 30 credits a creation). */
  async function spend(customer: Api, credits: number) {
    for (let left = credits; left > 0;) {
      const take = Math.min(30, left);
      const quote = await customer.post('/v1/credits/estimate', { model: 'imagen-3', resolution: 'high', count: Math.ceil(take / 3) });
      expect(quote.status).toBe(201);
      const creation = await customer.post('/v1/creations', { quote_id: quote.body.quote_id });
      expect(creation.status).toBe(201);
      expect((await customer.post(`/v1/creations/${creation.body.id}/complete`, { credits: take })).status).toBe(200);
      left -= take;
    }
  }
  /** Previews the switch, checks it, confirms it at the preview's amount, and checks the invoice is the preview's. */
  async function switchAsPreviewed(customer: Api, request: Record<string, string>, expected: { lines: { description: string; amount_cents: number }[]; total: number; credits: number }) {
    const preview = await customer.post('/v1/subscription/change/preview', request);
    expect(preview.status).toBe(200);
    const due = Math.max(0, expected.total);
    expect(preview.body).toMatchObject({ kind: 'interval_switch', credits_granted: expected.credits, invoice: { lines: expected.lines, total_cents: expected.total, amount_due_cents: due } });
    const made = await customer.post('/v1/subscription/change', { ...request, expected_amount_due_cents: due });
    expect(made.status).toBe(200);
    expect(made.body.latest_invoice).toMatchObject({ kind: 'interval_switch', lines: expected.lines, total_cents: expected.total, amount_due_cents: due });
  }
  /** The workspace's lots (source, granted, remaining, dispute-frozen), oldest first, and its journal's sum. */
  async function lots(workspaceId: string) {
    const rows = await stack.sql<{ source: string; granted: number; remaining: number; disputed: boolean }[]>`
      SELECT source, granted, remaining, dispute_freeze_key IS NOT NULL AS disputed FROM lots WHERE workspace_id = ${workspaceId} ORDER BY id`;
    const [journal] = await stack.sql<{ sum: number }[]>`SELECT coalesce(sum(amount), 0)::int AS sum FROM ledger_entries WHERE workspace_id = ${workspaceId}`;
    return { lots: rows.map((l) => [l.source, l.granted, l.remaining, l.disputed]), journal: journal!.sum };
  }
  const available = async (customer: Api) => (await customer.get('/v1/credits')).body.available as number;

  it('Team monthly, −5000 adjusted on 01-11, switch to yearly on 01-21: the 1000 left are kept, nothing charged as already used (was +4983)', async () => {
    const { customer, clockId, workspaceId } = await subscribedMonthly('team');
    await advanceClock(operator(), clockId, '2026-01-11T00:00:00Z');
    const adjusted = await operator().post(`/v1/admin/workspaces/${workspaceId}/credit-adjustments`, { credits: -5000, reason: 'Duplicate grant' });
    expect([adjusted.status, adjusted.body.balance_after]).toEqual([201, 1000]);
    await advanceClock(operator(), clockId, '2026-01-21T00:00:00Z');
    // Unused round(29900 × 10 ÷ 30) = 9967; deductible floor(6000 × 10 ÷ 30) = 2000, of which 1000 are left and kept:
    // the new lot is 6000 − 1000; the 1000 the operator took beyond them are neither charged nor deducted.
    await switchAsPreviewed(customer, { interval: 'year' }, {
      lines: [{ description: 'Unused time on Team (monthly)', amount_cents: -9967 }, { description: 'Team (yearly)', amount_cents: 215280 }],
      total: 205313, credits: 5000,
    });
    expect(await lots(workspaceId)).toEqual({ lots: [['monthly', 6000, 1000, false], ['monthly', 5000, 5000, false]], journal: 6000 });
    expect(await available(customer)).toBe(6000);
  });

  it('Max monthly, 300 spent and −50 adjusted on 01-11, switch on 01-21: 300 − (400 − 133) = 33 already used (239 cents; was 83, 602)', async () => {
    const { customer, clockId, workspaceId } = await subscribedMonthly('max');
    await advanceClock(operator(), clockId, '2026-01-11T00:00:00Z');
    await spend(customer, 300);
    expect((await operator().post(`/v1/admin/workspaces/${workspaceId}/credit-adjustments`, { credits: -50, reason: 'Duplicate grant' })).body.balance_after).toBe(50);
    await advanceClock(operator(), clockId, '2026-01-21T00:00:00Z');
    // Deductible floor(400 × 10 ÷ 30) = 133: 50 kept, 50 adjusted away, 33 used ahead at round(2900 × 33 ÷ 400) = 239.
    await switchAsPreviewed(customer, { interval: 'year' }, {
      lines: [
        { description: 'Unused time on Max (monthly)', amount_cents: -967 }, { description: 'Max (yearly)', amount_cents: 20880 },
        { description: 'Credits of the unused time on Max (monthly) already used (33)', amount_cents: 239 },
      ],
      total: 20152, credits: 350,
    });
    expect((await lots(workspaceId)).lots).toEqual([['monthly', 400, 50, false], ['monthly', 350, 350, false]]);
    expect(await available(customer)).toBe(400);
  });

  /** A monthly subscription whose first invoice the sandbox disputes (its lot frozen), and the dispute's id. */
  async function disputedMonthly(plan: string) {
    const subscribed = await subscribedMonthly(plan, 'pm_card_createDispute');
    const [dispute] = await eventually(() => stack.sql<{ id: string }[]>`SELECT id FROM sandbox_disputes WHERE workspace_id = ${subscribed.workspaceId}`, (rows) => rows.length === 1);
    await eventually(() => lots(subscribed.workspaceId), (l) => l.lots.length === 1 && l.lots[0]![3] === true);
    return { ...subscribed, disputeId: dispute!.id };
  }

  it('Team monthly frozen by an open dispute, switch to yearly on 01-21: 2000 kept (deducted), nothing charged (was +9967)', async () => {
    const { customer, clockId, workspaceId } = await disputedMonthly('team');
    expect(await available(customer)).toBe(0);
    await advanceClock(operator(), clockId, '2026-01-21T00:00:00Z');
    await switchAsPreviewed(customer, { interval: 'year' }, {
      lines: [{ description: 'Unused time on Team (monthly)', amount_cents: -9967 }, { description: 'Team (yearly)', amount_cents: 215280 }],
      total: 205313, credits: 4000,
    });
    expect(await lots(workspaceId)).toEqual({ lots: [['monthly', 6000, 6000, true], ['monthly', 4000, 4000, false]], journal: 4000 });
    expect(await available(customer)).toBe(4000);
  });

  it('Team monthly frozen by an open dispute → Plus yearly: the 2000 kept are clawed back beyond 150 from the frozen lot (1850); won, 4150 thaw', async () => {
    const { customer, clockId, workspaceId, disputeId } = await disputedMonthly('team');
    await advanceClock(operator(), clockId, '2026-01-21T00:00:00Z');
    // Plus yearly 8640; total 8640 − 9967 = −1327 goes to the customer balance; no new credits (150 − 2000 < 0).
    await switchAsPreviewed(customer, { plan: 'plus', interval: 'year' }, {
      lines: [{ description: 'Unused time on Team (monthly)', amount_cents: -9967 }, { description: 'Plus (yearly)', amount_cents: 8640 }],
      total: -1327, credits: 0,
    });
    // The clawback took 1850 from the frozen lot (journal amount 0: frozen credits do not count towards the balance).
    const [clawback] = await stack.sql<{ remaining_delta: number; amount: number }[]>`
      SELECT remaining_delta, amount FROM ledger_entries WHERE workspace_id = ${workspaceId} AND kind = 'clawback'`;
    expect(clawback).toEqual({ remaining_delta: -1850, amount: 0 });
    expect((await lots(workspaceId)).lots[0]).toEqual(['monthly', 6000, 4150, true]);
    expect(await available(customer)).toBe(0);
    // Won: the lot thaws with what the switch left, never the 1850 it clawed back.
    expect((await operator().post(`/v1/admin/sandbox/disputes/${disputeId}/close`, { outcome: 'won' })).status).toBe(200);
    const after = await eventually(() => lots(workspaceId), (l) => l.lots[0]![3] === false);
    expect(after).toEqual({ lots: [['monthly', 6000, 4150, false]], journal: 4150 });
    expect(await available(customer)).toBe(4150);
  });
});
