import { describe, expect, it } from 'vitest';
import { clawbackTarget, type InvoiceGrantSource, invoiceGrants } from '../../domain/billing/invoice-grants.js';
import { type Interval } from '../../domain/catalog.js';
import { grantRefresh, periodCharge } from '../../domain/lifecycle/cycle.js';
import { applyPaidChange, planChange } from '../../domain/lifecycle/changes.js';
import type { Charge, Effect } from '../../domain/lifecycle/effects.js';
import { initialState, type LifecycleState } from '../../domain/lifecycle/state.js';

/** The invoice row the lifecycle core's charge becomes (ledger/invoices.ts draftInvoice). */
function invoiceOf(charge: Charge): InvoiceGrantSource {
  return { id: 'in_1', kind: charge.invoiceKind, business_key: charge.businessKey, lines: charge.lines, metadata: {} };
}
const grantKeys = (effects: Effect[]) => effects.flatMap((e) => (e.kind === 'grant' ? [e.key] : []));
const t0 = Date.UTC(2045, 0, 15);
const DAY = 86_400_000;

function started(interval: Interval, plan = 'plus'): LifecycleState {
  return grantRefresh(initialState({ subscriptionId: 'sub_abc', plan, interval, startedAt: t0 }), 0, t0).state;
}

/** SPEC §10: the lots an invoice granted, checked against the grants the lifecycle core makes for it. */
describe('invoiceGrants', () => {
  it('a monthly period invoice grants its one refresh; a yearly one the 12 refreshes of its year, N = 12 × monthly', () => {
    for (const interval of ['month', 'year'] as const) {
      const state = initialState({ subscriptionId: 'sub_abc', plan: 'max', interval, startedAt: t0 });
      const k = interval === 'month' ? 1 : 12;
      // The renewal of period 1: refreshes k..2k-1.
      const charge = periodCharge(state, k, t0 + 400 * DAY, 0, { kind: 'renewal', refreshIndex: k });
      const expected = Array.from({ length: k }, (_, j) => grantKeys(grantRefresh(state, k + j, t0).effects)[0]);
      const grants = invoiceGrants(invoiceOf(charge));
      expect(grants.map((g) => g.key)).toEqual(expected);
      expect(grants.reduce((sum, g) => sum + (g.credits ?? 0), 0)).toBe(k * 400);
    }
  });

  it('an upgrade invoice grants its top-up lot (credits: what the lot was granted)', () => {
    const state = started('month');
    const planned = planChange(state, { plan: 'max' }, t0 + 10 * DAY);
    if (planned.kind === 'downgrade' || planned.charge.purpose.kind !== 'change') throw new Error('expected an upgrade');
    const paid = applyPaidChange(state, planned.charge.purpose.change, t0 + 10 * DAY);
    expect(invoiceGrants(invoiceOf(planned.charge))).toEqual(grantKeys(paid.effects).map((key) => ({ key, credits: null })));
  });

  it('an interval switch grants the new cycle\'s first period: its credit-aware lot, and onto yearly the 11 refreshes after it', () => {
    for (const [from, to] of [['month', 'year'], ['year', 'month']] as const) {
      const state = started(from);
      const at = t0 + 10 * DAY;
      const planned = planChange(state, { interval: to }, at);
      if (planned.kind === 'downgrade' || planned.charge.purpose.kind !== 'change') throw new Error('expected a switch');
      const paid = applyPaidChange(state, planned.charge.purpose.change, at);
      const later = Array.from({ length: to === 'year' ? 11 : 0 }, (_, i) => grantKeys(grantRefresh(paid.state, i + 1, at).effects)[0]);
      const grants = invoiceGrants(invoiceOf(planned.charge));
      expect(grants.map((g) => g.key)).toEqual([...grantKeys(paid.effects), ...later]);
      expect(grants.map((g) => g.credits)).toEqual([null, ...later.map(() => 150)]);
    }
  });

  it('a pack invoice grants `${id}:pack`; an unknown key grants nothing', () => {
    expect(invoiceGrants({ id: 'in_p', kind: 'pack', business_key: 'pack:ws:1', lines: [], metadata: { pack_credits: 500 } }))
      .toEqual([{ key: 'in_p:pack', credits: 500 }]);
    expect(invoiceGrants({ id: 'in_x', kind: 'subscription', business_key: 'sub_1:123:period:0:subscription', lines: [], metadata: {} })).toEqual([]);
  });

  it('clawbackTarget is ceil(N × R / T), capped at N', () => {
    expect([333, 666, 1000].map((r) => clawbackTarget(100, r, 1000))).toEqual([34, 67, 100]);
    expect(clawbackTarget(100, 1200, 1000)).toBe(100);
    expect(clawbackTarget(100, 0, 1000)).toBe(0);
    expect(clawbackTarget(1800, 4320, 8640)).toBe(900);
  });
});
