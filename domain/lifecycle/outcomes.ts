/**
 * What a charge's outcome does (SPEC §4): a paid first invoice starts the cycle, a declined renewal
 * starts dunning, a declined change is refused (402) and leaves nothing payable, a 3-D Secure change
 * waits until its deadline. Also the payment arriving later by webhook (`onInvoicePaid`).
 */
import { planById } from '../catalog.js';
import { Refusal } from '../refusals.js';
import { applyPaidChange, restoreClawBack } from './changes.js';
import { endSubscription, grantRefresh, paymentFailedNotice } from './cycle.js';
import { type Charge, type ChargeOutcome, type Effect, keys, type Lapse, type Step } from './effects.js';
import { RETRY_AFTER_DAYS, UNPAID_TTL_MS } from './schedule.js';
import type { LifecycleState } from './state.js';

const declined = (outcome: ChargeOutcome & { status: 'declined' }) =>
  new Refusal('payment_declined', `the payment was declined (${outcome.code})`, { decline_code: outcome.code, invoice_id: outcome.invoiceId });

/** A first invoice (subscribe, restart, pause end) is paid: the cycle starts, packs thaw, models fit the plan. */
function startPaid(state: LifecycleState, anchor: number, cycle: number, reason: 'subscribe' | 'restart' | 'resume', paidAt: number): Step {
  const anchored: LifecycleState = { ...state, anchor, cycle, nextRefresh: 0, pause: null, cancelAtPeriodEnd: false, incomplete: null, dunning: null };
  const granted = grantRefresh(anchored, 0, paidAt);
  const effects: Effect[] = [...granted.effects];
  if (reason !== 'resume') {
    effects.push({ kind: 'thaw_packs', key: keys.thaw(anchored), at: paidAt });
    effects.push({ kind: 'deactivate_models', plan: state.plan, keep: planById(state.plan).customModelLimit });
  }
  return { state: granted.state, effects, reply: { kind: 'view' } };
}

/** The outcome of `charge` (made at `charge.at`) in state `state`. */
export function afterCharge(state: LifecycleState, charge: Charge, outcome: ChargeOutcome): Step {
  const { purpose, at } = charge;
  switch (purpose.kind) {
    case 'first': {
      if (outcome.status === 'paid') return startPaid(state, purpose.anchor, purpose.cycle, purpose.reason, outcome.paidAt);
      if (purpose.reason === 'resume') {
        // The pause ended and its first charge failed: past due on the new cycle, dunning as for a renewal.
        return {
          state: { ...state, anchor: purpose.anchor, cycle: purpose.cycle, nextRefresh: 0, pause: null, status: 'past_due',
            dunning: { refreshIndex: 0, dueAt: at, invoiceId: outcome.invoiceId, retries: 0, attempts: 0 } },
          effects: [paymentFailedNotice(outcome.invoiceId, 0, at, { reason: outcome.status === 'declined' ? outcome.code : 'authentication_required' })],
          reply: { kind: 'view' },
        };
      }
      if (purpose.reason === 'restart' && outcome.status === 'declined' && charge.attempt === 0) {
        // Nothing restarts on a declined card: the invoice is voided and the subscription stays canceled
        // (its cycle number is used up, so a retry at the same instant makes a new invoice).
        return { state: { ...state, cycle: purpose.cycle }, effects: [{ kind: 'void', invoiceId: outcome.invoiceId }], refusal: declined(outcome) };
      }
      const previous = state.incomplete;
      return {
        state: {
          ...state, status: purpose.reason === 'subscribe' ? 'incomplete' : state.status,
          incomplete: {
            reason: purpose.reason, invoiceId: outcome.invoiceId, businessKey: charge.businessKey, anchor: purpose.anchor, cycle: purpose.cycle,
            outcome: outcome.status, declineCode: outcome.status === 'declined' ? outcome.code : null,
            // The customer can also pay a declined invoice on its hosted page, with another card.
            hostedUrl: outcome.hostedUrl ?? null,
            deadline: previous?.deadline ?? at + UNPAID_TTL_MS, attempts: charge.attempt,
          },
        },
        effects: [],
        reply: { kind: 'view' },
      };
    }
    case 'renewal': {
      if (outcome.status === 'paid') return { ...grantRefresh(state, purpose.refreshIndex, outcome.paidAt), reply: { kind: 'view' } };
      return {
        state: { ...state, status: 'past_due', dunning: { refreshIndex: purpose.refreshIndex, dueAt: at, invoiceId: outcome.invoiceId, retries: 0, attempts: 0 } },
        effects: [paymentFailedNotice(outcome.invoiceId, 0, at, { reason: outcome.status === 'declined' ? outcome.code : 'authentication_required' })],
      };
    }
    case 'dunning_retry': {
      const dunning = state.dunning!;
      if (outcome.status === 'paid') return settleRenewal(state, outcome.paidAt);
      if (purpose.scheduled && dunning.retries >= RETRY_AFTER_DAYS.length) return endSubscription(state, at);
      return { state, effects: [paymentFailedNotice(dunning.invoiceId, dunning.attempts, at, { attempts: dunning.attempts + 1 })] };
    }
    case 'change': {
      const { change } = purpose;
      if (outcome.status === 'declined') {
        // A refused change leaves nothing payable behind, and gives back what its clawback took.
        const restored = restoreClawBack(state, change, at);
        return { state: restored.state, effects: [{ kind: 'void', invoiceId: outcome.invoiceId }, ...restored.effects], refusal: declined(outcome) };
      }
      if (outcome.status === 'requires_action') {
        return {
          state: { ...state, pendingChange: { ...change, invoiceId: outcome.invoiceId, deadline: purpose.deadline } },
          effects: [],
          reply: { kind: 'change', result: { kind: change.kind, effective_at: null, invoice_id: outcome.invoiceId, credits_granted: 0, pending: true } },
        };
      }
      const applied = applyPaidChange(state, change, outcome.paidAt);
      return {
        ...applied,
        reply: { kind: 'change', result: {
          kind: change.kind, effective_at: new Date(change.requestedAt).toISOString(), invoice_id: outcome.invoiceId, credits_granted: change.credits,
        } },
      };
    }
  }
}

