/**
 * What the lifecycle core asks the shell to do, and the one place business keys and invoice lines are
 * built. A decision returns a Step: the new state, effects to carry out in order, then at most one charge
 * whose outcome goes back to the core (`afterCharge`), and the answer to the request that caused it.
 */
import { isoDay } from '../calendar.js';
import { type Interval, planById, priceCents } from '../catalog.js';
import type { InvoiceLine } from '../proration.js';
import type { Refusal } from '../refusals.js';
import type { LifecycleState, PendingChange } from './state.js';

export type InvoiceKind = 'subscription' | 'upgrade' | 'interval_switch';

/** The stretch of time one invoice line pays for (+1) or credits back (−1), for the money invariants. */
export interface Coverage {
  plan: string;
  interval: Interval;
  /** Anchor of the cycle the line belongs to (refresh intervals are counted from it). */
  anchor: number;
  from: number;
  to: number;
  sign: 1 | -1;
}

/** Why a charge is made: decides what its outcome does (`afterCharge`). */
export type ChargePurpose =
  | { kind: 'first'; reason: 'subscribe' | 'restart' | 'resume'; anchor: number; cycle: number }
  | { kind: 'renewal'; refreshIndex: number }
  | { kind: 'dunning_retry'; scheduled: boolean }
  | { kind: 'change'; change: Omit<PendingChange, 'invoiceId' | 'deadline'>; deadline: number };

export interface Charge {
  businessKey: string;
  invoiceKind: InvoiceKind;
  lines: InvoiceLine[];
  /** One per line, same order: the time a line pays for, or null for a line that pays for something else. */
  coverage: (Coverage | null)[];
  /** Credits the invoice pays for beyond time (an interval switch's credits used ahead of time). */
  creditsBought?: number;
  /** The instant billed (the invoice's date). */
  at: number;
  /** 0 for the first payment attempt of this invoice; n for the n-th retry. */
  attempt: number;
  purpose: ChargePurpose;
  /** For operators (Temporal UI summary). */
  summary: string;
}

/**
 * Dropping an unpaid invoice the customer may still be paying (3-D Secure, the hosted page): it is voided at
 * the provider first; one paid there meanwhile is applied as paid instead (the payment came first), so a
 * payment that beats a lapse by a second is never charged and ignored. `byRequest`: a cancel asked for it.
 */
export type Lapse =
  | { kind: 'pending_change'; invoiceId: string; at: number }
  | { kind: 'first_payment'; invoiceId: string; at: number; byRequest: boolean }
  | { kind: 'dunning'; invoiceId: string; at: number; byRequest: boolean };

/** What the shell learns of a charge. */
export type ChargeOutcome =
  | { status: 'paid'; invoiceId: string; paidAt: number }
  | { status: 'requires_action'; invoiceId: string; hostedUrl: string }
  | { status: 'declined'; invoiceId: string; code: string; hostedUrl?: string | null };

export type NotificationKind = 'payment_failed' | 'downgrade_applied';

export type Effect =
  /**
   * `change`: the credit-aware grant of an upgrade or interval switch; `refresh`: a refresh lot of the plan in
   * force; `restore`: what a switch that did not happen had clawed back.
   */
  | { kind: 'grant'; key: string; source: 'monthly' | 'upgrade'; reason: 'refresh' | 'change' | 'restore'; credits: number; grantedAt: number; expiresAt: number; summary: string }
  | { kind: 'expire'; key: string; at: number }
  /** Takes back up to `credits` unspent, unheld credits from the lots of these grants, in this order (an interval switch onto fewer credits). */
  | { kind: 'claw_back'; key: string; grantKeys: string[]; credits: number; at: number }
  | { kind: 'void'; invoiceId: string }
  /** The subscription ended: plan lots forfeited, packs frozen. */
  | { kind: 'end_plan_credits'; key: string; at: number }
  /** A subscription (re)started: packs thaw. */
  | { kind: 'thaw_packs'; key: string; at: number }
  /**
   * `plan` is now in force (SPEC §4): the projection's plan is written and the active custom models above
   * `keep` (its limit) are deactivated, the most recently used kept, in one transaction under the workspace
   * lock, so an activation never checks against the plan it replaced.
   */
  | { kind: 'deactivate_models'; plan: string; keep: number }
  | { kind: 'notify'; notification: NotificationKind; dedupeKey: string; at: number; payload: Record<string, unknown> };

export interface ChangeResult {
  kind: 'upgrade' | 'downgrade' | 'interval_switch';
  effective_at: string | null;
  invoice_id?: string;
  credits_granted?: number;
  /** True while the change waits for the customer to authenticate the payment. */
  pending?: boolean;
}

/** The answer to a request: the subscription's view, or a change's result. */
export type Reply = { kind: 'view' } | { kind: 'change'; result: ChangeResult };

export interface Step {
  state: LifecycleState;
  effects: Effect[];
  charge?: Charge;
  /** Or an unpaid invoice to void, whose outcome goes back to the core (`afterLapse`). */
  lapse?: Lapse;
  reply?: Reply;
  /** The request is refused after a payment attempt (a 402): the effects are still carried out. */
  refusal?: Refusal;
}

// ---- Business keys: every charge, grant and ledger write is idempotent by one of these ----------------

/** Names the cycle: `<subscription>:c<cycle>:<anchor ms>`. */
type CycleOf = Pick<LifecycleState, 'subscriptionId' | 'cycle' | 'anchor'>;
type ChangesOf = CycleOf & Pick<LifecycleState, 'changes'>;
const cycleKey = (s: CycleOf) => `${s.subscriptionId}:c${s.cycle}:${s.anchor}`;

export const keys = {
  period: (s: CycleOf, periodIndex: number) => `${cycleKey(s)}:period:${periodIndex}:subscription`,
  change: (s: ChangesOf, kind: InvoiceKind, plan: string, interval: Interval, at: number) => `${cycleKey(s)}:change:${s.changes}:${kind}:${plan}:${interval}:${at}`,
  refreshGrant: (s: CycleOf, index: number) => `${cycleKey(s)}:refresh:${index}:grant`,
  upgradeGrant: (s: CycleOf, plan: string, requestedAt: number) => `${cycleKey(s)}:upgrade:${plan}:${requestedAt}`,
  end: (s: CycleOf, at: number) => `${cycleKey(s)}:end:${at}`,
  thaw: (s: CycleOf) => `${cycleKey(s)}:thaw`,
  switchClawBack: (s: ChangesOf, requestedAt: number) => `${cycleKey(s)}:change:${s.changes}:interval_switch:${requestedAt}:clawback`,
  downgradeNotice: (s: LifecycleState, at: number) => `${s.subscriptionId}:${at}:downgrade`,
  paymentFailedNotice: (invoiceId: string, attempt: number) => `${invoiceId}:failed:${attempt}`,
};

// ---- Invoice lines ------------------------------------------------------------------------------------

export function planLabel(planId: string, interval: Interval): string {
  return `${planById(planId).name} (${interval === 'month' ? 'monthly' : 'yearly'})`;
}

/** The line of a billing period: the plan's full price for [start, end). */
export function periodLine(planId: string, interval: Interval, start: number, end: number): InvoiceLine {
  return { description: `${planById(planId).name} (${interval}ly), ${isoDay(start)} to ${isoDay(end)}`, amount_cents: priceCents(planById(planId), interval) };
}
