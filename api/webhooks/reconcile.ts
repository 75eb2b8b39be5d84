import type { Sql } from '../../ledger/db.js';
import type { PaymentProvider } from '../../payments/provider.js';
import { storeWebhookEvent } from './inbox.js';

/**
 * Repairs missed webhooks: asks the provider about invoices still open after `olderThanMs` and, for each
 * one it holds as paid, stores the `invoice.paid` event we should have received (one per invoice, so the
 * repair itself is idempotent); the forwarder then applies it like any other event.
 */
export async function reconcileOpenInvoices(
  deps: { sql: Sql; payments: PaymentProvider },
  options: { olderThanMs?: number; limit?: number } = {},
): Promise<number> {
  const open = await deps.sql<{ id: string; workspace_id: string; subscription_id: string | null; provider_invoice_id: string | null }[]>`
    SELECT id, workspace_id, subscription_id, provider_invoice_id FROM invoices
    WHERE status = 'open' AND created_at <= workspace_now(workspace_id) - ${options.olderThanMs ?? 60_000} * interval '1 millisecond'
    ORDER BY created_at LIMIT ${options.limit ?? 100}`;
  let repaired = 0;
  for (const invoice of open) {
    if (!(await deps.payments.isInvoicePaid({ id: invoice.id, providerInvoiceId: invoice.provider_invoice_id }))) continue;
    const { duplicate } = await storeWebhookEvent(deps.sql, {
      id: `reconcile:${invoice.id}`, type: 'invoice.paid', created: Math.floor(Date.now() / 1000), invoiceId: invoice.id,
      workspaceId: invoice.workspace_id, subscriptionId: invoice.subscription_id, objectStatus: 'paid',
    });
    if (!duplicate) repaired += 1;
  }
  return repaired;
}
