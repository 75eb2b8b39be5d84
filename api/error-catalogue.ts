import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { REFUSAL_CODES, type RefusalCode } from '../domain/refusals.js';
import { REFUSAL_STATUS } from './refusal-status.js';

/**
 * Every `code` a problem+json answer of this API can carry: the domain's refusals (domain/refusals.ts, their
 * status from api/refusal-status.ts) and the transport errors raised with `new ApiError(...)` at the edge.
 * Served as /docs/errors (each code an anchor: a problem's `type` is `<origin>/docs/errors#<code>`) and as
 * `x-error-codes` plus the Problem schema's `code` enum in /openapi.json. A new code needs its row here
 * (test/unit/error-catalogue.test.ts walks the refusal codes and every `new ApiError(<status>, '<code>'` of the sources).
 */
export interface ErrorCodeEntry {
  code: string;
  /** The HTTP status it answers with (a few codes have a second, named in `meaning`). */
  status: ContentfulStatusCode;
  title: string;
  /** What happened, then what the client does about it. */
  meaning: string;
}

/** Codes raised at the HTTP edge (authentication, limits, validation, infrastructure), not by the domain. */
export const TRANSPORT_ERROR_CODES = [
  'unauthorized', 'forbidden', 'not_found', 'payload_too_large', 'rate_limited', 'idempotency_key_reused',
  'idempotency_key_in_use', 'idempotent_secret_not_replayable', 'invalid_signature', 'sandbox_mode', 'http_error',
  'refused', 'temporarily_unavailable', 'internal_error',
] as const;
export type TransportErrorCode = (typeof TRANSPORT_ERROR_CODES)[number];
export type ErrorCode = RefusalCode | TransportErrorCode;

type Described = { title: string; meaning: string };

const TRANSPORT: Record<TransportErrorCode, Described & { status: ContentfulStatusCode }> = {
  unauthorized: { status: 401, title: 'Unauthorized', meaning: 'No bearer API key, or one this API does not know. Send `Authorization: Bearer <key>` with a workspace or operator key.' },
  forbidden: { status: 403, title: 'Forbidden', meaning: 'The key may not use this route: operator routes need an operator key, workspace routes a workspace key. Use the other kind of key.' },
  not_found: { status: 404, title: 'Not found', meaning: 'No such route, or no such object in this workspace (another workspace\'s object is a 404 too). Check the id and the key.' },
  payload_too_large: { status: 413, title: 'Payload too large', meaning: 'The request body is over 64 KiB (1 MiB for incoming webhooks). Send a smaller body.' },
  rate_limited: { status: 429, title: 'Rate limited', meaning: 'Too many requests for this API key or workspace. Wait the `Retry-After` seconds, then retry the same request.' },
  idempotency_key_reused: { status: 422, title: 'Idempotency-Key reused', meaning: 'This Idempotency-Key was used within 24 hours with another request (route or body). Use a new key for a new request.' },
  idempotency_key_in_use: { status: 409, title: 'Idempotency-Key in use', meaning: 'The first request with this Idempotency-Key is still running. Retry the same request shortly: it then answers with the first one\'s answer.' },
  idempotent_secret_not_replayable: { status: 409, title: 'Answer no longer replayable', meaning: 'The first request with this Idempotency-Key succeeded, but its answer (which held a secret) can no longer be replayed. List what it created instead of repeating it.' },
  invalid_signature: { status: 400, title: 'Invalid webhook signature', meaning: 'An incoming payment webhook whose signature header does not match its body. Check the webhook secret; the event is not processed.' },
  sandbox_mode: { status: 409, title: 'Sandbox mode', meaning: 'A Stripe-only route called while the API runs with the sandbox provider. In the sandbox, set a test payment method with PUT /v1/payment-method.' },
  http_error: { status: 400, title: 'HTTP error', meaning: 'The request could not be read as HTTP the API understands (e.g. a malformed body); the status says which. Fix the request.' },
  refused: { status: 409, title: 'Refused', meaning: 'A refusal by a subscription workflow started by an older version, whose code predates this catalogue. The title says why; nothing was changed.' },
  temporarily_unavailable: { status: 503, title: 'Temporarily unavailable', meaning: 'The workflow service cannot be reached. Wait the `Retry-After` seconds and retry with the same Idempotency-Key.' },
  internal_error: { status: 500, title: 'Internal error', meaning: 'An unexpected error, logged on the server. Retry with the same Idempotency-Key; report it if it persists.' },
};

