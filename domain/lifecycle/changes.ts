/**
 * Plan changes (SPEC §4 Upgrade, Downgrade, Interval switch): what a change is, its invoice and credits,
 * and what it does once paid. Money uses the remaining fraction r of the billing period; credits use
 * the remaining fraction r_refresh of the current refresh interval (credit-aware proration).
 */
import { periodBounds } from '../calendar.js';
import { findPlan, type Interval, planById, priceCents } from '../catalog.js';
import { deductibleCredits, type PeriodInForceMoney, unusedTimeCredit } from '../billing/refund-aware-credit.js';
import { intervalSwitchLines, type InvoiceLine, prorateCents, prorateCredits, remainingFraction, upgradeLines } from '../proration.js';
import { refuse } from '../refusals.js';
import { grantRefresh } from './cycle.js';
import { type Charge, type Coverage, type Effect, keys, planLabel } from './effects.js';
import { currentPeriod, currentRefreshInterval, UNPAID_TTL_MS } from './schedule.js';
import type { LifecycleState, PendingChange } from './state.js';

export interface ChangeRequest {
  plan?: string;
  interval?: Interval;
}

/**
 * What the ledger says when a change is priced: the subscription's plan credits still available (unspent,
 * unheld, unexpired), and what the period in force was paid and refunded (a refund before the change lowers
 * its unused-time credit: domain/billing/refund-aware-credit.ts). Absent (validators, histories from before
 * refunds were read): all unspent, nothing refunded, which changes the price, never a refusal.
 */
export interface LedgerView {
  availablePlanCredits?: number;
  /**
   * Of the plan lots an interval switch prices, credits unspent and unheld but frozen by an open dispute (SPEC §10):
   * still the customer's, so kept like available ones. Absent (histories recorded before 2026-11-30): counted as used.
   */
  frozenPlanCredits?: number;
  /**
   * Credits operators' negative adjustments took from those lots (journaled `adjust`, SPEC §10): neither used nor
   * kept, so neither charged nor deducted. Absent (histories recorded before 2026-11-30): counted as used.
   */
  adjustedAwayCredits?: number;
  periodInForce?: PeriodInForceMoney | null;
}

export type PlannedChange =
  | { kind: 'downgrade'; plan: string; effectiveAt: number }
  | { kind: 'upgrade' | 'interval_switch'; charge: Charge };

/** Does pricing this change need the ledger's view (an interval switch: its credits already used)? */
export function needsLedgerView(state: LifecycleState, request: ChangeRequest): boolean {
  return (request.interval ?? state.interval) !== state.interval;
}

/**
 * Does this change credit unused time (an interval switch, or an upgrade), so that refunds of the period in
 * force lower it? A downgrade or a request refused anyway (same or unknown plan) does not.
 */
export function creditsUnusedTime(state: LifecycleState, request: ChangeRequest): boolean {
  if (needsLedgerView(state, request)) return true;
  const target = findPlan(request.plan ?? state.plan);
  return target !== undefined && target.tier > planById(state.plan).tier;
}

export function assertChangeAllowed(state: LifecycleState): void {
  if (state.status !== 'active') refuse('subscription_not_active', `a ${state.status} subscription cannot change plan`);
  if (state.cancelAtPeriodEnd) refuse('subscription_canceling', 'the subscription ends at the period end; resume it first');
  if (state.pendingChange) refuse('change_pending', 'a change is waiting for payment authentication');
}

/**
 * Decides what a plan/interval change is at `at` and prices it. Throws a Refusal when not allowed.
 * A different interval is an interval switch (immediate) even when the plan is also lower.
 */
