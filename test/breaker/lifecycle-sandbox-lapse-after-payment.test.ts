import { describe, expect, it } from 'vitest';
import { applyPaymentEvent } from '../../api/webhooks/inbox.js';
import { reconcileOpenInvoices } from '../../api/webhooks/reconcile.js';
import { getInvoice } from '../../ledger/invoices.js';
import { createSandboxProvider } from '../../payments/sandbox.js';
import { stateQuery } from '../../workflows/messages.js';
import { subscribeOnClock } from '../helpers/clock-harness.js';
import { useTimeSkippingStack } from '../helpers/time-skipping.js';

/**
 * Breaker finding (lifecycle), now a regression test: the README promises that an unpaid invoice that lapses is
 * voided at the provider first and that "when the customer paid it there meanwhile, the payment is applied as if
 * its webhook had come first". The sandbox provider used to answer every void with `void` without looking
 * (and voidUnpaidInvoice only asked a provider with a provider invoice id): a 3-D Secure payment completed on the
 * hosted page whose invoice.paid was still on its way (outbox → webhook → forwarder) when the 23-hour lapse
 * fired was voided and then ignored: 2900 taken, nothing granted. The sandbox now answers as Stripe would (paid
 * cannot be voided; a void closes the pending 3-D Secure attempt), serialized with the authentication.
 */
describe('breaker: a lapse racing a completed 3-D Secure payment (sandbox)', () => {
  const t = useTimeSkippingStack();

  it('a first payment authenticated just before its 23 h deadline is applied once, not voided', { timeout: 120_000 }, async () => {
    const sub = await subscribeOnClock(t.env.client, t.db.sql, t.worker.taskQueue, {
      plan: 'max', interval: 'month', start: '2026-01-01T00:00:00Z', paymentMethod: 'pm_card_authenticationRequired',
    });
    expect(sub.first).toMatchObject({ status: 'incomplete', incomplete_payment: { outcome: 'requires_action', expires_at: '2026-01-01T23:00:00.000Z' } });
    const invoiceId = sub.first.incomplete_payment!.invoice_id;

    // 22:59: the customer completes 3-D Secure on the hosted page (what POST /sandbox/invoices/:id/authenticate does).
    await sub.advance('2026-01-01T22:59:00Z');
    const sandbox = createSandboxProvider({ publicUrl: 'http://localhost', sql: t.db.sql });
    const pending = await sandbox.pendingAuthentication(invoiceId);
    expect(pending).not.toBeNull();
    expect(await sandbox.completeAuthentication((await getInvoice(t.db.sql, invoiceId))!, pending!.attemptId)).toBe(true);

    // 23:00: the deadline passes before the invoice.paid webhook was forwarded: the lapse finds it paid at the
    // provider and applies the payment itself.
    await sub.advance('2026-01-01T23:00:00Z');
    expect((await sub.handle.query(stateQuery)).status).toBe('active');
    // Then the webhook arrives, twice (at-least-once delivery), and the reconciler runs: nothing is applied again.
    const webhook = { id: `${pending!.attemptId}:authenticated`, type: 'invoice.paid', created: 0, invoiceId, workspaceId: sub.workspaceId } as never;
    await applyPaymentEvent({ sql: t.db.sql, temporal: t.env.client }, webhook);
    await applyPaymentEvent({ sql: t.db.sql, temporal: t.env.client }, webhook);
    await reconcileOpenInvoices({ sql: t.db.sql, payments: sandbox }, { olderThanMs: 0 });
    await sub.advance('2026-01-02T00:00:00Z');

    const invoice = (await getInvoice(t.db.sql, invoiceId))!;
    const view = await sub.handle.query(stateQuery);
    const lots = await sub.lots();
    expect({ invoice: invoice.status, status: view.status, lots: lots.map((l) => [l.source, l.granted]) })
      .toEqual({ invoice: 'paid', status: 'active', lots: [['monthly', 400]] });
  });

  it('a first payment voided at its deadline can no longer be authenticated on the hosted page', { timeout: 120_000 }, async () => {
    const sub = await subscribeOnClock(t.env.client, t.db.sql, t.worker.taskQueue, {
      plan: 'max', interval: 'month', start: '2026-01-01T00:00:00Z', paymentMethod: 'pm_card_authenticationRequired',
    });
    const invoiceId = sub.first.incomplete_payment!.invoice_id;
    const sandbox = createSandboxProvider({ publicUrl: 'http://localhost', sql: t.db.sql });
    const pending = await sandbox.pendingAuthentication(invoiceId);
    expect(pending).not.toBeNull();

    await sub.advance('2026-01-01T23:00:00Z');
    expect((await sub.handle.query(stateQuery)).status).toBe('canceled');
    // The page was left open: authenticating the attempt it showed now pays nothing.
    expect(await sandbox.pendingAuthentication(invoiceId)).toBeNull();
    expect(await sandbox.completeAuthentication((await getInvoice(t.db.sql, invoiceId))!, pending!.attemptId)).toBe(false);
    expect(await sandbox.isInvoicePaid({ id: invoiceId, providerInvoiceId: null })).toBe(false);
    expect({ invoice: (await getInvoice(t.db.sql, invoiceId))!.status, lots: (await sub.lots()).length }).toEqual({ invoice: 'void', lots: 0 });
  });
});
