import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreditEngineClient } from '../../client/index.js';
import { ADMIN_KEY, startStack } from '../helpers/stack.js';
import { advanceTestClock, type Change, type Interval, type PlanId, problemOf } from '../helpers/typed-client.js';

/** SPEC §10: a preview, then the change made right after it, agree to the cent over HTTP. */
describe('change previews over HTTP', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => stack?.stop());

  async function customer(plan: PlanId, interval: Interval, start: string) {
    const operator = stack.client(ADMIN_KEY);
    const clock = (await operator.POST('/v1/test-clocks', { body: { frozen_time: start } })).data!;
    const ws = (await operator.POST('/v1/workspaces', { body: { name: `preview ${plan}`, test_clock_id: clock.id } })).data!;
    const api = stack.client(ws.api_key);
    expect((await api.PUT('/v1/payment-method', { body: { payment_method: 'pm_card_visa' } })).response.status).toBe(200);
    expect((await api.POST('/v1/subscription', { body: { plan, interval } })).response.status).toBe(201);
    return { api, advance: (to: string) => advanceTestClock(operator, clock.id, to) };
  }
  const invoices = async (api: CreditEngineClient) => (await api.GET('/v1/invoices')).data!.data;

  /** Previews `change`, makes it, and checks the invoice and the credits against the preview. */
  async function previewThenChange(api: CreditEngineClient, change: Change) {
    const preview = await api.POST('/v1/subscription/change/preview', { body: change });
    expect(preview.response.status).toBe(200);
    const made = await api.POST('/v1/subscription/change', { body: change });
    expect(made.response.status).toBe(200);
    const [previewed, result] = [preview.data!, made.data!];
    expect([result.kind, result.effective_at, result.credits_granted ?? 0]).toEqual([previewed.kind, previewed.effective_at, previewed.credits_granted]);
    if (previewed.invoice) {
      const invoice = (await invoices(api)).find((i) => i.id === result.invoice_id)!;
      // The invoice shows the balance applied as what its total leaves unpaid.
      expect({ lines: invoice.lines, total: invoice.total_cents, applied: Math.max(invoice.total_cents, 0) - invoice.amount_due_cents, due: invoice.amount_due_cents }).toEqual({
        lines: previewed.invoice.lines, total: previewed.invoice.total_cents, applied: previewed.invoice.balance_applied_cents,
        due: previewed.invoice.amount_due_cents,
      });
    }
    return previewed;
  }

  it('an upgrade (SPEC example 2) and a downgrade agree with their preview; a refused change is refused by its preview too', async () => {
    const { api, advance } = await customer('plus', 'month', '2026-01-01T00:00:00Z');
    await advance('2026-01-11T00:00:00Z');
    const upgrade = await previewThenChange(api, { plan: 'max' });
    expect(upgrade).toMatchObject({ kind: 'upgrade', credits_granted: 166, credits_expire_at: '2026-03-02T00:00:00.000Z', invoice: { total_cents: 1133, amount_due_cents: 1133 } });
    const downgrade = await previewThenChange(api, { plan: 'plus' });
    expect(downgrade).toMatchObject({ kind: 'downgrade', effective_at: '2026-01-31T00:00:00.000Z', invoice: null, credits_granted: 0 });
    const refused = await api.POST('/v1/subscription/change/preview', { body: { plan: 'max' } });
    expect([refused.response.status, refused.error?.code]).toEqual([409, 'same_plan']);
    expect((await api.POST('/v1/subscription/change', { body: { plan: 'max' } })).error?.code).toBe('same_plan');
  });

  it('a change with the confirmed amount is made; with an outdated one it is 409 preview_outdated with the fresh preview, nothing charged', async () => {
    const { api, advance } = await customer('plus', 'month', '2026-01-01T00:00:00Z');
    await advance('2026-01-11T00:00:00Z');
    const preview = (await api.POST('/v1/subscription/change/preview', { body: { plan: 'generative' } })).data!;
    await advance('2026-01-12T00:00:00Z'); // a day later the same change costs less
    const outdated = await api.POST('/v1/subscription/change', { body: { plan: 'generative', expected_amount_due_cents: preview.invoice!.amount_due_cents } });
    expect(problemOf(outdated)).toEqual({ status: 409, code: 'preview_outdated', problemJson: true });
    // The refusal carries the fresh preview (a detail field of the problem document).
    const fresh = (outdated.error as unknown as { preview: typeof preview }).preview;
    expect(fresh.invoice!.amount_due_cents).toBeLessThan(preview.invoice!.amount_due_cents);
    expect((await invoices(api)).map((i) => i.kind)).toEqual(['subscription']);
    const made = await api.POST('/v1/subscription/change', { body: { plan: 'generative', expected_amount_due_cents: fresh.invoice!.amount_due_cents } });
    expect([made.response.status, made.data?.kind]).toEqual([200, 'upgrade']);
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