export function planChange(state: LifecycleState, request: ChangeRequest, at: number, ledgerView?: LedgerView): PlannedChange {
  assertChangeAllowed(state);
  const planId = request.plan ?? state.plan;
  const interval = request.interval ?? state.interval;
  const target = findPlan(planId) ?? refuse('unknown_plan', `no plan ${planId}`, { field: 'plan' });
  if (planId === state.plan && interval === state.interval) refuse('same_plan', `already on ${planLabel(planId, interval)}`);
  const current = planById(state.plan);
  const period = currentPeriod(state);
  const r = remainingFraction(period.start, period.end, at);
  const refresh = currentRefreshInterval(state);
  const rRefresh = remainingFraction(refresh.start, refresh.end, at);
  const kind = interval !== state.interval ? 'interval_switch' : target.tier < current.tier ? 'downgrade' : 'upgrade';
  if (kind === 'downgrade') return { kind, plan: planId, effectiveAt: period.end };
  const oldLabel = planLabel(state.plan, state.interval);
  const newLabel = planLabel(planId, interval);
  const unused: Coverage = { plan: state.plan, interval: state.interval, anchor: state.anchor, from: Math.max(at, period.start), to: period.end, sign: -1 };
  // Switch: the unused money is credited back while the current lot stays, so the unused part of the month's
  // credits is deducted from the new lot; what the new plan's credits cannot cover of it is clawed back. The
  // credits of that unused part already spent or held cannot stay: they are charged at the old plan's rate
  // (credit-aware money), so a switch never buys back credits that were used (switching never creates credits).
  // A refund before the change gave back (the end of) the period in force: its unused time is credited less
  // that refund, and a switch deducts only the credits of the time still credited (the refund clawed back the rest).
  const unusedCents = prorateCents(priceCents(current, state.interval), r);
  const creditCents = unusedTimeCredit(unusedCents, ledgerView?.periodInForce);
  const deductible = kind === 'upgrade' ? 0 : deductibleCredits(prorateCredits(current.monthlyCredits, rRefresh), creditCents, unusedCents);
  const { kept, usedAhead } = switchCreditsOfUnusedTime(deductible, ledgerView);
  const credits = kind === 'upgrade'
    ? prorateCredits(target.monthlyCredits - current.monthlyCredits, rRefresh)
    : Math.max(0, target.monthlyCredits - kept);
  const clawBack = Math.max(0, kept - target.monthlyCredits);
  const lines = kind === 'upgrade'
    ? upgradeLines(oldLabel, priceCents(current, interval), newLabel, priceCents(target, interval), r)
    : intervalSwitchLines(oldLabel, priceCents(current, state.interval), newLabel, priceCents(target, interval), r);
  if (creditCents !== unusedCents) lines[0] = { description: `Unused time on ${oldLabel}, less ${unusedCents - creditCents} refunded`, amount_cents: creditCents === 0 ? 0 : -creditCents };
  const coverage: (Coverage | null)[] = kind === 'upgrade'
    ? [unused, { plan: planId, interval, anchor: state.anchor, from: unused.from, to: period.end, sign: 1 }]
    : [unused, { plan: planId, interval, anchor: at, from: at, to: periodBounds(at, interval, 0).end, sign: 1 }];
  if (usedAhead > 0) {
    lines.push(creditsUsedLine(oldLabel, priceCents(current, state.interval), current.monthlyCredits, usedAhead, period, refresh));
    coverage.push(null);
  }
  return {
    kind,
    charge: {
      businessKey: keys.change(state, kind, planId, interval, at), invoiceKind: kind, lines, coverage, at, attempt: 0,
      creditsBought: usedAhead,
      summary: `${kind.replace('_', ' ')} to ${planLabel(planId, interval)}`,
      purpose: {
        kind: 'change', change: { kind, plan: planId, interval, credits, clawBack, clawBackKey: keys.switchClawBack(state, at), requestedAt: at },
        // Priced for this refresh interval: unpaid, it lapses after 23 hours or at the interval's end.
        deadline: Math.min(at + UNPAID_TTL_MS, refresh.end),
      },
    },
  };
}

/**
 * Of the `deductible` credits of an interval switch's unused time (SPEC §4), those kept (deducted from the new lot;
 * clawed back beyond the new plan's credits) and those already used ahead of their time (charged at the old plan's
 * rate). Kept: the plan lots' credits still available or frozen by an open dispute (the customer's unless the
 * dispute is lost, whose clawback and take-back then take them and the change's credit), up to `deductible`.
 * Used ahead: the rest, less what operators' negative adjustments took from those lots — those credits were neither
 * used nor kept, so they are attributed to the unused time first and neither charged nor deducted. Then
 * usedAhead = max(0, spent or held − (lot − deductible)): only spending beyond the used time's share is charged.
 * View fields absent (validators: nothing used; histories recorded before 2026-11-30 lack the frozen and adjusted
 * figures): frozen and adjusted-away credits count as used, exactly as those histories were priced.
 */
