/**
 * The unused-time credits later upgrades and interval switches gave for a paid invoice's time (SPEC §4, §10),
 * read for the refund path: the subscription's paid invoices in creation order, linked by the pure rule in
 * domain/billing/proration-credits.ts (invoices do not record their lines' coverage).
 */
import { type CreditedByProration, prorationCredits } from '../domain/billing/proration-credits.js';
import type { Sql } from './db.js';
import type { Tx } from './operations.js';
import { paidSubscriptionInvoices } from './period-in-force.js';

/**
 * What later invoices of its subscription credited as unused time of `invoiceId`'s period: `{cents, by}`
 * (cents 0, by [] for a pack or an invoice nothing credited). One query over the subscription's invoices and
 * their credit notes (a credit never takes what was refunded).
 */
export async function creditedByProration(tx: Tx | Sql, invoice: { id: string; workspace_id: string; subscription_id: string | null }): Promise<CreditedByProration> {
  if (!invoice.subscription_id) return { cents: 0, by: [] };
  const credited = prorationCredits(await paidSubscriptionInvoices(tx, invoice.workspace_id, invoice.subscription_id));
  return credited.get(invoice.id) ?? { cents: 0, by: [] };
}
