import { randomBytes } from 'node:crypto';
import { applyCustomerBalance } from '../domain/billing/customer-balance.js';
import { findPlan, PACKS, type PackSize, packPriceCents, type Plan } from '../domain/catalog.js';
import { isLive } from '../domain/lifecycle/status.js';
import type { InvoiceLine } from '../domain/proration.js';
import { refuse } from '../domain/refusals.js';
import type { Sql } from '../ledger/db.js';
import { AmountDueChanged, customerBalanceCents } from '../ledger/invoices.js';
import { currentSubscription } from '../ledger/subscriptions.js';
import { type WorkspaceIdentity, workspaceNow } from '../ledger/workspaces.js';
import { chargeInvoice, type ChargeResult } from './charge-invoice.js';
import type { PaymentProvider } from '../payments/provider.js';
import { voidUnpaidInvoice } from '../payments/void-invoice.js';
import { settlePaidPack } from './pack-settlement.js';

export { deliverPack } from './pack-settlement.js';

/** What buying a pack of `size` credits would charge now (SPEC §10 preview, §1 pack prices). */
export interface PackPreview {
  credits: number;
  /** Packs never expire while the account is active: always null. */
  credits_expire_at: null;
  invoice: {
    lines: InvoiceLine[]; subtotal_cents: number; tax_cents: number; total_cents: number;
    balance_applied_cents: number; amount_due_cents: number;
  };
}

/** The pack invoice's lines: the list price, and the plan's pack discount as its own negative line. */
function packLines(pack: PackSize, plan: Plan | undefined): InvoiceLine[] {
  const discount = pack.priceCents - packPriceCents(pack, plan);
  return [
    { description: `${pack.credits} credit pack`, amount_cents: pack.priceCents },
    ...(discount > 0 ? [{ description: `${plan!.name} plan pack discount (${plan!.packDiscountPercent}%)`, amount_cents: -discount }] : []),
  ];
}

/** The live subscription's plan a pack is priced with; Refusal `subscription_required` without one. */
async function packBuyerPlan(sql: Sql, workspace: WorkspaceIdentity): Promise<Plan | undefined> {
  const subscription = await currentSubscription(sql, workspace.id);
  if (!subscription || !isLive(subscription.status)) {
    refuse('subscription_required', 'buying a pack needs a live (active, past due or paused) subscription');
  }
  return findPlan(subscription.plan);
}

/**
 * What buying the pack of `size` credits (one of PACKS) would charge now, changing nothing: the same lines
 * as the purchase and the customer balance applied by the invoices' own arithmetic. Refusal
 * `subscription_required` like the purchase.
 */
export async function previewPack(deps: { sql: Sql }, workspace: WorkspaceIdentity, size: number): Promise<PackPreview> {
  const pack = PACKS.find((p) => p.credits === size)!;
  const plan = await packBuyerPlan(deps.sql, workspace);
  const lines = packLines(pack, plan);
  const total = lines.reduce((sum, line) => sum + line.amount_cents, 0);
  const { appliedCents, amountDueCents } = applyCustomerBalance(total, await customerBalanceCents(deps.sql, workspace.id));
  return {
    credits: pack.credits, credits_expire_at: null,
    invoice: { lines, subtotal_cents: total, tax_cents: 0, total_cents: total, balance_applied_cents: appliedCents, amount_due_cents: amountDueCents },
  };
}

/**
 * Buys a credit pack (SPEC §1): only with a live subscription (a pack sold into a canceled workspace
 * would arrive frozen), priced with the plan's discount, charged now, delivered as a never-expiring lot as
 * soon as it is paid. A declined card leaves no payable invoice: it is voided and the purchase refused.
 * One waiting for 3-D Secure stays open until it is paid (its webhook delivers the pack), 23 hours pass or the
 * subscription ends (billing/pack-lapse.ts: voided, its customer balance given back). A payment completing
 * when no subscription is live any more is refunded, never delivered (billing/pack-settlement.ts): here, a
 * subscription that ended during the charge makes it Refusal `subscription_required`. The idempotency key makes a
 * retried purchase return the first one. With `expectedAmountDueCents` (what the customer confirmed, SPEC
 * §10), an amount due that differs when the invoice is drafted (compared in the draft's transaction, where the
 * customer balance is applied) is Refusal `preview_outdated` with the fresh `preview`, nothing drafted or charged.
 */
export async function buyPack(
  deps: { sql: Sql; payments: PaymentProvider },
  workspace: WorkspaceIdentity,
  request: { size: number; idempotencyKey?: string; expectedAmountDueCents?: number },
): Promise<{ charge: Exclude<ChargeResult, { status: 'declined' }>; lot: string | null }> {
  const pack = PACKS.find((p) => p.credits === request.size)!;
  const plan = await packBuyerPlan(deps.sql, workspace);
  const now = await workspaceNow(deps.sql, workspace.id);
  const charge = await chargeInvoice(deps.sql, deps.payments, {
    businessKey: `pack:${workspace.id}:${request.idempotencyKey ?? randomBytes(12).toString('hex')}`,
    workspaceId: workspace.id,
    subscriptionId: null,
    kind: 'pack',
    lines: packLines(pack, plan),
    createdAt: now,
    metadata: { pack_credits: pack.credits },
    // Compared where the draft applies the customer balance, under the workspace lock (SPEC §10).
    ...(request.expectedAmountDueCents !== undefined ? { expectedAmountDueCents: request.expectedAmountDueCents } : {}),
  }).catch(async (error: unknown) => {
    if (!(error instanceof AmountDueChanged)) throw error;
    return refuse('preview_outdated', error.message, { preview: await previewPack(deps, workspace, request.size) });
  });
  if (charge.status === 'declined') {
    // Voided at the provider first; one it reports paid meanwhile (a race only Stripe can produce) stays
    // open here, and its webhook delivers the pack.
    await voidUnpaidInvoice(deps.sql, deps.payments, charge.invoice.id);
    refuse('payment_declined', `the payment was declined (${charge.code})`, { decline_code: charge.code });
  }
  if (charge.status !== 'paid') return { charge, lot: null };
  const settled = await settlePaidPack(deps, charge.invoice, charge.invoice.paid_at ?? now);
  if (settled.outcome === 'refunded') {
    refuse('subscription_required', 'the subscription ended while the pack was charged: its payment was refunded');
  }
  return { charge, lot: settled.lot };
}
