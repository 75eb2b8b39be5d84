import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { RefusalCode } from '../domain/refusals.js';

/**
 * The one table from a refusal's code to its HTTP status. The domain and the workflow carry codes only;
 * this edge decides what each means over HTTP (SPEC §8): bad input 400, a payment or balance that falls
 * short 402, a missing object 404, and a request the current state refuses 409.
 */
export const REFUSAL_STATUS: Record<RefusalCode, ContentfulStatusCode> = {
  invalid_request: 400,
  unknown_plan: 400,

  payment_declined: 402,
  insufficient_credits: 402,
  spending_limit_reached: 402,
  // A key with a daily_credit_limit cannot create, change or revoke keys (SPEC §11).
  key_restricted: 403,

  no_subscription: 404,
  invoice_not_found: 404,
  no_upcoming_invoice: 404,
  quote_not_found: 404,
  creation_not_found: 404,
  custom_model_not_found: 404,

  subscription_not_active: 409,
  subscription_canceling: 409,
  change_pending: 409,
  same_plan: 409,
  already_paused: 409,
  not_cancelable: 409,
  already_canceling: 409,
  nothing_to_resume: 409,
  no_scheduled_change: 409,
  subscription_exists: 409,
  subscription_required: 409,
  preview_unavailable: 409,
  invoice_not_refundable: 409,
  refund_exceeds_paid: 409,
  invoice_disputed: 409,
  // The provider refused the refund as sent: nothing was given back.
  provider_refund_failed: 502,
  preview_outdated: 409,
  quote_expired: 409,
  creation_not_running: 409,
  creation_already_ended: 409,
  hold_extension_limit: 409,
  open_quote_limit_reached: 409,
  api_key_limit_reached: 409,
  custom_model_limit: 409,
  custom_model_cap_reached: 409,
  external_id_taken: 409,
  nothing_to_retry: 409,
  root_key_not_revocable: 409,
  webhook_not_configured: 409,
  event_not_yet_sent: 409,
};
