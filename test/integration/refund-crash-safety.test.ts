import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliverPack } from '../../billing/packs.js';
import { applyProviderRefund, refundInvoice } from '../../billing/refunds.js';
import { Refusal } from '../../domain/refusals.js';
import { draftInvoice, markInvoice } from '../../ledger/invoices.js';
import { createWorkspace } from '../../ledger/workspaces.js';
import type { PaymentProvider } from '../../payments/provider.js';
import { createSandboxProvider } from '../../payments/sandbox.js';
import { freshDatabase } from '../helpers/database.js';

/**
 * SPEC §10 refunds are crash-safe and never exceed what was paid: the intent is recorded first, so a retry
 * after a crash at any step completes the same credit note (one provider refund, one balance credit, one
 * clawback); concurrent refunds of one invoice are serialised on its row.
 */
describe('refund crash safety and concurrency', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let sandbox: ReturnType<typeof createSandboxProvider>;
  beforeAll(async () => {
    db = await freshDatabase();
    sandbox = createSandboxProvider({ publicUrl: 'http://sandbox.test', sql: db.sql });
  });
  afterAll(async () => db?.drop());

  /** A paid 100-credit pack invoice of 1000 cents, its lot delivered. */
  async function paidPack(name: string) {
    const ws = await createWorkspace(db.sql, { name, testClockId: null });
    const at = new Date();
    const invoice = await draftInvoice(db.sql, { businessKey: `pack:${ws.id}:1`, workspaceId: ws.id, subscriptionId: null, kind: 'pack',
      lines: [{ description: '100 credit pack', amount_cents: 1000 }], createdAt: at, metadata: { pack_credits: 100 } });
    const paid = await markInvoice(db.sql, invoice.id, { status: 'paid', paidAt: at });
    await deliverPack(db.sql, paid, at);
    return { workspaceId: ws.id, invoiceId: invoice.id };
  }

  const sandboxRefunds = async (invoiceId: string) =>
    (await db.sql`SELECT amount_cents FROM sandbox_refunds WHERE invoice_id = ${invoiceId} ORDER BY seq`).map((r) => Number(r.amount_cents));
  const notes = (invoiceId: string) => db.sql`SELECT business_key, status, amount_cents, credits_clawed_back FROM credit_notes WHERE invoice_id = ${invoiceId} ORDER BY seq`;
  // remaining_delta: the lots here are packs of a workspace without a live subscription (frozen), whose entries read 0.
  const clawbacks = (workspaceId: string) => db.sql`SELECT remaining_delta, operation_key FROM ledger_entries WHERE workspace_id = ${workspaceId} AND kind = 'clawback'`;

  it('a crash after the provider refunded (before anything was recorded of it) is completed by the retry, refunding once', async () => {
    const { workspaceId, invoiceId } = await paidPack('crash after provider');
    let crashes = 1;
    const crashing: PaymentProvider = {
      ...sandbox,
      refund: async (request) => {
        const result = await sandbox.refund(request);
        if (crashes-- > 0) throw new Error('the API process died after the provider answered');
        return result;
      },
    };
    const request = { invoiceId, amountCents: 400, reason: 'crash test' };
    await expect(refundInvoice({ sql: db.sql, payments: crashing }, request)).rejects.toThrow(/died/);
    expect(await notes(invoiceId)).toEqual([{ business_key: `${invoiceId}:refund:1`, status: 'pending', amount_cents: 400, credits_clawed_back: 0 }]);
    expect(await clawbacks(workspaceId)).toHaveLength(0);

    // The operator retries the same request (no Idempotency-Key): the pending note is completed, not doubled.
    const note = await refundInvoice({ sql: db.sql, payments: crashing }, request);
    expect(note).toMatchObject({ business_key: `${invoiceId}:refund:1`, status: 'issued', credits_clawed_back: 40 });
    expect(await sandboxRefunds(invoiceId)).toEqual([400]);
    expect((await clawbacks(workspaceId)).map((e) => [Number(e.remaining_delta), e.operation_key])).toEqual([[-40, `${invoiceId}:refund:1:clawback`]]);
    // Retried once more: now a new refund (the first was complete), of what is left.
    const second = await refundInvoice({ sql: db.sql, payments: sandbox }, request);
    expect(second).toMatchObject({ business_key: `${invoiceId}:refund:2`, status: 'issued', credits_clawed_back: 40 });
    expect(await sandboxRefunds(invoiceId)).toEqual([400, 400]);
  });

  it('the echo of a refund a crash interrupted (charge.refunded) completes it, without a second refund or a provider note', async () => {
    const { workspaceId, invoiceId } = await paidPack('crash then echo');
    const crashing: PaymentProvider = { ...sandbox, refund: async (request) => { await sandbox.refund(request); throw new Error('died'); } };
    await expect(refundInvoice({ sql: db.sql, payments: crashing }, { invoiceId, amountCents: 250, reason: 'echo' })).rejects.toThrow(/died/);
    // Without the provider (sandbox mode's inbox), the unconfirmed note waits for the operator's retry.
    await applyProviderRefund({ sql: db.sql }, { invoiceId, amountRefundedCents: 250 });
    expect((await notes(invoiceId)).map((n) => n.status)).toEqual(['pending']);
    // With it (Stripe mode's inbox), the echo completes it: the provider call is replayed by its key.
    await applyProviderRefund({ sql: db.sql, payments: sandbox }, { invoiceId, amountRefundedCents: 250 });
    expect(await notes(invoiceId)).toEqual([{ business_key: `${invoiceId}:refund:1`, status: 'issued', amount_cents: 250, credits_clawed_back: 25 }]);
    expect(await sandboxRefunds(invoiceId)).toEqual([250]);
    expect((await clawbacks(workspaceId)).map((e) => Number(e.remaining_delta))).toEqual([-25]);
  });

  it('a crash before the provider was called: the retry with the same Idempotency-Key refunds once', async () => {
    const { invoiceId } = await paidPack('crash before provider');
    const down: PaymentProvider = { ...sandbox, refund: async () => { throw new Error('provider unreachable'); } };
    const request = { invoiceId, reason: 'all of it', idempotencyKey: 'retry-me' };
    await expect(refundInvoice({ sql: db.sql, payments: down }, request)).rejects.toThrow(/unreachable/);
    expect(await sandboxRefunds(invoiceId)).toEqual([]);
    const note = await refundInvoice({ sql: db.sql, payments: sandbox }, request);
    expect(note).toMatchObject({ business_key: `${invoiceId}:refund:key:retry-me`, status: 'issued', amount_cents: 1000, credits_clawed_back: 100 });
    expect(await refundInvoice({ sql: db.sql, payments: sandbox }, request)).toEqual(note);
    expect(await sandboxRefunds(invoiceId)).toEqual([1000]);
  });

  it('a provider that refuses the refund as sent leaves nothing behind (provider_refund_failed)', async () => {
    const { workspaceId, invoiceId } = await paidPack('provider refuses');
    // The sandbox refuses more than the card paid: pretend the card paid only 100 of the 1000.
    await db.sql`UPDATE invoices SET amount_due_cents = 100, balance_applied_cents = 900 WHERE id = ${invoiceId}`;
    await db.sql`INSERT INTO sandbox_refunds (id, idempotency_key, invoice_id, amount_cents) VALUES ('re_sbx_elsewhere', 'elsewhere', ${invoiceId}, 100)`;
    const refused = await refundInvoice({ sql: db.sql, payments: sandbox }, { invoiceId, amountCents: 50, reason: 'refused' }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(Refusal);
    expect((refused as Refusal).code).toBe('provider_refund_failed');
    expect(await notes(invoiceId)).toEqual([]);
    expect(await clawbacks(workspaceId)).toHaveLength(0);
  });

  it('concurrent refunds never exceed what was paid: of three 600-cent refunds of 1000, one goes through', async () => {
    const { invoiceId } = await paidPack('concurrent');
    const outcomes = await Promise.all([1, 2, 3].map((i) =>
      refundInvoice({ sql: db.sql, payments: sandbox }, { invoiceId, amountCents: 600, reason: `race ${i}` }).then(() => 'refunded', (e: Refusal) => e.code)));
    expect(outcomes.sort()).toEqual(['refund_exceeds_paid', 'refund_exceeds_paid', 'refunded']);
    expect(await sandboxRefunds(invoiceId)).toEqual([600]);
    // And the same request sent concurrently with one Idempotency-Key is one refund.
    const same = await Promise.all([1, 2, 3].map(() =>
      refundInvoice({ sql: db.sql, payments: sandbox }, { invoiceId, amountCents: 400, reason: 'same', idempotencyKey: 'one-key' })));
    expect(new Set(same.map((n) => n.id)).size).toBe(1);
    expect(await sandboxRefunds(invoiceId)).toEqual([600, 400]);
  });
});
