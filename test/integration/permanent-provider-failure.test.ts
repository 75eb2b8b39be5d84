import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getInvoice, markInvoice } from '../../ledger/invoices.js';
import { createWorkspace } from '../../ledger/workspaces.js';
import { chargeInvoice } from '../../billing/charge-invoice.js';
import { PROVIDER_INVALID_REQUEST } from '../../payments/provider-errors.js';
import type { PaymentProvider } from '../../payments/provider.js';
import { voidUnpaidInvoice } from '../../payments/void-invoice.js';
import { freshDatabase } from '../helpers/database.js';

/**
 * A request the provider refuses as sent can never succeed: a charge is then a failed payment (dunning, a
 * 402, a voided change), never an activity retried forever or a failed workflow; a void voids ours.
 */
describe('permanent provider failures', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  const refusing: PaymentProvider = {
    name: 'stripe',
    charge: async () => { throw ApplicationFailure.nonRetryable('No such customer', PROVIDER_INVALID_REQUEST, { code: 'resource_missing' }); },
    isInvoicePaid: async () => false,
    voidInvoice: async () => { throw ApplicationFailure.nonRetryable('No such invoice', PROVIDER_INVALID_REQUEST, { code: 'resource_missing' }); },
    refund: async () => { throw ApplicationFailure.nonRetryable('No such invoice', PROVIDER_INVALID_REQUEST, { code: 'resource_missing' }); },
  };
  beforeAll(async () => {
    db = await freshDatabase();
  });
  afterAll(async () => db?.drop());

  it('a charge is declined with code provider_invalid_request and its invoice stays open; voiding it voids ours', async () => {
    const ws = await createWorkspace(db.sql, { name: 'deleted customer', testClockId: null });
    const result = await chargeInvoice(db.sql, refusing, {
      businessKey: 'pack:deleted-customer', workspaceId: ws.id, subscriptionId: null, kind: 'pack',
      lines: [{ description: '100 credit pack', amount_cents: 1000 }], createdAt: new Date('2043-01-31T00:00:00Z'),
    });
    expect([result.status, result.status === 'declined' && result.code, result.invoice.status, result.invoice.last_payment_error])
      .toEqual(['declined', PROVIDER_INVALID_REQUEST, 'open', PROVIDER_INVALID_REQUEST]);
    await markInvoice(db.sql, result.invoice.id, { status: 'open', providerInvoiceId: 'in_gone_at_stripe' });
    expect(await voidUnpaidInvoice(db.sql, refusing, result.invoice.id)).toBe('void');
    expect((await getInvoice(db.sql, result.invoice.id))!.status).toBe('void');
  });
});
