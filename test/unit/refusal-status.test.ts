import { ApplicationFailure } from '@temporalio/common';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { ApiError, onError } from '../../api/errors.js';
import { REFUSAL_STATUS } from '../../api/refusal-status.js';
import { catalogueTitle } from '../../api/error-catalogue.js';
import { workflowRefusal } from '../../billing/subscriptions.js';
import { Refusal, REFUSAL_CODES } from '../../domain/refusals.js';

/** The one code → status table at the edge, and the problem documents refusals become (DESIGN: one refusal type). */
describe('refusals at the API edge', () => {
  /** What a route throwing `error` answers, through the app's own error mapper. */
  async function answer(error: Error): Promise<{ status: number; contentType: string | null; body: Record<string, unknown> }> {
    const app = new Hono();
    app.onError(onError);
    app.get('/', () => {
      throw error;
    });
    const response = await app.request('/');
    return { status: response.status, contentType: response.headers.get('content-type'), body: await response.json() as Record<string, unknown> };
  }

  it('gives every refusal code the status the API has always answered with it', () => {
    expect(Object.keys(REFUSAL_STATUS).sort()).toEqual([...REFUSAL_CODES].sort());
    const byStatus = (status: number) => REFUSAL_CODES.filter((code) => REFUSAL_STATUS[code] === status).sort();
    expect(byStatus(400)).toEqual(['invalid_request', 'unknown_plan']);
    expect(byStatus(402)).toEqual(['insufficient_credits', 'payment_declined', 'spending_limit_reached']);
    // SPEC §11: a key with a daily budget may not manage keys.
    expect(byStatus(403)).toEqual(['key_restricted']);
    expect(byStatus(404)).toEqual(['creation_not_found', 'custom_model_not_found', 'invoice_not_found', 'no_subscription', 'no_upcoming_invoice', 'quote_not_found']);
    expect(byStatus(409)).toEqual(expect.arrayContaining(['subscription_required', 'custom_model_limit', 'quote_expired', 'creation_not_running',
      'same_plan', 'subscription_exists', 'already_paused', 'nothing_to_resume', 'no_scheduled_change']));
    // The provider failing a refund is not the request's fault: a 502, nothing recorded as done (SPEC §10).
    expect(byStatus(502)).toEqual(['provider_refund_failed']);
    expect(new Set(Object.values(REFUSAL_STATUS))).toEqual(new Set([400, 402, 403, 404, 409, 502]));
  });

  it('answers a refusal as a problem document with its detail fields beside the standard ones', async () => {
    const refused = await answer(new Refusal('insufficient_credits', 'this creation needs 30 credits; 12 are available', { required: 30, available: 12 }));
    expect(refused.status).toBe(402);
    expect(refused.contentType).toBe('application/problem+json');
    expect(refused.body).toEqual({
      type: 'http://localhost/docs/errors#insufficient_credits', title: 'Insufficient credits',
      detail: 'this creation needs 30 credits; 12 are available', status: 402, code: 'insufficient_credits', required: 30, available: 12,
    });
    // A detail never replaces a standard field.
    const sneaky = await answer(new Refusal('subscription_required', 'needs a live subscription', { status: 200, code: 'ok', type: 'x', errors: [] }));
    expect(sneaky.body).toEqual({
      type: 'http://localhost/docs/errors#subscription_required', title: catalogueTitle('subscription_required'), detail: 'needs a live subscription',
      status: 409, code: 'subscription_required',
    });
    expect(sneaky.status).toBe(409);
  });

  it('maps a workflow refusal by its code; an old workflow\'s numeric status answers only for codes the table lacks', () => {
    const fromWorkflow = (type: string, ...details: unknown[]) => workflowRefusal(ApplicationFailure.create({ type, message: `refused: ${type}`, nonRetryable: true, details }));
    // The new workflow: code and detail object.
    const declined = fromWorkflow('payment_declined', { decline_code: 'card_declined' });
    expect(declined).toBeInstanceOf(Refusal);
    expect(declined).toMatchObject({ code: 'payment_declined', message: 'refused: payment_declined', detail: { decline_code: 'card_declined' } });
    // A workflow started before codes replaced statuses: the table still decides a known code ...
    expect(fromWorkflow('unknown_plan', 400)).toMatchObject({ code: 'unknown_plan', detail: {} });
    expect(fromWorkflow('same_plan', 409)).toBeInstanceOf(Refusal);
    // ... and its number answers for a code the table does not know, else 409.
    const legacy = fromWorkflow('retired_code', 422);
    expect(legacy).toBeInstanceOf(ApiError);
    expect([(legacy as ApiError).status, (legacy as ApiError).code]).toEqual([422, 'retired_code']);
    expect((fromWorkflow('retired_code') as ApiError).status).toBe(409);
    expect((fromWorkflow('retired_code', 200) as ApiError).status).toBe(409);
    expect((fromWorkflow('retired_code', { some: 'detail' }) as ApiError).status).toBe(409);
  });

  it('answers each code with its table status end to end through onError', async () => {
    for (const code of REFUSAL_CODES) {
      const { status, body } = await answer(new Refusal(code, `refused: ${code}`));
      expect([status, body.status, body.code], code).toEqual([REFUSAL_STATUS[code], REFUSAL_STATUS[code], code]);
    }
  });
});