const REFUSALS: Record<RefusalCode, Described> = {
  invalid_request: { title: 'Invalid request', meaning: 'A field, parameter or header is missing or invalid; `errors` lists each field and why. Fix the request; nothing was changed.' },
  unknown_plan: { title: 'Unknown plan', meaning: 'No plan with this id. GET /v1/plans lists the plans.' },
  payment_declined: { title: 'Payment declined', meaning: 'The card was declined; the invoice is voided and nothing is delivered. Update the payment method and try again.' },
  insufficient_credits: { title: 'Insufficient credits', meaning: 'The balance is below what the request needs (`required`, `available`). Buy a pack, wait for the renewal, or spend less. An operator taking back more than the balance gets it as a 409.' },
  spending_limit_reached: { title: 'Spending limit reached', meaning: 'This API key\'s daily credit limit would be exceeded. Wait for the next UTC day or raise the key\'s limit.' },
  key_restricted: { title: 'Key restricted', meaning: 'A key with a daily credit limit cannot create, change or revoke keys. Use an unrestricted key.' },
  no_subscription: { title: 'No subscription', meaning: 'The workspace has no subscription. Subscribe first (POST /v1/subscription).' },
  invoice_not_found: { title: 'Invoice not found', meaning: 'No such invoice (or not this workspace\'s). Check the id.' },
  no_upcoming_invoice: { title: 'No upcoming invoice', meaning: 'Nothing is scheduled to be charged: the subscription is canceling, canceled or incomplete.' },
  quote_not_found: { title: 'Quote not found', meaning: 'No such quote in this workspace. Estimate again (POST /v1/credits/estimate).' },
  creation_not_found: { title: 'Creation not found', meaning: 'No such creation in this workspace. Check the id.' },
  custom_model_not_found: { title: 'Custom model not found', meaning: 'No such custom model in this workspace. Check the id.' },
  subscription_not_active: { title: 'Subscription not active', meaning: 'The request needs an active subscription. Resume or pay it first.' },
  subscription_canceling: { title: 'Subscription canceling', meaning: 'The subscription is set to cancel. Resume it before changing it.' },
  change_pending: { title: 'Change pending', meaning: 'Another change (or a payment) is still in progress. Wait for it to finish, then retry.' },
  same_plan: { title: 'Same plan', meaning: 'The subscription is already on this plan and interval. Nothing to change.' },
  already_paused: { title: 'Already paused', meaning: 'The subscription is already paused or set to pause. Resume it first to pause differently.' },
  not_cancelable: { title: 'Not cancelable', meaning: 'The subscription cannot be canceled in its current state (e.g. already canceled).' },
  already_canceling: { title: 'Already canceling', meaning: 'The subscription is already set to cancel. Nothing to do.' },
  nothing_to_resume: { title: 'Nothing to resume', meaning: 'The subscription is neither canceling, paused nor canceled. Nothing to do.' },
  no_scheduled_change: { title: 'No scheduled change', meaning: 'No downgrade is scheduled. Nothing to withdraw.' },
  subscription_exists: { title: 'Subscription exists', meaning: 'The workspace already has a subscription. Change it instead (POST /v1/subscription/change).' },
  subscription_required: { title: 'Subscription required', meaning: 'Packs and top-ups need a live (active, past-due or paused) subscription. Subscribe first.' },
  preview_unavailable: { title: 'Preview unavailable', meaning: 'A change cannot be previewed in the subscription\'s current state. Retrieve the subscription to see why.' },
  invoice_not_refundable: { title: 'Invoice not refundable', meaning: 'Only a paid invoice with something left to refund can be refunded.' },
  refund_exceeds_paid: { title: 'Refund exceeds paid', meaning: 'The refund is more than what is left of the amount paid. Refund less.' },
  invoice_disputed: { title: 'Invoice disputed', meaning: 'The invoice\'s payment is under dispute. Wait for the dispute to close.' },
  provider_refund_failed: { title: 'Provider refund failed', meaning: 'The payment provider refused the refund as sent; nothing was given back. Check the provider\'s dashboard, then retry.' },
  preview_outdated: { title: 'Preview outdated', meaning: 'The amount the customer confirmed is no longer the amount due (time passed or the balance changed). Preview again and confirm the new amount.' },
  quote_expired: { title: 'Quote expired', meaning: 'The quote is older than 15 minutes. Estimate again.' },
  creation_not_running: { title: 'Creation not running', meaning: 'The creation is no longer running (completed, failed or expired). Its hold cannot be extended.' },
  creation_already_ended: { title: 'Creation already ended', meaning: 'The creation already ended differently (failed, expired, or completed with another amount). Retrieve it to see how.' },
  hold_extension_limit: { title: 'Hold extension limit', meaning: 'The hold cannot be extended further (its total lifetime is capped). Complete or fail the creation.' },
  open_quote_limit_reached: { title: 'Open quote limit reached', meaning: 'Too many unused quotes in the last 15 minutes. Use or let expire the open ones first.' },
  api_key_limit_reached: { title: 'API key limit reached', meaning: 'The workspace has the most unrevoked keys allowed. Revoke one first.' },
  custom_model_limit: { title: 'Custom model limit', meaning: 'The plan allows no more active custom models. Deactivate one or upgrade.' },
  custom_model_cap_reached: { title: 'Custom model cap reached', meaning: 'The workspace holds the most custom models allowed, active or not. Reuse one.' },
  external_id_taken: { title: 'external_id taken', meaning: 'Another workspace already has this external_id. Use another one.' },
  nothing_to_retry: { title: 'Nothing to retry', meaning: 'There is no unpaid renewal or first invoice to retry.' },
  root_key_not_revocable: { title: 'Root key not revocable', meaning: 'ADMIN_API_KEY (opk_root) cannot be revoked through the API; change the configuration instead.' },
  webhook_not_configured: { title: 'Webhook not configured', meaning: 'No webhook URL is set. Set one with PUT /v1/alerts first.' },
  event_not_yet_sent: { title: 'Event not yet sent', meaning: 'The event\'s first delivery has not ended yet. Wait for it, then retry.' },
};

