/**
 * The next scheduled charge (SPEC §10 `GET /v1/invoices/upcoming`), found by running the lifecycle forward
 * with the very functions that will make it (`onDue`, `afterLapse`): the renewal (a scheduled downgrade
 * applied first, so at its price), the charge at a pause's end, or the next dunning retry. Requests are not
 * imagined: a change waiting for 3-D Secure is assumed to lapse unpaid (what happens if nobody pays it).
 * Pure; instants in epoch ms UTC.
 */
import { applyCustomerBalance } from '../billing/customer-balance.js';
import type { InvoiceLine } from '../proration.js';
import { onDue } from './due.js';
import type { Charge } from './effects.js';
import { afterLapse } from './outcomes.js';
import { currentPeriod, nextChargeAt, nextDueEvent } from './schedule.js';
import type { LifecycleState } from './state.js';

/** Due events to run through at most (a year of a yearly plan's refreshes and expiries is a few dozen). */
const MAX_STEPS = 1_000;

/**
 * The charge the schedule makes next, without any request, and when; null when none is scheduled
 * (canceling, canceled, incomplete, or past due after its last retry).
 */
export function upcomingCharge(state: LifecycleState): { charge: Charge; at: number } | null {
  if (state.status === 'canceled' || state.status === 'incomplete' || state.cancelAtPeriodEnd) return null;
  let current = state;
  for (let i = 0; i < MAX_STEPS; i++) {
    const event = nextDueEvent(current);
    if (!event) return null;
    const step = onDue(current, event);
    if (step.charge) return { charge: step.charge, at: event.at };
    current = step.lapse ? afterLapse(step.state, step.lapse, 'void').state : step.state;
    if (current.status === 'canceled') return null;
  }
  return null;
}

/** `GET /v1/invoices/upcoming` (SPEC §10). Amounts in integer cents; instants ISO 8601 UTC. */
export interface UpcomingInvoice {
  kind: 'subscription';
  /** What the charge is: a period renewal, the first period after a pause, or a retry of a past-due renewal. */
  reason: 'renewal' | 'pause_end' | 'dunning_retry';
  /** The open invoice a retry pays again (past due); null for a charge not yet drafted. */
  invoice_id: string | null;
  plan: string;
  interval: LifecycleState['interval'];
  period_start: string;
  period_end: string;
  lines: InvoiceLine[];
  subtotal_cents: number;
  tax_cents: number;
  total_cents: number;
  balance_applied_cents: number;
  amount_due_cents: number;
  /** When the charge is attempted; null while past due after the last scheduled retry (only a new card pays it). */
  next_attempt_at: string | null;
}

/** The open invoice of a past-due renewal, as drafted (its balance was applied then). */
export interface OpenInvoice {
  id: string;
  lines: InvoiceLine[];
  total_cents: number;
  amount_due_cents: number;
}

/** What the ledger knows that the lifecycle state does not (cents). */
export interface UpcomingContext {
  customerBalanceCents: number;
  /** The past-due renewal's open invoice, while past due. */
  openInvoice?: OpenInvoice;
  /**
   * Balance applied to the invoice of a change waiting for 3-D Secure: it lapses before the next charge if
   * nobody pays it, and voiding it returns that balance, which the charge then uses.
   */
  pendingChangeBalanceAppliedCents?: number;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * The next scheduled charge as an invoice, or null when none is scheduled (canceling, canceled, incomplete).
 * A charge not yet drafted takes the customer balance now (`applyCustomerBalance`, the drafting arithmetic);
 * while past due it is the open invoice as drafted, with the next retry's time.
 */
export function upcomingInvoice(state: LifecycleState, ctx: UpcomingContext): UpcomingInvoice | null {
  if (state.status === 'past_due' && state.dunning && ctx.openInvoice && !state.cancelAtPeriodEnd) {
    const period = currentPeriod(state);
    const open = ctx.openInvoice;
    const next = nextChargeAt(state);
    return {
      kind: 'subscription', reason: 'dunning_retry', invoice_id: open.id, plan: state.plan, interval: state.interval,
      period_start: iso(period.start), period_end: iso(period.end), lines: open.lines,
      subtotal_cents: open.total_cents, tax_cents: 0, total_cents: open.total_cents,
      balance_applied_cents: Math.max(open.total_cents, 0) - open.amount_due_cents, amount_due_cents: open.amount_due_cents,
      next_attempt_at: next === null ? null : iso(next),
    };
  }
  if (state.status === 'past_due') return null;
  const upcoming = upcomingCharge(state);
  if (!upcoming) return null;
  const { charge, at } = upcoming;
  const covered = charge.coverage.find((c) => c !== null)!;
  const subtotal = charge.lines.reduce((sum, line) => sum + line.amount_cents, 0);
  const returning = state.pendingChange ? ctx.pendingChangeBalanceAppliedCents ?? 0 : 0;
  const { appliedCents, amountDueCents } = applyCustomerBalance(subtotal, ctx.customerBalanceCents + returning);
  return {
    kind: 'subscription', reason: charge.purpose.kind === 'renewal' ? 'renewal' : 'pause_end', invoice_id: null,
    plan: covered.plan, interval: covered.interval, period_start: iso(covered.from), period_end: iso(covered.to), lines: charge.lines,
    subtotal_cents: subtotal, tax_cents: 0, total_cents: subtotal, balance_applied_cents: appliedCents, amount_due_cents: amountDueCents,
    next_attempt_at: iso(at),
  };
}
