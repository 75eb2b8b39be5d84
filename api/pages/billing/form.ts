/**
 * Reading the billing page's form posts: each field checked against the catalog and the limits the API
 * enforces; bad input is an ApiError 400 (shown as a notice, nothing changes).
 */
import { findPlan, INTERVALS, type Interval, PACKS } from '../../../domain/catalog.js';
import { ApiError } from '../../errors.js';

export type Form = Record<string, string | File | (string | File)[]>;

export const field = (form: Form, name: string): string | undefined => {
  const value = form[name];
  return typeof value === 'string' ? value : undefined;
};

export const invalidForm = (what: string) => new ApiError(400, 'invalid_request', what);

/** The `plan` field: a catalog plan id, or undefined when absent. */
export function planField(form: Form): string | undefined {
  const id = field(form, 'plan');
  if (id === undefined || id === '') return undefined;
  if (!findPlan(id)) throw invalidForm(`there is no plan called ${id}`);
  return id;
}

/** The `interval` field: month or year, or undefined when absent. */
export function intervalField(form: Form): Interval | undefined {
  const value = field(form, 'interval');
  if (value === undefined || value === '') return undefined;
  if (!INTERVALS.includes(value as Interval)) throw invalidForm('the billing frequency is monthly or yearly');
  return value as Interval;
}

/** The `size` field: one of the pack sizes (credits). */
export function packSizeField(form: Form): number {
  const size = Number(field(form, 'size'));
  if (!PACKS.some((p) => p.credits === size)) throw invalidForm(`packs come in ${PACKS.map((p) => p.credits).join(' or ')} credits`);
  return size;
}

/** The `cycles` field of a pause: 1, 2 or 3. */
export function cyclesField(form: Form): number {
  const cycles = Number(field(form, 'cycles'));
  if (![1, 2, 3].includes(cycles)) throw invalidForm('a pause lasts 1, 2 or 3 cycles');
  return cycles;
}

/** Whether this post is the second step (the customer pressed Confirm on the confirm view). */
export const confirmed = (form: Form) => field(form, 'confirm') === '1';

/** The amount the confirm view showed (cents, an integer ≥ 0); required on a confirmed charge. */
export function expectedAmountField(form: Form): number {
  const raw = field(form, 'expected_amount_due_cents') ?? '';
  const cents = /^\d{1,12}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(cents)) throw invalidForm('the confirmed amount is missing; start again from the billing page');
  return cents;
}

/** A purchase's idempotency key, made on the confirm view so a double-submitted Confirm buys once. */
export function purchaseKeyField(form: Form): string | undefined {
  const key = field(form, 'purchase');
  return key && /^[0-9a-f]{16,64}$/.test(key) ? key : undefined;
}
