import { UNPAID_TTL_MS } from '../domain/lifecycle/schedule.js';
import type { Sql } from '../ledger/db.js';
import { lapsedPackInvoiceIds } from '../ledger/pack-invoices.js';
import type { PaymentProvider } from '../payments/provider.js';
import { voidUnpaidInvoice } from '../payments/void-invoice.js';

/**
 * A pack waiting for 3-D Secure has as long as any other unpaid invoice: 23 hours after the purchase (ms, the
 * workspace's time), and never beyond the end of the subscription it was sold into (SPEC §1: nothing to deliver to).
 */
export const PACK_PAYMENT_TTL_MS = UNPAID_TTL_MS;

/**
 * Lapses the open pack invoices past PACK_PAYMENT_TTL_MS (as of `asOf`, default each workspace's time) or left
 * without a live subscription (with `onlyWithoutLive`, only these), optionally only those of one test clock's
 * workspaces, of one workspace or of one subscription's workspace, at most `limit`. Each is voided at the provider
 * first, so its hosted page no longer takes a payment, then here, giving back the customer balance it used (once:
 * only the open → void transition returns it). One the provider reports paid meanwhile stays open: its
 * `invoice.paid` settles it (billing/pack-settlement.ts: delivered only into a live subscription, refunded
 * otherwise). Every invoice is tried; the first failure (provider unreachable) is thrown after the others.
 * Answers how many were voided.
 */
export async function lapseOpenPacks(
  deps: { sql: Sql; payments: PaymentProvider },
  scope: { asOf?: Date; onlyWithoutLive?: boolean; testClockId?: string; workspaceId?: string; subscriptionId?: string; limit?: number } = {},
): Promise<number> {
  const ids = await lapsedPackInvoiceIds(deps.sql, { ...scope, ttlMs: PACK_PAYMENT_TTL_MS, limit: scope.limit ?? 1_000 });
  let voided = 0;
  let firstError: unknown;
  for (const id of ids) {
    try {
      if (await voidUnpaidInvoice(deps.sql, deps.payments, id) === 'void') voided += 1;
    } catch (error) {
      firstError ??= error;
    }
  }
  if (firstError !== undefined) throw firstError;
  return voided;
}