/** The catalogue, refusals first in REFUSAL_CODES order, then the transport codes. */
export const ERROR_CATALOGUE: readonly ErrorCodeEntry[] = [
  ...REFUSAL_CODES.map((code) => ({ code, status: REFUSAL_STATUS[code], ...REFUSALS[code] })),
  ...TRANSPORT_ERROR_CODES.map((code) => ({ code, ...TRANSPORT[code] })),
];

/** The path of the catalogue's page; a code is its anchor. */
export const ERROR_DOCS_PATH = '/docs/errors';

/**
 * A problem's `type`: the code's anchor on the catalogue page under `base`, an origin (http://localhost:3000) or
 * PUBLIC_URL, which may carry a path (https://example.com/credits/); a trailing slash is not doubled.
 */
export function problemTypeUri(base: string, code: string): string {
  return `${base.replace(/\/+$/, '')}${ERROR_DOCS_PATH}#${code}`;
}

const TITLES: ReadonlyMap<string, string> = new Map(ERROR_CATALOGUE.map((entry) => [entry.code, entry.title]));

/** The catalogue's fixed title of `code` (a problem's `title`, RFC 9457 §3.1.4); undefined for a code not catalogued. */
export function catalogueTitle(code: string): string | undefined {
  return TITLES.get(code);
}
