import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SIGNATURE_TOLERANCE_SECONDS, signStripePayload, verifyStripeEvent } from '../../payments/webhooks.js';
import { ADMIN_KEY, apiClient, startStack, WEBHOOK_SECRET } from '../helpers/stack.js';
import { eventually } from '../helpers/temporal.js';

/**
 * Inbound webhook signatures (issue 16, finding list item "signature timestamps in the future beyond the
 * tolerance are refused", and "what held": signatures and the replay window). Invariant: POST /webhooks/stripe
 * stores and applies only an event signed with our secret over its exact body, stamped within 300 s of our clock
 * either way; anything else is a 400 invalid_signature that stores nothing and pays nothing.
 */
const now = () => Math.floor(Date.now() / 1000);

describe('verifyStripeEvent: the replay window both ways', () => {
  const body = JSON.stringify({ id: 'evt_1', object: 'event', type: 'invoice.paid', created: 1, data: { object: { object: 'invoice' } } });

  it('accepts a signature stamped now, or within the tolerance either way', () => {
    for (const skew of [0, -SIGNATURE_TOLERANCE_SECONDS + 5, SIGNATURE_TOLERANCE_SECONDS - 5]) {
      expect(verifyStripeEvent(body, signStripePayload(body, WEBHOOK_SECRET, now() + skew), WEBHOOK_SECRET).id).toBe('evt_1');
    }
  });

  it('refuses a signature stamped beyond the tolerance in the past or in the future, and a wrong secret', () => {
    for (const skew of [-SIGNATURE_TOLERANCE_SECONDS - 5, SIGNATURE_TOLERANCE_SECONDS + 5, 365 * 86_400]) {
      expect(() => verifyStripeEvent(body, signStripePayload(body, WEBHOOK_SECRET, now() + skew), WEBHOOK_SECRET)).toThrow();
    }
    expect(() => verifyStripeEvent(body, signStripePayload(body, 'another-secret-0123456789'), WEBHOOK_SECRET)).toThrow();
  });

  it('binds the last t= of the header, the one the signature covers (a second, older t= does not hide a future one)', () => {
    const future = signStripePayload(body, WEBHOOK_SECRET, now() + 3600);
    expect(() => verifyStripeEvent(body, `t=${now()},${future}`, WEBHOOK_SECRET)).toThrow();
  });
});

describe('POST /webhooks/stripe refuses unsigned, stale and future events, applying nothing', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => stack?.stop());

  it('answers 400 invalid_signature to a bad signature, an old or a future timestamp; the invoice stays open', async () => {
    const operator = stack.api(ADMIN_KEY);
    const clockId = (await operator.post('/v1/test-clocks', { frozen_time: '2026-01-01T00:00:00Z' })).body.id as string;
    const ws = await operator.post('/v1/workspaces', { name: 'signed', test_clock_id: clockId });
    const customer = apiClient(stack.baseUrl, ws.body.api_key);
    await customer.put('/v1/payment-method', { payment_method: 'pm_card_authenticationRequired' });
    expect((await customer.post('/v1/subscription', { plan: 'plus', interval: 'month' })).body.status).toBe('incomplete');
    const [invoice] = (await customer.get('/v1/invoices')).body.data as { id: string; amount_due_cents: number }[];
    const payload = (id: string) => JSON.stringify({
      id, object: 'event', type: 'invoice.paid', created: now(),
      data: { object: { id: `in_sandbox_${invoice!.id}`, object: 'invoice', status: 'paid', customer: ws.body.id,
        amount_due: invoice!.amount_due_cents, amount_paid: invoice!.amount_due_cents,
        metadata: { invoice_id: invoice!.id, workspace_id: ws.body.id, subscription_id: '' } } },
    });
    const send = (body: string, signature: string) => fetch(`${stack.baseUrl}/webhooks/stripe`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': signature }, body,
    });
    const attempts = [
      ['evt_bad_signature', (b: string) => signStripePayload(b, 'not-our-secret-0123456789')],
      ['evt_old', (b: string) => signStripePayload(b, WEBHOOK_SECRET, now() - SIGNATURE_TOLERANCE_SECONDS - 60)],
      ['evt_future', (b: string) => signStripePayload(b, WEBHOOK_SECRET, now() + SIGNATURE_TOLERANCE_SECONDS + 60)],
      ['evt_far_future', (b: string) => signStripePayload(b, WEBHOOK_SECRET, now() + 10 * 365 * 86_400)],
      ['evt_no_header', () => ''],
    ] as const;
    for (const [id, sign] of attempts) {
      const body = payload(id);
      const refused = await send(body, sign(body));
      expect([id, refused.status, (await refused.json()).code]).toEqual([id, 400, 'invalid_signature']);
    }
    expect(await stack.sql`SELECT id FROM webhook_events WHERE id LIKE 'evt_%' AND id = ANY(${attempts.map(([id]) => id)})`).toHaveLength(0);
    expect((await customer.get(`/v1/invoices/${invoice!.id}`)).body.status).toBe('open');
    expect((await customer.get('/v1/credits')).body.available).toBe(0);

    // The control: the same event, signed now, is stored and pays the invoice.
    const body = payload('evt_signed_now');
    expect((await send(body, signStripePayload(body, WEBHOOK_SECRET))).status).toBe(200);
    await eventually(() => customer.get(`/v1/invoices/${invoice!.id}`), (r) => r.body.status === 'paid');
  });
});
