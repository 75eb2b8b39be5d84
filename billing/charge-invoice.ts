import type { Sql } from '../ledger/db.js';
import { draftInvoice, type InvoiceRow, markInvoice, type NewInvoice } from '../ledger/invoices.js';
import { getWorkspace } from '../ledger/workspaces.js';
import { isProviderInvalidRequest, PROVIDER_INVALID_REQUEST } from '../payments/provider-errors.js';
import type { ChargeOutcome, PaymentProvider } from '../payments/provider.js';

export type ChargeResult =
  | { status: 'paid'; invoice: InvoiceRow }
  | { status: 'requires_action'; invoice: InvoiceRow; hostedUrl: string }
  | { status: 'declined'; invoice: InvoiceRow; code: string };

/**
 * Creates (or finds, by business key) an invoice and charges it off-session with the workspace's
 * default payment method. The provider call carries the business key as its idempotency key, so a
 * retried charge is recognised, never repeated. A declined card is an outcome, not an error.
 */
export async function chargeInvoice(
  sql: Sql,
  payments: PaymentProvider,
  draft: NewInvoice,
  /** 0 for the first attempt; each dunning retry is a new payment attempt with a key of its own. */
  attempt = 0,
): Promise<ChargeResult> {
  const invoice = await draftInvoice(sql, draft);
  if (invoice.status === 'paid') return { status: 'paid', invoice };
  if (invoice.status === 'void') return { status: 'declined', invoice, code: 'invoice_void' };
  const workspace = await getWorkspace(sql, draft.workspaceId);
  const outcome = await payments.charge({
    invoiceId: invoice.id,
    idempotencyKey: draft.businessKey,
    attempt,
    providerInvoiceId: invoice.provider_invoice_id,
    workspaceId: draft.workspaceId,
    subscriptionId: draft.subscriptionId,
    customerId: workspace?.provider_customer_id ?? null,
    paymentMethod: workspace?.payment_method ?? null,
    lines: invoice.lines,
    amountDueCents: invoice.amount_due_cents,
    description: invoice.lines.map((line) => line.description).join('; '),
  }).catch((error: unknown): ChargeOutcome => {
    // A request the provider refuses as sent (a customer deleted at Stripe, …) fails the same way on every
    // retry: it is a failed payment like a decline (dunning, a 402, a voided change), never a stuck workflow.
    if (isProviderInvalidRequest(error)) return { status: 'declined', code: PROVIDER_INVALID_REQUEST };
    throw error;
  });
  const links = { providerInvoiceId: outcome.providerInvoiceId, hostedUrl: outcome.hostedUrl, pdfUrl: outcome.pdfUrl };
  switch (outcome.status) {
    case 'paid':
      return { status: 'paid', invoice: await markInvoice(sql, invoice.id, { status: 'paid', paidAt: draft.createdAt, ...links }) };
    case 'requires_action':
      return { status: 'requires_action', hostedUrl: outcome.hostedUrl,
        invoice: await markInvoice(sql, invoice.id, { status: 'open', error: 'authentication_required', ...links }) };
    case 'declined':
      return { status: 'declined', code: outcome.code, invoice: await markInvoice(sql, invoice.id, { status: 'open', error: outcome.code, ...links }) };
  }
}
