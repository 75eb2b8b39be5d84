/**
 * What a change would do now (SPEC §10 preview), computed by the very functions that make it: planChange
 * prices it, applyPaidChange says what it grants and deactivates, applyCustomerBalance what is due. Throws
 * the same Refusal as the change would.
 */
import { planById } from '../catalog.js';
import { applyCustomerBalance } from '../billing/customer-balance.js';
import type { InvoiceLine } from '../proration.js';
import { applyPaidChange, type ChangeRequest, type LedgerView, planChange } from './changes.js';
import type { ChargePurpose } from './effects.js';
import type { LifecycleState } from './state.js';

export interface ChangePreview {
  kind: 'upgrade' | 'downgrade' | 'interval_switch';
  effective_at: string;
  invoice: {
    lines: InvoiceLine[]; subtotal_cents: number; tax_cents: number; total_cents: number;
    balance_applied_cents: number; amount_due_cents: number;
  } | null;
  credits_granted: number;
  credits_expire_at: string | null;
  /** How many active custom models the change deactivates (when it takes effect). */
  custom_models_deactivated: number;
}

export interface PreviewContext {
  /** The plan credits still available (an interval switch prices those already used). */
  ledger?: LedgerView;
  customerBalanceCents: number;
  activeCustomModels: number;
}

/** The change `request` at `at` (epoch ms, the workspace's time), as it would be made now; nothing changes. */
export function previewChange(state: LifecycleState, request: ChangeRequest, at: number, ctx: PreviewContext): ChangePreview {
  const planned = planChange({ ...state, changes: state.changes + 1 }, request, at, ctx.ledger);
  if (planned.kind === 'downgrade') {
    return {
      kind: 'downgrade', effective_at: new Date(planned.effectiveAt).toISOString(), invoice: null, credits_granted: 0, credits_expire_at: null,
      custom_models_deactivated: Math.max(0, ctx.activeCustomModels - planById(planned.plan).customModelLimit),
    };
  }
  const { lines } = planned.charge;
  const subtotal = lines.reduce((sum, line) => sum + line.amount_cents, 0);
  const { appliedCents, amountDueCents } = applyCustomerBalance(subtotal, ctx.customerBalanceCents);
  const { change } = planned.charge.purpose as Extract<ChargePurpose, { kind: 'change' }>;
  const applied = applyPaidChange(state, change, at);
  const grant = applied.effects.find((e) => e.kind === 'grant');
  const keep = applied.effects.find((e) => e.kind === 'deactivate_models');
  return {
    kind: planned.kind,
    effective_at: new Date(at).toISOString(),
    invoice: { lines, subtotal_cents: subtotal, tax_cents: 0, total_cents: subtotal, balance_applied_cents: appliedCents, amount_due_cents: amountDueCents },
    credits_granted: grant?.kind === 'grant' ? grant.credits : 0,
    credits_expire_at: grant?.kind === 'grant' ? new Date(grant.expiresAt).toISOString() : null,
    custom_models_deactivated: keep?.kind === 'deactivate_models' ? Math.max(0, ctx.activeCustomModels - keep.keep) : 0,
  };
}
