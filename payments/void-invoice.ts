import type { Sql } from '../ledger/db.js';
import { getInvoice, voidInvoice } from '../ledger/invoices.js';
import { isProviderInvalidRequest } from './provider-errors.js';
import type { PaymentProvider } from './provider.js';

/**
 * Voids an unpaid invoice: first at the provider, so the customer can no longer pay it on its hosted page,
 * then ours. One the provider reports paid meanwhile is left open here, for its payment webhook to settle
 * (answers `paid`). Idempotent: the provider call is keyed by the invoice's business key, and a void or paid
 * invoice is left as it is. Used by the workflow's voidInvoice activity and by a declined pack purchase.
 */
export async function voidUnpaidInvoice(sql: Sql, payments: PaymentProvider, invoiceId: string): Promise<'void' | 'paid'> {
  const invoice = await getInvoice(sql, invoiceId);
  if (invoice?.status === 'paid') return 'paid';
  // Asked even without a provider invoice id: the sandbox's invoices are its own record (breaker finding
  // lifecycle-sandbox-lapse-after-payment: one paid on its hosted page just before its deadline was voided).
  if (invoice && (invoice.status === 'draft' || invoice.status === 'open')) {
    const voided = await payments.voidInvoice({
      invoiceId, providerInvoiceId: invoice.provider_invoice_id, idempotencyKey: `${invoice.business_key}:void`,
    })
      .catch((error: unknown) => {
        // The provider refuses the void as sent (its invoice is gone): nothing can be paid there; void ours.
        if (isProviderInvalidRequest(error)) return { status: null };
        throw error;
      });
    if (voided.status === 'paid') return 'paid';
  }
  await voidInvoice(sql, invoiceId);
  return 'void';
}
