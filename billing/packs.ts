import { randomBytes } from 'node:crypto';
import { findPlan, PACKS, packPriceCents } from '../domain/catalog.js';
import { isLive } from '../domain/lifecycle/status.js';
import { refuse } from '../domain/refusals.js';
import { formatLotId, grantLot } from '../ledger/credits.js';
import type { Sql } from '../ledger/db.js';
import type { InvoiceRow } from '../ledger/invoices.js';
import { currentSubscription } from '../ledger/subscriptions.js';
import { type WorkspaceIdentity, workspaceNow } from '../ledger/workspaces.js';
import { chargeInvoice, type ChargeResult } from './charge-invoice.js';
import type { PaymentProvider } from '../payments/provider.js';
import { voidUnpaidInvoice } from '../payments/void-invoice.js';

/**
 * Buys a credit pack (SPEC §1): only with a live subscription (a pack sold into a canceled workspace
 * would arrive frozen), priced with the plan's discount, charged now, delivered as a never-expiring lot as
 * soon as it is paid. A declined card leaves no payable invoice: it is voided and the purchase refused.
 * One waiting for 3-D Secure stays open; its webhook delivers the pack. The idempotency key makes a
 * retried purchase return the first one.
 */
export async function buyPack(
  deps: { sql: Sql; payments: PaymentProvider },
  workspace: WorkspaceIdentity,
  request: { size: number; idempotencyKey?: string },
): Promise<{ charge: Exclude<ChargeResult, { status: 'declined' }>; lot: string | null }> {
  const pack = PACKS.find((p) => p.credits === request.size)!;
  const subscription = await currentSubscription(deps.sql, workspace.id);
  if (!subscription || !isLive(subscription.status)) {
    refuse('subscription_required', 'buying a pack needs a live (active, past due or paused) subscription');
  }
  const plan = findPlan(subscription.plan);
  const now = await workspaceNow(deps.sql, workspace.id);
  const price = packPriceCents(pack, plan);
  const discount = pack.priceCents - price;
  const charge = await chargeInvoice(deps.sql, deps.payments, {
    businessKey: `pack:${workspace.id}:${request.idempotencyKey ?? randomBytes(12).toString('hex')}`,
    workspaceId: workspace.id,
    subscriptionId: null,
    kind: 'pack',
    lines: [
      { description: `${pack.credits} credit pack`, amount_cents: pack.priceCents },
      ...(discount > 0 ? [{ description: `${plan!.name} plan pack discount (${plan!.packDiscountPercent}%)`, amount_cents: -discount }] : []),
    ],
    createdAt: now,
    metadata: { pack_credits: pack.credits },
  });
  if (charge.status === 'declined') {
    // Voided at the provider first; one it reports paid meanwhile (a race only Stripe can produce) stays
    // open here, and its webhook delivers the pack.
    await voidUnpaidInvoice(deps.sql, deps.payments, charge.invoice.id);
    refuse('payment_declined', `the payment was declined (${charge.code})`, { decline_code: charge.code });
  }
  if (charge.status !== 'paid') return { charge, lot: null };
  return { charge, lot: await deliverPack(deps.sql, charge.invoice, charge.invoice.paid_at ?? now) };
}

/** Grants a paid pack invoice's credits, once (at purchase, or when a 3-D Secure payment completes). */
export async function deliverPack(sql: Sql, invoice: InvoiceRow, paidAt: Date): Promise<string> {
  const { lotId } = await grantLot(sql, {
    key: `${invoice.id}:pack`, workspaceId: invoice.workspace_id, source: 'pack', amount: Number(invoice.metadata.pack_credits),
    grantedAt: paidAt, expiresAt: null,
  });
  return formatLotId(lotId);
}
