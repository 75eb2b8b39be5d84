/**
 * Which payment provider errors are permanent. An activity's plain error is retried by policy, forever:
 * right for a network error, a 5xx, a rate limit or a request still in progress, wrong for a request the
 * provider refuses as sent (an unknown or deleted customer or invoice, invalid parameters), which fails the
 * same way on every retry. Those leave the provider as non-retryable ApplicationFailures, so the workflow
 * sees them at once instead of an activity retried without end.
 */
import { ApplicationFailure } from '@temporalio/common';
import Stripe from 'stripe';

/** The ApplicationFailure type of a provider request that can never succeed as sent. */
export const PROVIDER_INVALID_REQUEST = 'provider_invalid_request';

/** A request the sandbox refuses as Stripe would refuse it (invalid parameters): no retry can change that. */
export class ProviderInvalidRequestError extends Error {
  constructor(message: string, readonly param?: string) {
    super(message);
    this.name = 'ProviderInvalidRequestError';
  }
}

/** Codes Stripe may send with an invalid-request error that go away by themselves: retry those. */
const TRANSIENT_CODES = new Set(['idempotency_key_in_use', 'lock_timeout', 'rate_limit']);

/**
 * Whether retrying the request that raised `error` can never help. Permanent: Stripe's invalid requests
 * (400 and 404: `resource_missing` such as a missing customer, missing or invalid parameters), a reused
 * idempotency key with other parameters, and the sandbox's invalid requests. Everything else is transient:
 * connection errors, 5xx, 409 (an idempotent request still in progress), 429 and lock timeouts, and
 * errors that are not the provider's.
 */
export function isPermanentProviderError(error: unknown): boolean {
  if (error instanceof ProviderInvalidRequestError || error instanceof Stripe.errors.StripeIdempotencyError) return true;
  if (!(error instanceof Stripe.errors.StripeInvalidRequestError)) return false;
  return (error.statusCode === 400 || error.statusCode === 404) && !TRANSIENT_CODES.has(error.code ?? '');
}

/** Is `error` the non-retryable failure of a provider request that can never succeed as sent? */
export function isProviderInvalidRequest(error: unknown): boolean {
  return error instanceof ApplicationFailure && error.type === PROVIDER_INVALID_REQUEST;
}

/** A permanent provider error as a non-retryable ApplicationFailure (type provider_invalid_request); any other unchanged. */
export function asProviderFailure(error: unknown): unknown {
  if (!isPermanentProviderError(error)) return error;
  const { message, code, param, statusCode } = error as Error & { code?: string; param?: string; statusCode?: number };
  return ApplicationFailure.nonRetryable(message, PROVIDER_INVALID_REQUEST, { code: code ?? null, param: param ?? null, status: statusCode ?? null });
}

/**
 * The provider with every method's permanent errors turned into non-retryable ApplicationFailures (see
 * asProviderFailure), so the activities that call it need not tell one provider's errors from another's.
 * Synchronous methods (webhook parsing) stay synchronous.
 */
export function withPermanentFailures<T extends object>(provider: T): T {
  const wrapped = { ...provider } as Record<string, unknown>;
  for (const [name, member] of Object.entries(provider)) {
    if (typeof member !== 'function') continue;
    wrapped[name] = (...args: unknown[]): unknown => {
      let result: unknown;
      try {
        result = (member as (...a: unknown[]) => unknown).apply(provider, args);
      } catch (error) {
        throw asProviderFailure(error);
      }
      return result instanceof Promise ? result.catch((error: unknown) => Promise.reject(asProviderFailure(error))) : result;
    };
  }
  return wrapped as T;
}
