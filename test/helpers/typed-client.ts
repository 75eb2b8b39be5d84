import type { CreditEngineClient, paths } from '../../client/index.js';
import { eventually } from './temporal.js';

/** The body of POST /v1/subscription/change, as the document types it. */
export type Change = NonNullable<paths['/v1/subscription/change']['post']['requestBody']>['content']['application/json'];
/** A plan id (`plus`, `max`, …) and a billing interval (`month`, `year`), from the document's enums. */
export type PlanId = NonNullable<Change['plan']>;
export type Interval = NonNullable<Change['interval']>;
/** A sandbox payment method id (`pm_card_visa`, …), from PUT /v1/payment-method's enum. */
export type PaymentMethodId = NonNullable<paths['/v1/payment-method']['put']['requestBody']>['content']['application/json']['payment_method'];

/**
 * Advances a test clock through the typed client and waits until it is `ready` (every subscription on it has
 * caught up): the typed twin of stack.ts's advanceClock. Throws when the advance is refused.
 */
export async function advanceTestClock(operator: CreditEngineClient, clockId: string, to: string): Promise<void> {
  const path = { id: clockId };
  const advanced = await operator.POST('/v1/test-clocks/{id}/advance', { params: { path }, body: { frozen_time: to } });
  if (advanced.response.status !== 200) throw new Error(`advance failed: ${advanced.response.status} ${JSON.stringify(advanced.error)}`);
  await eventually(() => operator.GET('/v1/test-clocks/{id}', { params: { path } }), (r) => r.data?.status === 'ready');
}

/** A problem answer's status, code and content type, for one `toEqual`. */
export function problemOf(result: { response: Response; error?: unknown }) {
  return {
    status: result.response.status,
    code: (result.error as { code?: string } | undefined)?.code,
    problemJson: result.response.headers.get('content-type')?.startsWith('application/problem+json') ?? false,
  };
}
