import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, advanceClock, startStack } from '../helpers/stack.js';

interface Invoice { id: string; kind: string; lines: { description: string; amount_cents: number }[]; total_cents: number; amount_due_cents: number }

/** SPEC §10: a preview, then the change made right after it, agree to the cent over HTTP. */
describe('change previews over HTTP', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => stack?.stop());

  async function customer(plan: string, interval: 'month' | 'year', start: string) {
    const operator = stack.api(ADMIN_KEY);
    const clock = await operator.post('/v1/test-clocks', { frozen_time: start });
    const ws = await operator.post('/v1/workspaces', { name: `preview ${plan}`, test_clock_id: clock.body.id });
    const api = stack.api(ws.body.api_key);
    expect((await api.put('/v1/payment-method', { payment_method: 'pm_card_visa' })).status).toBe(200);
    expect((await api.post('/v1/subscription', { plan, interval })).status).toBe(201);
    return { api, advance: (to: string) => advanceClock(operator, clock.body.id, to) };
  }

  /** Previews `change`, makes it, and checks the invoice and the credits against the preview. */
  async function previewThenChange(api: ReturnType<typeof stack.api>, change: Record<string, string>) {
    const preview = await api.post('/v1/subscription/change/preview', change);
    expect(preview.status).toBe(200);
    const made = await api.post('/v1/subscription/change', change);
    expect(made.status).toBe(200);
    expect([made.body.kind, made.body.effective_at, made.body.credits_granted ?? 0]).toEqual([preview.body.kind, preview.body.effective_at, preview.body.credits_granted]);
    if (preview.body.invoice) {
      const invoice = (await api.get<{ data: Invoice[] }>('/v1/invoices')).body.data.find((i) => i.id === made.body.invoice)!;
      // The invoice shows the balance applied as what its total leaves unpaid.
      expect({ lines: invoice.lines, total: invoice.total_cents, applied: Math.max(invoice.total_cents, 0) - invoice.amount_due_cents, due: invoice.amount_due_cents }).toEqual({
        lines: preview.body.invoice.lines, total: preview.body.invoice.total_cents, applied: preview.body.invoice.balance_applied_cents,
        due: preview.body.invoice.amount_due_cents,
      });
    }
    return preview.body;
  }

  it('an upgrade (SPEC example 2) and a downgrade agree with their preview; a refused change is refused by its preview too', async () => {
    const { api, advance } = await customer('plus', 'month', '2026-01-01T00:00:00Z');
    await advance('2026-01-11T00:00:00Z');
    const upgrade = await previewThenChange(api, { plan: 'max' });
    expect(upgrade).toMatchObject({ kind: 'upgrade', credits_granted: 166, credits_expire_at: '2026-03-02T00:00:00.000Z', invoice: { total_cents: 1133, amount_due_cents: 1133 } });
    const downgrade = await previewThenChange(api, { plan: 'plus' });
    expect(downgrade).toMatchObject({ kind: 'downgrade', effective_at: '2026-01-31T00:00:00.000Z', invoice: null, credits_granted: 0 });
    const refused = await api.post('/v1/subscription/change/preview', { plan: 'max' });
    expect([refused.status, refused.body.code]).toEqual([409, 'same_plan']);
    expect((await api.post('/v1/subscription/change', { plan: 'max' })).body.code).toBe('same_plan');
  });

  it('a change with the confirmed amount is made; with an outdated one it is 409 preview_outdated with the fresh preview, nothing charged', async () => {
    const { api, advance } = await customer('plus', 'month', '2026-01-01T00:00:00Z');
    await advance('2026-01-11T00:00:00Z');
    const preview = (await api.post('/v1/subscription/change/preview', { plan: 'generative' })).body;
    await advance('2026-01-12T00:00:00Z'); // a day later the same change costs less
    const outdated = await api.post('/v1/subscription/change', { plan: 'generative', expected_amount_due_cents: preview.invoice.amount_due_cents });
    expect([outdated.status, outdated.body.code]).toEqual([409, 'preview_outdated']);
    expect(outdated.body.preview.invoice.amount_due_cents).toBeLessThan(preview.invoice.amount_due_cents);
    expect((await api.get<{ data: Invoice[] }>('/v1/invoices')).body.data.map((i) => i.kind)).toEqual(['subscription']);
    const made = await api.post('/v1/subscription/change', { plan: 'generative', expected_amount_due_cents: outdated.body.preview.invoice.amount_due_cents });
    expect([made.status, made.body.kind]).toEqual([200, 'upgrade']);
  });

  it('switches with a customer balance agree with their preview (SPEC example 5, then back with the balance applied)', async () => {
    const { api, advance } = await customer('max', 'year', '2026-01-01T00:00:00Z');
    await advance('2026-07-02T00:00:00Z');
    const toMonthly = await previewThenChange(api, { interval: 'month' });
    expect(toMonthly).toMatchObject({ kind: 'interval_switch', credits_granted: 13, invoice: { total_cents: -7569, amount_due_cents: 0, balance_applied_cents: 0 } });
    await advance('2026-07-10T00:00:00Z');
    const toYearly = await previewThenChange(api, { interval: 'year' });
    expect(toYearly.invoice!.balance_applied_cents).toBe(7569);
    expect(toYearly.invoice!.amount_due_cents).toBe(toYearly.invoice!.total_cents - 7569);
  });
});
