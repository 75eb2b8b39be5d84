/**
 * Customer requests and payment events (SPEC §4): change, withdraw a scheduled change, cancel, pause,
 * resume, a new payment method, an invoice paid. Each is a pure decision: it throws a Refusal before
 * anything changes, or returns the Step to carry out. The workflow's Update validators call the same
 * functions, so a refused request never enters history.
 */
import { refuse } from '../refusals.js';
import { type ChangeRequest, type LedgerView, planChange, switchClawBack } from './changes.js';
import { endSubscription, periodCharge, startCycle } from './cycle.js';
import type { ChargePurpose, Step } from './effects.js';
import { onInvoicePaid } from './outcomes.js';
import type { LifecycleState } from './state.js';

export type LifecycleRequest =
  /** `ledger`: filled in by the shell before the change is priced (validators go without). */
  | { kind: 'change'; request: ChangeRequest; ledger?: LedgerView }
  | { kind: 'withdraw' }
  | { kind: 'cancel' }
  /** An operator's cancel at once (SPEC §10): no refund here; the operator refunds separately if due. */
  | { kind: 'cancel_now' }
  | { kind: 'resume' }
  | { kind: 'pause'; cycles: number }
  | { kind: 'payment_method_updated' }
  | { kind: 'payment'; event: { eventId: string; type: string; invoiceId: string } };

const SEEN_EVENTS_KEPT = 50;
const view = { kind: 'view' } as const;

/** Decides `request` at `at` (the subscription's time). Throws a Refusal when it is not allowed now. */
export function onRequest(state: LifecycleState, request: LifecycleRequest, at: number): Step {
  switch (request.kind) {
    case 'change': {
      const change = planChange({ ...state, changes: state.changes + 1 }, request.request, at, request.ledger);
      if (change.kind === 'downgrade') {
        return {
          state: { ...state, scheduledChange: { plan: change.plan } }, effects: [],
          reply: { kind: 'change', result: { kind: 'downgrade', effective_at: new Date(change.effectiveAt).toISOString() } },
        };
      }
      const purpose = change.charge.purpose as Extract<ChargePurpose, { kind: 'change' }>;
      return { state: { ...state, changes: state.changes + 1 }, effects: switchClawBack(state, purpose.change), charge: change.charge };
    }
    case 'withdraw':
      if (!state.scheduledChange) refuse('no_scheduled_change', 'no change is scheduled');
      return { state: { ...state, scheduledChange: null }, effects: [], reply: view };
    case 'cancel':
      return cancel(state, at);
    case 'cancel_now':
      return cancelNow(state, at);
    case 'pause':
      if (!Number.isInteger(request.cycles) || request.cycles < 1 || request.cycles > 3) {
        refuse('invalid_request', 'cycles must be 1, 2 or 3', { field: 'cycles' });
      }
      if (state.status === 'paused' || state.pause) refuse('already_paused', 'the subscription is already paused or pausing');
      if (state.status !== 'active') refuse('subscription_not_active', `a ${state.status} subscription cannot be paused`);
      if (state.cancelAtPeriodEnd) refuse('subscription_canceling', 'the subscription ends at the period end; resume it first');
      // A waiting interval switch would re-anchor under the pause: decide the change first.
      if (state.pendingChange) refuse('change_pending', 'a change is waiting for payment authentication');
      return { state: { ...state, pause: { cycles: request.cycles, startsAt: null, resumesAt: null } }, effects: [], reply: view };
    case 'resume':
      return resume(state, at);
    case 'payment_method_updated':
      // A new card retries what is unpaid at once: a past-due renewal (not using up a scheduled retry) or the first invoice.
      if (state.dunning) {
        const dunning = { ...state.dunning, attempts: state.dunning.attempts + 1 };
        const next = { ...state, dunning };
        return { state: next, effects: [], charge: periodCharge(next, dunning.refreshIndex, at, dunning.attempts, { kind: 'dunning_retry', scheduled: false }) };
      }
      if (state.incomplete) {
        const { anchor, cycle, reason, attempts } = state.incomplete;
        const next = { ...state, incomplete: { ...state.incomplete, attempts: attempts + 1 } };
        return { state: next, effects: [], charge: periodCharge({ ...next, anchor, cycle }, 0, at, attempts + 1, { kind: 'first', reason, anchor, cycle }) };
      }
      return { state, effects: [] };
    case 'payment': {
      const { event } = request;
      if (state.seenPaymentEvents.includes(event.eventId)) return { state, effects: [] };
      const seen = { ...state, seenPaymentEvents: [...state.seenPaymentEvents, event.eventId].slice(-SEEN_EVENTS_KEPT) };
      if (event.type !== 'invoice.paid') return { state: seen, effects: [] };
      return onInvoicePaid(seen, event.invoiceId, at);
    }
  }
}

/**
 * Cancel: at the period end; at once while past due (no paid period is left) or while the first payment
 * is unpaid (its invoice voided). A pause in progress ends canceled when it would have resumed.
 */
function cancel(state: LifecycleState, at: number): Step {
  if (state.incomplete) return { state, effects: [], lapse: { kind: 'first_payment', invoiceId: state.incomplete.invoiceId, at, byRequest: true } };
  if (state.status === 'canceled' || state.status === 'incomplete') refuse('not_cancelable', `a ${state.status} subscription cannot be canceled`);
  if (state.cancelAtPeriodEnd) refuse('already_canceling', 'the subscription already ends at the period end');
  if (state.status === 'past_due') return endSubscription(state, at, true);
  return { state: { ...state, cancelAtPeriodEnd: true }, effects: [], reply: view };
}

/**
 * Cancel now (an operator's action, SPEC §10): ends the subscription at once as at a period end (plan credits
 * forfeited, packs frozen, unpaid invoices voided), also when it was canceling or pausing; refused while a change
 * waits for 3-D Secure (its payment may be under way). The time already paid
 * for is not refunded by this: like Stripe's cancel without proration, the operator refunds it if due.
 */
function cancelNow(state: LifecycleState, at: number): Step {
  if (state.incomplete || state.status === 'past_due') return cancel({ ...state, cancelAtPeriodEnd: false }, at);
  if (state.status === 'canceled' || state.status === 'incomplete') refuse('not_cancelable', `a ${state.status} subscription cannot be canceled`);
  // Its invoice may be paid this very moment (3-D Secure): ending now would void what was paid. It is decided
  // within 23 hours (paid, or lapsed and voided); cancel after that, or at the period end now.
  if (state.pendingChange) refuse('change_pending', 'a change is waiting for payment authentication; cancel at the period end, or once it is decided');
  return { ...endSubscription(state, at, true), reply: view };
}

/** Resume: withdraws a cancellation or a scheduled pause, ends a pause now (charged), or restarts a canceled subscription (charged). */
function resume(state: LifecycleState, at: number): Step {
  if (state.cancelAtPeriodEnd) return { state: { ...state, cancelAtPeriodEnd: false }, effects: [], reply: view };
  if (state.status === 'paused') return startCycle(state, at, 'resume');
  if (state.pause) return { state: { ...state, pause: null }, effects: [], reply: view };
  if (state.status === 'canceled' && !state.incomplete) return startCycle(state, at, 'restart');
  if (state.incomplete) refuse('nothing_to_resume', 'the first payment is waiting; pay its invoice, set a new card or cancel');
  return refuse('nothing_to_resume', 'the subscription is neither canceling, paused nor canceled');
}
