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
 * their credit notes (a credit never takes what was refunded). A change still drafted or open (waiting for
 * 3-D Secure) counts: its credit is promised; voided, it no longer does. Read under the invoice's row lock, which
 * a change's draft also takes (ledger/period-in-force.ts lockPeriodCredited), so a draft is seen once committed.
 */
export async function creditedByProration(tx: Tx | Sql, invoice: { id: string; workspace_id: string; subscription_id: string | null }): Promise<CreditedByProration> {
  if (!invoice.subscription_id) return { cents: 0, by: [] };
  const credited = prorationCredits(await paidSubscriptionInvoices(tx, invoice.workspace_id, invoice.subscription_id, { unpaidChanges: true }));
  return credited.get(invoice.id) ?? { cents: 0, by: [] };
}
