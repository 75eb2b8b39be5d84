/**
 * One refusal type for every business refusal: ledger (spend), entitlement (custom models) and lifecycle
 * (subscription requests). A refusal carries a stable code, a human message and optional detail; it never
 * carries an HTTP status: the API edge maps codes to statuses in one table (`api/refusal-status.ts`).
 * Pure: no I/O, safe in workflow code (the workflow turns a Refusal into a non-retryable ApplicationFailure
 * whose `type` is the code and whose first detail is `detail`).
 */

/** Every code a refusal may carry, grouped by where it arises. */
export const REFUSAL_CODES = [
  // lifecycle (SPEC §4)
  'subscription_not_active', 'subscription_canceling', 'change_pending', 'same_plan', 'unknown_plan', 'invalid_request',
  'already_paused', 'not_cancelable', 'already_canceling', 'nothing_to_resume', 'no_scheduled_change',
  'payment_declined', 'subscription_exists', 'no_subscription', 'subscription_required', 'preview_unavailable', 'no_upcoming_invoice',
  // previews (SPEC §10): the amount the customer confirmed is no longer the amount due
  'preview_outdated',
  // refunds and disputes (SPEC §10)
  'invoice_not_found', 'invoice_not_refundable', 'refund_exceeds_paid', 'invoice_disputed', 'provider_refund_failed',
  // ledger (SPEC §3)
  'quote_not_found', 'quote_expired', 'insufficient_credits', 'creation_not_found', 'creation_not_running',
  // the spend path of SPEC §11: key budgets, hold extensions, a completion repeated with another amount, caps
  'spending_limit_reached', 'hold_extension_limit', 'creation_already_ended', 'open_quote_limit_reached',
  'key_restricted', 'api_key_limit_reached',
  // entitlements (SPEC §6); a workspace holds at most 50 custom models, active or not (issue 16)
  'custom_model_limit', 'custom_model_not_found', 'custom_model_cap_reached',
  // workspaces (SPEC §10): another workspace already has this external_id
  'external_id_taken',
  // operator tools (SPEC §10): a retry with no unpaid renewal or first invoice; ADMIN_API_KEY cannot be revoked
  'nothing_to_retry', 'root_key_not_revocable',
  // outgoing events (SPEC §11): a retry with no webhook URL set, or of an event whose first attempt has not ended
  'webhook_not_configured', 'event_not_yet_sent',
] as const;

export type RefusalCode = (typeof REFUSAL_CODES)[number];

export function isRefusalCode(code: unknown): code is RefusalCode {
  return typeof code === 'string' && (REFUSAL_CODES as readonly string[]).includes(code);
}

/** A request the rules refuse; nothing was changed. */
export class Refusal extends Error {
  constructor(
    readonly code: RefusalCode,
    message: string,
    readonly detail: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'Refusal';
  }
}

/** Throws a Refusal (for use in expressions: `x ?? refuse(...)`). */
export function refuse(code: RefusalCode, message: string, detail: Record<string, unknown> = {}): never {
  throw new Refusal(code, message, detail);
}