export function switchCreditsOfUnusedTime(deductible: number, view: LedgerView | undefined): { kept: number; usedAhead: number } {
  if (view?.availablePlanCredits === undefined) return { kept: deductible, usedAhead: 0 };
  const kept = Math.min(deductible, view.availablePlanCredits + (view.frozenPlanCredits ?? 0));
  return { kept, usedAhead: Math.max(0, deductible - kept - (view.adjustedAwayCredits ?? 0)) };
}

/**
 * `used` credits of the current month already spent or held when an interval switch credits its unused
 * time: charged at the old plan's rate per credit (the period price × the month's share of the period ÷
 * the monthly credits), half-up to the cent.
 */
function creditsUsedLine(
  oldLabel: string, periodPriceCents: number, monthlyCredits: number, used: number,
  period: { start: number; end: number }, refresh: { start: number; end: number },
): InvoiceLine {
  const amount = prorateCents(periodPriceCents * used, { remainingMs: refresh.end - refresh.start, totalMs: (period.end - period.start) * monthlyCredits });
  return { description: `Credits of the unused time on ${oldLabel} already used (${used})`, amount_cents: amount };
}

/**
 * A paid upgrade or interval switch takes effect (at once, or when 3-D Secure completes). An upgrade
 * tops up the current refresh lot (same expiry) and clears a scheduled downgrade; an interval switch
 * starts a new cycle at the request instant with its credit-aware lot, clearing scheduled changes and pauses.
 */
export function applyPaidChange(
  state: LifecycleState, change: Omit<PendingChange, 'invoiceId' | 'deadline'>, paidAt: number,
): { state: LifecycleState; effects: Effect[] } {
  const cleared: LifecycleState = { ...state, scheduledChange: null, pendingChange: null };
  if (change.kind === 'upgrade') {
    const upgraded = { ...cleared, plan: change.plan };
    if (change.credits <= 0 || state.currentLotExpiresAt === null) return { state: upgraded, effects: [] };
    const key = keys.upgradeGrant(state, change.plan, change.requestedAt);
    const expiresAt = state.currentLotExpiresAt;
    return {
      state: { ...upgraded, lots: [...upgraded.lots, { key, expiresAt }] },
      effects: [{ kind: 'grant', key, source: 'upgrade', reason: 'change', credits: change.credits, grantedAt: paidAt, expiresAt, summary: `upgrade: grant ${change.credits} credits` }],
    };
  }
  const switched: LifecycleState = { ...cleared, plan: change.plan, interval: change.interval, anchor: change.requestedAt, cycle: state.cycle + 1, pause: null };
  const granted = grantRefresh(switched, 0, paidAt, change.credits, 'change');
  const effects: Effect[] = [];
  if (planById(change.plan).customModelLimit < planById(state.plan).customModelLimit) {
    effects.push({ kind: 'deactivate_models', plan: change.plan, keep: planById(change.plan).customModelLimit });
  }
  return { state: granted.state, effects: [...effects, ...granted.effects] };
}

/**
 * An interval switch's clawback happens when it is requested, before the charge, so the credits it takes
 * cannot be spent while the payment is pending (3-D Secure); the newest allocation first (the current
 * refresh lot and its top-ups).
 */
export function switchClawBack(state: LifecycleState, change: { clawBack: number; clawBackKey: string; requestedAt: number }): Effect[] {
  if (change.clawBack <= 0) return [];
  const grantKeys = [...state.lots].sort((a, b) => b.expiresAt - a.expiresAt).map((lot) => lot.key);
  return [{ kind: 'claw_back', key: change.clawBackKey, grantKeys, credits: change.clawBack, at: change.requestedAt }];
}

/**
 * A switch that does not happen after all (declined, or lapsed unpaid) gives back what its clawback took:
 * one lot expiring with the current refresh lot.
 */
export function restoreClawBack(
  state: LifecycleState, change: { clawBack: number; clawBackKey: string }, at: number,
): { state: LifecycleState; effects: Effect[] } {
  if (change.clawBack <= 0 || state.currentLotExpiresAt === null) return { state, effects: [] };
  const key = `${change.clawBackKey}:restore`;
  const expiresAt = state.currentLotExpiresAt;
  return {
    state: { ...state, lots: [...state.lots, { key, expiresAt }] },
    effects: [{ kind: 'grant', key, source: 'monthly', reason: 'restore', credits: change.clawBack, grantedAt: at, expiresAt, summary: `give back ${change.clawBack} clawed-back credits` }],
  };
}
