import { randomBytes } from 'node:crypto';
import { findPlan, PACKS, packPriceCents } from '../domain/catalog.js';
import { formatLotId, grantLot } from '../ledger/credits.js';
import type { Sql } from '../ledger/db.js';
import type { InvoiceRow } from '../ledger/invoices.js';
import { currentSubscription } from '../ledger/subscriptions.js';
import { type WorkspaceIdentity, workspaceNow } from '../ledger/workspaces.js';
import { chargeInvoice, type ChargeResult } from '../payments/charge-invoice.js';
import type { PaymentProvider } from '../payments/provider.js';

const LIVE = new Set(['active', 'past_due', 'paused']);

/**
 * Buys a credit pack: priced with the plan's discount, charged now, delivered as a never-expiring lot
 * as soon as it is paid (frozen when the workspace has no live subscription). The idempotency key makes
 * a retried purchase return the first one.
 */
export async function buyPack(
  deps: { sql: Sql; payments: PaymentProvider },
  workspace: WorkspaceIdentity,
  request: { size: number; idempotencyKey?: string },
): Promise<{ charge: ChargeResult; lot: string | null }> {
  const pack = PACKS.find((p) => p.credits === request.size)!;
  const subscription = await currentSubscription(deps.sql, workspace.id);
  const live = subscription !== undefined && LIVE.has(subscription.status);
  const plan = live ? findPlan(subscription.plan) : undefined;
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
