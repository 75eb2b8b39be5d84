/**
 * Which credit grants an invoice paid for (SPEC §10: a refund or a lost dispute claws back only the lots
 * the invoice granted; a dispute freezes only them). Pure: from the invoice's kind, business key and lines
 * to the business keys of its grants (a grant's lot is found by its key in ledger_operations, ledger/grants.ts).
 *
 * The correspondence, from domain/lifecycle (effects.ts `keys`, cycle.ts, changes.ts):
 * - pack `P`: the lot keyed `${P.id}:pack` (billing/packs.ts deliverPack), its `pack_credits`.
 * - subscription `<cycle>:period:<p>:subscription`: the refresh lots of period p of that cycle,
 *   `<cycle>:refresh:<i>:grant` for i in [p·k, p·k + k) where k = refreshes per period (1 monthly, 12 yearly:
 *   a yearly invoice grants the 12 monthly refreshes of its year, as they come), each the plan's monthly credits.
 * - upgrade `<cycle>:change:<n>:upgrade:<plan>:<interval>:<at>`: its top-up lot `<cycle>:upgrade:<plan>:<at>`;
 *   N = what that lot was granted (prorated credits; none granted: 0). Later refreshes of a yearly period at the
 *   higher plan stay the period invoice's lots.
 * - interval_switch `<sub>:c<c>:<anchor>:change:<n>:interval_switch:<plan>:<interval>:<at>`: the switch starts
 *   cycle c+1 anchored at `at`; the invoice grants that cycle's first period: refresh 0 (the credit-aware lot,
 *   N counts what it was granted) and, onto yearly, refreshes 1..11 (the plan's monthly credits each).
 * - anything else (the first workflow type's keys, unknown shapes): no grants.
 *
 * N of the clawback counts the grants made so far (creditsGrantedSoFar): a yearly invoice's N grows by a month's
 * credits with each refresh it grants, and each refresh granted after a refund takes its share then (clawbackDue).
 */
import { refreshesPerPeriod } from '../calendar.js';
import { findPlan, type Interval, PLANS } from '../catalog.js';

export interface InvoiceGrantSource {
  id: string;
  kind: 'subscription' | 'upgrade' | 'interval_switch' | 'pack';
  business_key: string;
  lines: { description: string; amount_cents: number }[];
  metadata: Record<string, unknown>;
}

/** One grant an invoice paid for: its business key and credits (null: whatever its lot was granted, 0 if none). */
export interface InvoiceGrant {
  key: string;
  credits: number | null;
}

const CYCLE = String.raw`(?<sub>.+):c(?<cycle>\d+):(?<anchor>-?\d+)`;
const PERIOD_KEY = new RegExp(String.raw`^${CYCLE}:period:(?<period>\d+):subscription$`);
const CHANGE_KEY = new RegExp(String.raw`^${CYCLE}:change:\d+:(?<kind>upgrade|interval_switch):(?<plan>[^:]+):(?<interval>month|year):(?<at>-?\d+)$`);

/** The grants an invoice paid for, in refresh order (see the module comment for the correspondence). */
export function invoiceGrants(invoice: InvoiceGrantSource): InvoiceGrant[] {
  if (invoice.kind === 'pack') {
    const credits = Number(invoice.metadata.pack_credits);
    return [{ key: `${invoice.id}:pack`, credits: Number.isFinite(credits) ? credits : null }];
  }
  if (invoice.kind === 'subscription') {
    const m = PERIOD_KEY.exec(invoice.business_key)?.groups;
    const line = periodLinePlan(invoice.lines[0]?.description ?? '');
    if (!m || !line) return [];
    const cycleKey = `${m.sub}:c${m.cycle}:${m.anchor}`;
    const k = refreshesPerPeriod(line.interval);
    const first = Number(m.period) * k;
    return Array.from({ length: k }, (_, j) => ({ key: `${cycleKey}:refresh:${first + j}:grant`, credits: line.monthlyCredits }));
  }
  const m = CHANGE_KEY.exec(invoice.business_key)?.groups;
  if (!m || m.kind !== invoice.kind) return [];
  const cycleKey = `${m.sub}:c${m.cycle}:${m.anchor}`;
  if (invoice.kind === 'upgrade') return [{ key: `${cycleKey}:upgrade:${m.plan}:${m.at}`, credits: null }];
  const plan = findPlan(m.plan!);
  if (!plan) return [];
  const next = `${m.sub}:c${Number(m.cycle) + 1}:${m.at}`;
  return Array.from({ length: refreshesPerPeriod(m.interval as Interval) }, (_, i) => ({
    key: `${next}:refresh:${i}:grant`, credits: i === 0 ? null : plan.monthlyCredits,
  }));
}

/**
 * The plan and interval of a period line, as domain/lifecycle/effects.ts periodLine writes it
 * (`Plus (yearly), 2026-01-01 to 2027-01-01`): the period invoice's key does not name them.
 */
function periodLinePlan(description: string): { interval: Interval; monthlyCredits: number } | undefined {
  const m = /^(?<name>.+) \((?<interval>month|year)ly\), /.exec(description)?.groups;
  const plan = m && PLANS.find((p) => p.name === m.name);
  return plan ? { interval: m.interval as Interval, monthlyCredits: plan.monthlyCredits } : undefined;
}

/** Credits clawed back in all after refunds totalling `refundedCents` of an invoice of `totalCents` granting `credits`: ceil(N × R / T) (SPEC §10). */
export function clawbackTarget(credits: number, refundedCents: number, totalCents: number): number {
  if (totalCents <= 0 || credits <= 0 || refundedCents <= 0) return 0;
  const r = Math.min(refundedCents, totalCents);
  // Integer arithmetic: N × R fits easily in a double's exact range for any invoice here.
  return Math.floor((credits * r + totalCents - 1) / totalCents);
}

/**
 * N of SPEC §10's clawback as it stands: the credits of the invoice's grants made so far (credits), each counted
 * as the invoice names it (a refresh: the plan's monthly credits) or, when it does not (null), as its lot was
 * granted. `granted`: the grants made so far, by business key, with what their lot was granted. A grant not made
 * yet counts 0, so a yearly invoice refunded in part owes a refresh's share when that refresh is granted.
 */
export function creditsGrantedSoFar(grants: InvoiceGrant[], granted: ReadonlyMap<string, { granted: number }>): number {
  return grants.reduce((sum, g) => {
    const lot = granted.get(g.key);
    return lot ? sum + (g.credits ?? Number(lot.granted)) : sum;
  }, 0);
}

/**
 * What an invoice's refunds owe now (SPEC §10), in credits: the target ceil(N × R / T) for N credits granted so
 * far (creditsGrantedSoFar) and R of T cents refunded, never below the target already recorded, and what is due
 * (its difference from that record, ≥ 0). A refund and each grant after it take what is due, so the credits
 * clawed back in all (with the refunds' shortfall) follow ceil(N × R / T) as N and R grow.
 */
export function clawbackDue(input: { credits: number; refundedCents: number; totalCents: number; recordedTarget: number }): { target: number; due: number } {
  const target = Math.max(input.recordedTarget, clawbackTarget(input.credits, input.refundedCents, input.totalCents));
  return { target, due: target - input.recordedTarget };
}
