/**
 * Reading the billing page's automatic top-up form: the same limits as PUT /v1/auto-top-up; bad input is an
 * ApiError 400 (shown as a notice, nothing saved).
 */
import { PACKS } from '../../../domain/catalog.js';
import type { AutoTopUpSettings } from '../../../ledger/auto-top-up.js';
import { field, type Form, invalidForm } from './form.js';

/** enabled (a checkbox), threshold (credits), pack (credits), monthly_limit (US dollars, up to cents) → the setting. */
export function autoTopUpFormFields(form: Form): AutoTopUpSettings {
  const threshold = Number(field(form, 'threshold'));
  if (!/^\d{1,10}$/.test(field(form, 'threshold') ?? '') || threshold > 1_000_000_000) throw invalidForm('the threshold is a whole number of credits');
  const pack = Number(field(form, 'pack'));
  if (!PACKS.some((p) => p.credits === pack)) throw invalidForm(`packs come in ${PACKS.map((p) => p.credits).join(' or ')} credits`);
  const limit = /^(\d{1,7})(?:\.(\d{1,2}))?$/.exec(field(form, 'monthly_limit') ?? '');
  const cents = limit ? Number(limit[1]) * 100 + Number((limit[2] ?? '0').padEnd(2, '0')) : 0;
  if (cents < 1) throw invalidForm('the monthly limit is an amount in dollars, like 50 or 49.99');
  return { enabled: field(form, 'enabled') === '1', threshold, pack, monthly_limit_cents: cents };
}
