import type { SellerIdentity } from '../runtime/config.js';
import type { Sql } from './db.js';

/**
 * The seller as an invoice carries it: a copy taken when the invoice was finalized (migration 0016's
 * trigger), so a filed invoice never changes when the configuration does. `address` has one line per
 * line of the postal address.
 */
export interface InvoiceSeller {
  name: string;
  address: string;
  tax_id: string;
}

/**
 * Stores the configured seller (SPEC §10): the row every invoice finalized from now on copies, and whose
 * prefix numbers them, whichever process (API or worker) finalizes. Called by the API at start.
 */
export async function saveSellerSettings(sql: Sql, seller: SellerIdentity): Promise<void> {
  const address = seller.address.join('\n');
  await sql`
    INSERT INTO seller_settings (singleton, name, address, tax_id, invoice_number_prefix)
    VALUES (true, ${seller.name}, ${address}, ${seller.taxId}, ${seller.invoiceNumberPrefix})
    ON CONFLICT (singleton) DO UPDATE SET name = excluded.name, address = excluded.address, tax_id = excluded.tax_id,
      invoice_number_prefix = excluded.invoice_number_prefix, updated_at = now()`;
}

/** The seller an invoice shows: its own copy once finalized, else (a draft) the configured one. */
export function sellerOfInvoice(invoice: { seller: InvoiceSeller | null }, configured: SellerIdentity): InvoiceSeller {
  return invoice.seller ?? { name: configured.name, address: configured.address.join('\n'), tax_id: configured.taxId };
}
