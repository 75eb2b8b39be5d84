/**
 * Reading the console's form posts (SPEC §10 operator actions): each field checked against the limits the
 * admin API enforces; bad input is an ApiError 400 naming the field (shown as a notice, nothing changes).
 */
import { ApiError } from '../../errors.js';
import { field, type Form } from '../billing/form.js';

export { confirmed, cyclesField, field, type Form } from '../billing/form.js';

const invalidField = (name: string, reason: string) => new ApiError(400, 'invalid_request', `${name}: ${reason}`, [{ field: name, reason }]);

/** `credits`: a non-zero whole number within ±1,000,000 (POST /v1/admin/workspaces/{id}/credit-adjustments). */
export function creditsField(form: Form): number {
  const raw = (field(form, 'credits') ?? '').trim();
  const credits = /^[+-]?\d{1,7}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(credits) || credits === 0 || Math.abs(credits) > 1_000_000) {
    throw invalidField('credits', 'a whole number of credits, not 0, at most 1,000,000 either way');
  }
  return credits;
}

/** `reason`: 1 to 500 characters, trimmed. */
export function reasonField(form: Form): string {
  const reason = (field(form, 'reason') ?? '').trim();
  if (reason.length < 1 || reason.length > 500) throw invalidField('reason', 'say why, in 1 to 500 characters');
  if (reason.includes('\u0000')) throw invalidField('reason', 'must not contain NUL characters');
  return reason;
}

/**
 * `expires_at`: empty (never), a date (`2026-03-01`, midnight UTC) or an ISO instant; only for a positive
 * adjustment. Whether it is in the workspace's future is the service's check.
 */
export function expiresAtField(form: Form, credits: number): Date | null {
  const raw = (field(form, 'expires_at') ?? '').trim();
  if (raw === '') return null;
  if (credits < 0) throw invalidField('expires_at', 'only for a positive adjustment');
  const iso = /^\d{4}-\d{2}-\d{2}$/.test(raw) ? `${raw}T00:00:00Z` : raw;
  const at = /^\d{4}-\d{2}-\d{2}T/.test(iso) ? new Date(iso) : new Date(NaN);
  if (Number.isNaN(at.getTime())) throw invalidField('expires_at', 'a date (YYYY-MM-DD, UTC) or an ISO 8601 instant');
  return at;
}

/** `amount`: a refund in dollars and cents ("12.50"), returned in cents; undefined when empty (all that is left). */
export function refundAmountField(form: Form): number | undefined {
  const raw = (field(form, 'amount') ?? '').trim().replace(/^\$/, '');
  if (raw === '') return undefined;
  const match = /^(\d{1,9})(?:\.(\d{1,2}))?$/.exec(raw);
  const cents = match ? Number(match[1]) * 100 + Number((match[2] ?? '').padEnd(2, '0')) : NaN;
  if (!Number.isSafeInteger(cents) || cents <= 0) throw invalidField('amount', 'an amount in dollars, like 12.50, above 0');
  return cents;
}

/** `at_period_end` of a cancel: "1" (default) or "0" (now). */
export const atPeriodEndField = (form: Form): boolean => field(form, 'at_period_end') !== '0';

/**
 * The action's key, made on the confirm view so a double-submitted Confirm acts once (an adjustment's or a
 * refund's idempotency key); undefined when absent or malformed.
 */
export function actionKeyField(form: Form): string | undefined {
  const key = field(form, 'action_key');
  return key && /^[0-9a-f]{16,64}$/.test(key) ? key : undefined;
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * The form as the audit log records it (SPEC §10: the request): its fields without the CSRF token, the
 * confirm flag and the action key (not part of what was asked).
 */
export function auditedRequest(form: Form): Record<string, string> | null {
  const entries = Object.entries(form)
    .filter(([name, value]) => typeof value === 'string' && !['_csrf', 'confirm', 'action_key'].includes(name)) as [string, string][];
  // As api/audit.ts stores a request: NUL and lone surrogates (which jsonb refuses) become U+FFFD.
  const storable = (text: string) => text.replaceAll('\u0000', '\ufffd').replace(LONE_SURROGATE, '\ufffd');
  return entries.length > 0 ? Object.fromEntries(entries.map(([name, value]) => [storable(name), storable(value)])) : null;
}
