import { ApplicationFailure } from '@temporalio/common';
import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import {
  asProviderFailure, isPermanentProviderError, PROVIDER_INVALID_REQUEST, ProviderInvalidRequestError, withPermanentFailures,
} from '../../payments/provider-errors.js';
import type { ChargeRequest } from '../../payments/provider.js';
import { createSandboxProvider } from '../../payments/sandbox.js';

/**
 * Permanent vs transient provider errors (DESIGN: permanent problems are non-retryable ApplicationFailures,
 * transient ones plain errors retried by policy). Stripe's errors are built the way the SDK builds them from
 * an HTTP answer (StripeError.generate: by status code and error type).
 */
describe('provider error classification', () => {
  const stripeError = (statusCode: number, type: string, code?: string, message = `${type} ${code ?? ''}`) =>
    Stripe.errors.StripeError.generate({ statusCode, type: type as never, code, message, param: code === 'resource_missing' ? 'customer' : undefined });

  it('treats requests Stripe refuses as sent as permanent', () => {
    const missingCustomer = stripeError(404, 'invalid_request_error', 'resource_missing', "No such customer: 'cus_gone'");
    expect(missingCustomer).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(isPermanentProviderError(missingCustomer)).toBe(true);
    expect(isPermanentProviderError(stripeError(400, 'invalid_request_error', 'parameter_invalid_integer'))).toBe(true);
    expect(isPermanentProviderError(stripeError(400, 'invalid_request_error', 'parameter_missing'))).toBe(true);
    expect(isPermanentProviderError(stripeError(400, 'invalid_request_error'))).toBe(true);
    // The same key with other parameters can never be accepted.
    expect(isPermanentProviderError(stripeError(400, 'idempotency_error'))).toBe(true);
    expect(isPermanentProviderError(new ProviderInvalidRequestError('invalid amount', 'amount'))).toBe(true);
  });

  it('treats everything that may pass by itself as transient', () => {
    for (const error of [
      stripeError(500, 'api_error'),
      stripeError(503, 'api_error'),
      stripeError(429, 'rate_limit_error', 'rate_limit'),
      stripeError(400, 'invalid_request_error', 'rate_limit'), // Stripe's 400 rate limit is a StripeRateLimitError
      stripeError(400, 'invalid_request_error', 'lock_timeout'),
      stripeError(400, 'invalid_request_error', 'idempotency_key_in_use'),
      stripeError(409, 'invalid_request_error', 'idempotency_key_in_use'), // an idempotent request still in progress
      stripeError(401, 'authentication_error'), // a rotated key is fixed by configuration, then the retry succeeds
      new Stripe.errors.StripeConnectionError({ message: 'socket hang up' }),
      new Error('ECONNRESET'),
      'not even an error',
    ]) {
      expect(isPermanentProviderError(error), String((error as Error).message ?? error)).toBe(false);
      expect(asProviderFailure(error)).toBe(error);
    }
  });

  it('turns a permanent error into a non-retryable ApplicationFailure of type provider_invalid_request', () => {
    const failure = asProviderFailure(stripeError(404, 'invalid_request_error', 'resource_missing', "No such customer: 'cus_gone'"));
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: PROVIDER_INVALID_REQUEST, nonRetryable: true, message: "No such customer: 'cus_gone'" });
    expect((failure as ApplicationFailure).details).toEqual([{ code: 'resource_missing', param: 'customer', status: 404 }]);
  });

  it('wraps every method of a provider, async and sync, keeping values and transient errors as they are', async () => {
    const transient = stripeError(503, 'api_error');
    const provider = withPermanentFailures({
      name: 'fake' as const,
      async charge(fail: 'permanent' | 'transient' | 'no') {
        if (fail === 'permanent') throw stripeError(404, 'invalid_request_error', 'resource_missing');
        if (fail === 'transient') throw transient;
        return { status: 'paid' };
      },
      parse(raw: string) {
        if (raw === '') throw new ProviderInvalidRequestError('empty body');
        return raw.length;
      },
    });
    expect(provider.name).toBe('fake');
    await expect(provider.charge('no')).resolves.toEqual({ status: 'paid' });
    await expect(provider.charge('permanent')).rejects.toMatchObject({ type: PROVIDER_INVALID_REQUEST, nonRetryable: true });
    await expect(provider.charge('transient')).rejects.toBe(transient);
    expect(provider.parse('abc')).toBe(3); // still synchronous
    expect(() => provider.parse('')).toThrow(ApplicationFailure);
  });

  it('has the sandbox refuse, like Stripe, a charge it could never make, as a non-retryable failure', async () => {
    // Refused before anything is written: no database is needed.
    const sandbox = createSandboxProvider({ publicUrl: 'http://localhost', sql: undefined as never });
    const request: ChargeRequest = {
      invoiceId: 'in_x', idempotencyKey: 'k', attempt: 0, providerInvoiceId: null, workspaceId: 'ws_x', subscriptionId: null,
      customerId: null, paymentMethod: 'pm_card_visa', lines: [{ description: 'x', amount_cents: 100 }], amountDueCents: 100, description: 'x',
    };
    for (const invalid of [{ amountDueCents: 12.5 }, { amountDueCents: -1 }, { lines: [{ description: 'x', amount_cents: 0.5 }] }]) {
      await expect(sandbox.charge({ ...request, ...invalid }), JSON.stringify(invalid))
        .rejects.toMatchObject({ type: PROVIDER_INVALID_REQUEST, nonRetryable: true, details: [{ code: null, param: 'amount', status: null }] });
    }
  });
});