/** A past-due renewal was paid: the lot is granted now, with the expiry its period would have had. */
function settleRenewal(state: LifecycleState, paidAt: number): Step {
  const { refreshIndex } = state.dunning!;
  return grantRefresh({ ...state, dunning: null }, refreshIndex, paidAt);
}

/**
 * The outcome of voiding an unpaid invoice (see Lapse): voided, the lapse takes effect; paid at the provider
 * meanwhile, the payment is applied as if its webhook had come first (a cancel asked for still ends the
 * subscription, at the end of the period now paid).
 */
export function afterLapse(state: LifecycleState, lapse: Lapse, outcome: 'void' | 'paid'): Step {
  const reply = lapse.kind !== 'pending_change' && lapse.byRequest ? { reply: { kind: 'view' } as const } : {};
  if (outcome === 'paid') {
    const paid = onInvoicePaid(state, lapse.invoiceId, lapse.at);
    const canceling = lapse.kind !== 'pending_change' && lapse.byRequest;
    return { ...paid, state: canceling ? { ...paid.state, cancelAtPeriodEnd: true } : paid.state, ...reply };
  }
  switch (lapse.kind) {
    case 'pending_change':
      return restoreClawBack({ ...state, pendingChange: null }, state.pendingChange!, lapse.at);
    case 'first_payment':
      return { state: { ...state, incomplete: null, status: 'canceled' }, effects: [], ...reply };
    case 'dunning':
      return { ...endSubscription({ ...state, dunning: null }, lapse.at), ...reply };
  }
}

/**
 * An invoice of this subscription was paid after its charge (3-D Secure completed, a declined invoice
 * paid on its hosted page). Invoices no longer awaited (voided, lapsed) change nothing.
 */
export function onInvoicePaid(state: LifecycleState, invoiceId: string, at: number): Step {
  if (state.incomplete?.invoiceId === invoiceId) return startPaid(state, state.incomplete.anchor, state.incomplete.cycle, state.incomplete.reason, at);
  if (state.dunning?.invoiceId === invoiceId) return settleRenewal(state, at);
  if (state.pendingChange?.invoiceId === invoiceId) return applyPaidChange(state, state.pendingChange, at);
  return { state, effects: [] };
}
