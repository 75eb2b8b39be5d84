import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, startStack } from '../helpers/stack.js';
import { eventually } from '../helpers/temporal.js';
import { advanceTestClock, type PaymentMethodId } from '../helpers/typed-client.js';

/**
 * Credit packs (SPEC §1) over HTTP: buying one needs a live subscription (active, past due or paused),
 * otherwise 409 subscription_required and nothing changes; a declined pack leaves no payable invoice (void,
 * also on the sandbox's hosted page) and answers 402 payment_declined.
 */
describe('credit packs', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  const operator = () => stack.client(ADMIN_KEY);
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => stack?.stop());

  async function workspaceOn(paymentMethod: PaymentMethodId) {
    const clockId = (await operator().POST('/v1/test-clocks', { body: { frozen_time: '2026-01-01T00:00:00Z' } })).data!.id;
    const ws = (await operator().POST('/v1/workspaces', { body: { name: `packs ${paymentMethod}`, test_clock_id: clockId } })).data!;
    const customer = stack.client(ws.api_key);
    expect((await customer.PUT('/v1/payment-method', { body: { payment_method: paymentMethod } })).response.status).toBe(200);
    return { customer, clockId, workspaceId: ws.id };
  }

  /** Everything of the workspace a purchase could touch, with the provider's events about it. */
  async function footprint(workspaceId: string) {
    const [invoices, lots, entries, events] = await Promise.all([
      stack.sql`SELECT id, kind, status, total_cents FROM invoices WHERE workspace_id = ${workspaceId} ORDER BY seq`,
      stack.sql`SELECT id, source, granted, remaining, frozen FROM lots WHERE workspace_id = ${workspaceId} ORDER BY id`,
      stack.sql`SELECT id, kind, amount FROM ledger_entries WHERE workspace_id = ${workspaceId} ORDER BY id`,
      stack.sql`SELECT event_id FROM sandbox_outbox WHERE payload->'data'->'object'->'metadata'->>'workspace_id' = ${workspaceId} ORDER BY event_id`,
    ]);
    return { invoices: [...invoices], lots: [...lots], entries: [...entries], events: [...events] };
  }

  it('refuses a pack without a subscription (409 subscription_required), changing nothing', async () => {
    const { customer, workspaceId } = await workspaceOn('pm_card_visa');
    const before = await footprint(workspaceId);
    const refused = await customer.POST('/v1/credit-packs', { body: { size: 100 } });
    expect(refused.response.status).toBe(409);
    expect(refused.response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(refused.error).toMatchObject({ status: 409, code: 'subscription_required' });
    expect(await footprint(workspaceId)).toEqual(before);
    expect(before.invoices).toEqual([]);
    expect((await customer.GET('/v1/credits')).data!.lots).toEqual([]);
  });

  it('refuses a pack once a cancellation took effect, not before it', async () => {
    const { customer, clockId, workspaceId } = await workspaceOn('pm_card_visa');
    expect((await customer.POST('/v1/subscription', { body: { plan: 'max', interval: 'month' } })).data!.status).toBe('active');
    expect((await customer.POST('/v1/subscription/cancel')).data!.cancel_at_period_end).toBe(true);
    // Canceling, still live: the pack is sold, with the Max discount.
    const whileCanceling = await customer.POST('/v1/credit-packs', { body: { size: 100 } });
    expect([whileCanceling.response.status, whileCanceling.data!.invoice.total_cents, whileCanceling.data!.invoice.status]).toEqual([201, 800, 'paid']);

    await advanceTestClock(operator(), clockId, '2026-02-01T00:00:00Z');
    await eventually(() => customer.GET('/v1/subscription'), (r) => r.data?.status === 'canceled');
    const before = await footprint(workspaceId);
    const refused = await customer.POST('/v1/credit-packs', { body: { size: 500 } });
    expect([refused.response.status, refused.error?.code]).toEqual([409, 'subscription_required']);
    expect(await footprint(workspaceId)).toEqual(before);
  });

  it('voids a declined pack\'s invoice (402 payment_declined): nothing to pay on its hosted page, nothing delivered', async () => {
    const { customer, workspaceId } = await workspaceOn('pm_card_visa');
    expect((await customer.POST('/v1/subscription', { body: { plan: 'plus', interval: 'month' } })).data!.status).toBe('active');
    expect((await customer.PUT('/v1/payment-method', { body: { payment_method: 'pm_card_chargeDeclined' } })).response.status).toBe(200);
    const lotsBefore = (await footprint(workspaceId)).lots;

    const declined = await customer.POST('/v1/credit-packs', { body: { size: 500 } });
    expect(declined.response.status).toBe(402);
    expect(declined.error).toMatchObject({ status: 402, code: 'payment_declined', decline_code: 'card_declined' });
    const pack = (await customer.GET('/v1/invoices')).data!.data.find((i) => i.kind === 'pack')!;
    expect(pack).toMatchObject({ status: 'void', total_cents: 4100 });

    // The hosted page shows it void, with nothing to complete; completing it anyway is ignored.
    const page = await (await fetch(pack.hosted_url!)).text();
    expect(page).toContain('<strong id="status">void</strong>');
    expect(page).not.toContain('Complete authentication');
    const forced = await fetch(`${stack.baseUrl}/sandbox/invoices/${pack.id}/authenticate`, { method: 'POST', redirect: 'manual' });
    expect(forced.status).toBe(403); // no token from its page (issue 16): test/security/sandbox-authenticate.test.ts
    // The decline's event and the void's (the sandbox voids its invoice too, as Stripe does) are delivered and
    // stored; no payment event exists for the invoice.
    await eventually(() => stack.sql`SELECT type FROM webhook_events WHERE event->>'invoiceId' = ${pack.id}`, (rows) => rows.length === 2);
    expect((await stack.sql`SELECT type FROM webhook_events WHERE event->>'invoiceId' = ${pack.id} ORDER BY type`).map((r) => r.type))
      .toEqual(['invoice.payment_failed', 'invoice.voided']);
    expect(await stack.sql`SELECT 1 FROM sandbox_outbox WHERE payload->>'type' = 'invoice.paid'
      AND payload->'data'->'object'->'metadata'->>'invoice_id' = ${pack.id}`).toHaveLength(0);
    const after = await footprint(workspaceId);
    expect(after.invoices.find((i) => i.id === pack.id)?.status).toBe('void');
    expect(after.lots).toEqual(lotsBefore);
  });

  it('sells a pack to a paused subscription, spendable at once', async () => {
    const { customer, clockId } = await workspaceOn('pm_card_visa');
    expect((await customer.POST('/v1/subscription', { body: { plan: 'generative', interval: 'month' } })).data!.status).toBe('active');
    expect((await customer.POST('/v1/subscription/pause', { body: { cycles: 1 } })).response.status).toBe(200);
    await advanceTestClock(operator(), clockId, '2026-02-01T00:00:00Z');
    await eventually(() => customer.GET('/v1/subscription'), (r) => r.data?.status === 'paused');

    const bought = await customer.POST('/v1/credit-packs', { body: { size: 500 } });
    expect(bought.response.status).toBe(201);
    expect(bought.data!.invoice).toMatchObject({ kind: 'pack', status: 'paid', total_cents: 3280 });
    const credits = (await customer.GET('/v1/credits')).data!;
    expect(credits.lots.find((l) => l.id === bought.data!.lot)).toMatchObject({ source: 'pack', granted: 500, frozen: false, expires_at: null });
  });
});
