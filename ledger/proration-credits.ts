/**
 * The unused-time credits later upgrades and interval switches gave for a paid invoice's time (SPEC §4, §10),
 * read for the refund path: the subscription's paid invoices in creation order, linked by the pure rule in
 * domain/billing/proration-credits.ts (invoices do not record their lines' coverage).
 */
import { type CreditedByProration, type PaidSubscriptionInvoice, prorationCredits } from '../domain/billing/proration-credits.js';
import type { Sql } from './db.js';
import type { Tx } from './operations.js';

/**
 * What later invoices of its subscription credited as unused time of `invoiceId`'s period: `{cents, by}`
 * (cents 0, by [] for a pack or an invoice nothing credited). One query over the subscription's invoices
 * (invoices_by_workspace narrows it to the workspace).
 */
export async function creditedByProration(tx: Tx | Sql, invoice: { id: string; workspace_id: string; subscription_id: string | null }): Promise<CreditedByProration> {
  if (!invoice.subscription_id) return { cents: 0, by: [] };
  const rows = await tx<{ id: string; number: string | null; kind: PaidSubscriptionInvoice['kind']; total_cents: number; lines: PaidSubscriptionInvoice['lines'] }[]>`
    SELECT id, number, kind, total_cents, lines FROM invoices
    WHERE workspace_id = ${invoice.workspace_id} AND subscription_id = ${invoice.subscription_id}
      AND status = 'paid' AND kind IN ('subscription', 'upgrade', 'interval_switch')
    ORDER BY seq`;
  const credited = prorationCredits(rows.map((r) => ({ id: r.id, number: r.number, kind: r.kind, totalCents: r.total_cents, lines: r.lines })));
  return credited.get(invoice.id) ?? { cents: 0, by: [] };
}
