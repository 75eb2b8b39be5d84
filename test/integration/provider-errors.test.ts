import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { PROVIDER_INVALID_REQUEST } from '../../payments/provider-errors.js';
import type { ChargeRequest } from '../../payments/provider.js';
import { createStripeProvider } from '../../payments/stripe.js';
import { recordedStripeMock } from '../helpers/stripe-mock.js';

/**
 * Permanent vs transient Stripe errors, over HTTP with the real SDK: stripe-mock validates every request
 * against Stripe's OpenAPI spec (its 400s are real invalid requests). stripe-mock answers any id with a
 * fixture, so Stripe's answer for a customer that does not exist (404 resource_missing, as Stripe sends it)
 * and its transient answers are scripted at the recording proxy. A permanent error leaves the provider as
 * a non-retryable ApplicationFailure (type provider_invalid_request) that an activity does not retry; a
 * transient one stays a plain error, retried.
 */
describe('Stripe provider errors against stripe-mock', () => {
  const stripeMock = recordedStripeMock();
  const proxy = () => stripeMock.proxy;
  const provider = () => createStripeProvider({
    secretKey: 'sk_test_providererrors', webhookSecret: 'whsec_errors', apiBase: proxy().apiBase, publicUrl: 'https://credits.example.test',
  });
  const chargeRequest = (overrides: Partial<ChargeRequest> = {}): ChargeRequest => ({
    invoiceId: 'in_ours_errors', idempotencyKey: 'sub_e:1740787200:period:1:subscription', attempt: 0, providerInvoiceId: null,
    workspaceId: 'ws_e', subscriptionId: 'sub_e', customerId: 'cus_deleted', paymentMethod: null,
    lines: [{ description: 'Max plan (monthly)', amount_cents: 2900 }], amountDueCents: 2900, description: 'Max plan (monthly)',
    ...overrides,
  });
  /** What the charge threw (it must throw). */
  async function failure(run: () => Promise<unknown>): Promise<unknown> {
    try {
      await run();
    } catch (error) {
      return error;
    }
    throw new Error('expected the call to fail');
  }
  const stripeError = (status: number, error: Record<string, string>) => ({ status, body: { error } });

  it('classifies a missing customer as permanent: a non-retryable provider_invalid_request, sent once', async () => {
    proxy().script = (request) => (request.method === 'POST' && request.path === '/v1/invoices'
      ? stripeError(404, {
        type: 'invalid_request_error', code: 'resource_missing', param: 'customer', message: "No such customer: 'cus_deleted'",
        doc_url: 'https://stripe.com/docs/error-codes/resource-missing',
      })
      : undefined);
    const error = await failure(() => provider().charge(chargeRequest()));
    expect(error).toBeInstanceOf(ApplicationFailure);
    expect(error).toMatchObject({ type: PROVIDER_INVALID_REQUEST, nonRetryable: true, message: "No such customer: 'cus_deleted'" });
    expect((error as ApplicationFailure).details).toEqual([{ code: 'resource_missing', param: 'customer', status: 404 }]);
    // Nothing was retried, and nothing came after the refused invoice.
    expect(proxy().requests.map((r) => [r.method, r.path, r.status])).toEqual([['POST', '/v1/invoices', 404]]);
  });

  it('classifies parameters stripe-mock rejects (Stripe\'s own spec) as permanent', async () => {
    // Amounts are whole cents: half a cent fails Stripe's validation of the invoice item, every time.
    const error = await failure(() => provider().charge(chargeRequest({ customerId: 'cus_contract', lines: [{ description: 'Half a cent', amount_cents: 0.5 }] })));
    expect(error).toMatchObject({ type: PROVIDER_INVALID_REQUEST, nonRetryable: true });
    expect((error as ApplicationFailure).details).toEqual([{ code: null, param: null, status: 400 }]);
    expect(proxy().requests.map((r) => [r.method, r.path, r.status])).toEqual([['POST', '/v1/invoices', 200], ['POST', '/v1/invoiceitems', 400]]);
  });

  it('leaves transient errors plain (retried by the activity\'s policy): 5xx, 409 in progress, 429', async () => {
    for (const [status, body] of [
      [500, { type: 'api_error', message: 'An unknown error occurred' }],
      [409, { type: 'invalid_request_error', code: 'idempotency_key_in_use', message: 'There is currently another in-progress request using this idempotency key.' }],
      [429, { type: 'invalid_request_error', code: 'rate_limit', message: 'Too many requests made to the API too quickly' }],
    ] as const) {
      proxy().requests.length = 0;
      proxy().script = (request) => (request.path === '/v1/invoices' ? stripeError(status, body) : undefined);
      const error = await failure(() => provider().charge(chargeRequest({ customerId: 'cus_contract' })));
      expect(error, `${status}`).not.toBeInstanceOf(ApplicationFailure);
      expect((error as { statusCode?: number }).statusCode, `${status}`).toBe(status);
      // The SDK itself retried the 5xx and the 409 (maxNetworkRetries), the same request each time.
      expect(proxy().requests.every((r) => r.path === '/v1/invoices' && r.status === status), `${status}`).toBe(true);
      expect(proxy().requests.length, `${status}`).toBe(status === 429 ? 1 : 3);
    }
  });

  it('keeps the provider\'s outcomes: a declined card is still a decline, not a failure', async () => {
    proxy().script = (request) => (request.path.endsWith('/pay')
      ? stripeError(402, { type: 'card_error', code: 'card_declined', decline_code: 'generic_decline', message: 'Your card was declined.' })
      : undefined);
    expect(await provider().charge(chargeRequest({ customerId: 'cus_contract' }))).toMatchObject({ status: 'declined', code: 'card_declined' });
  });
});
