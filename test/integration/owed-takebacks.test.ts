import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyProviderRefund, refundInvoice } from '../../billing/refunds.js';
import { Refusal } from '../../domain/refusals.js';
import { draftInvoice, type InvoiceRow, markInvoice, voidInvoice } from '../../ledger/invoices.js';
import { createSandboxProvider } from '../../payments/sandbox.js';
import { freshDatabase } from '../helpers/database.js';
import { clockWorkspace, paidPack } from '../helpers/invoice-fixtures.js';

const JAN_1 = new Date(Date.UTC(2026, 0, 1));
const JUL_2 = new Date(Date.UTC(2026, 6, 2));

/**
 * SPEC §4/§10, README "A dispute lost after a change", on real Postgres through the ledger's own functions: a
 * refund made at the provider (`charge.refunded`, applyProviderRefund) after an interval switch credited the
 * refunded year's unused time takes that credit back from the customer balance as a lost dispute does, after
 * operator refunds without counting them twice; what the balance lacks stays owed on the note, and the next
 * credits to the balance settle it before the balance gets anything: the void of an invoice that held balance
 * when the take-back ran (voidInvoice), a refund's balance part (completeCreditNote), a negative total
 * (draftInvoice). Also the take-back and a void at the same time: the same end state in either order.
 * The history is the breaker's: Max yearly 20880 paid 2026-01-01; 07-02 switch to monthly: −10469 + 2900 = −7569.
 */
describe('take-backs of a change credit after a provider refund, owed until the balance is credited again', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let sandbox: ReturnType<typeof createSandboxProvider>;
  beforeAll(async () => {
    db = await freshDatabase();
    sandbox = createSandboxProvider({ publicUrl: 'http://sandbox.test', sql: db.sql });
  });
  afterAll(async () => db?.drop());

  async function paid(inv: Parameters<typeof draftInvoice>[1], status: 'paid' | 'open' = 'paid'): Promise<InvoiceRow> {
    const draft = await draftInvoice(db.sql, inv);
    return markInvoice(db.sql, draft.id, { status, ...(status === 'paid' ? { paidAt: inv.createdAt } : {}) });
  }
  /** Max yearly paid by card on 01-01, switched to monthly on 07-02 (customer balance 7569), the clock at 07-02. */
  async function switched() {
    const { workspaceId, clockId } = await clockWorkspace(db.sql, JAN_1);
    const subscriptionId = `sub_${workspaceId}`;
    const yearly = await paid({ businessKey: `${subscriptionId}:yearly`, workspaceId, subscriptionId, kind: 'subscription', createdAt: JAN_1,
      lines: [{ description: 'Max (yearly)', amount_cents: 20880 }] });
    await db.sql`UPDATE test_clocks SET frozen_time = ${JUL_2} WHERE id = ${clockId}`;
    const change = await paid({ businessKey: `${subscriptionId}:switch`, workspaceId, subscriptionId, kind: 'interval_switch', createdAt: JUL_2,
      lines: [{ description: 'Unused time on Max (yearly)', amount_cents: -10469 }, { description: 'Max (monthly)', amount_cents: 2900 }] });
    expect(change.total_cents).toBe(-7569);
    expect(await balance(workspaceId)).toBe(7569);
    return { workspaceId, yearly };
  }
  const balance = async (workspaceId: string) => Number((await db.sql`SELECT customer_balance_cents FROM workspaces WHERE id = ${workspaceId}`)[0]!.customer_balance_cents);
  const notes = (invoiceId: string) => db.sql<{ source: string; amount_cents: number; taken: number; owed: number }[]>`
    SELECT source, amount_cents::int, balance_taken_back_cents::int AS taken, balance_shortfall_cents::int AS owed
    FROM credit_notes WHERE invoice_id = ${invoiceId} ORDER BY seq`;
  const dashboardRefund = (invoiceId: string, amountRefundedCents: number) => applyProviderRefund({ sql: db.sql, payments: sandbox }, { invoiceId, amountRefundedCents });
  const refund = (invoiceId: string, amountCents?: number) =>
    refundInvoice({ sql: db.sql, payments: sandbox }, { invoiceId, reason: 'test', ...(amountCents === undefined ? {} : { amountCents }) });
  /** README: customer balance = invoices (negative totals in, balance applied out, voids excluded) + notes' balance parts − taken back. */
  async function reconciled(workspaceId: string): Promise<number> {
    const [row] = await db.sql<{ cents: number }[]>`
      SELECT ((SELECT coalesce(sum(CASE WHEN total_cents < 0 THEN -total_cents ELSE -balance_applied_cents END), 0) FROM invoices
               WHERE workspace_id = ${workspaceId} AND status <> 'void')
            + (SELECT coalesce(sum(credited_to_balance_cents - balance_taken_back_cents), 0) FROM credit_notes WHERE workspace_id = ${workspaceId}))::int AS cents`;
    return row!.cents;
  }

  it('operator refund of what is left (10411), then the dashboard refunds the rest: 10469 taken back once (7569 + 2900 owed); a negative total settles the 2900', async () => {
    const { workspaceId, yearly } = await switched();
    await expect(refund(yearly.id, 10412)).rejects.toSatisfy((e: unknown) => e instanceof Refusal && e.code === 'refund_exceeds_paid' && e.detail.refundable_cents === 10411);
    await refund(yearly.id, 10411);
    // The operator's refund is capped by the credit: it owes no take-back.
    expect(await notes(yearly.id)).toEqual([{ source: 'operator', amount_cents: 10411, taken: 0, owed: 0 }]);
    expect(await balance(workspaceId)).toBe(7569);

    // Stripe now reports the whole charge refunded: the dashboard refunded the other 10469, the switch's credit.
    expect(await dashboardRefund(yearly.id, 20880)).toMatchObject({ source: 'provider', amount_cents: 10469, status: 'issued' });
    const afterDashboard = [{ source: 'operator', amount_cents: 10411, taken: 0, owed: 0 }, { source: 'provider', amount_cents: 10469, taken: 7569, owed: 2900 }];
    expect(await notes(yearly.id)).toEqual(afterDashboard);
    expect(await balance(workspaceId)).toBe(0);
    // A duplicate charge.refunded (same total) adds nothing and takes nothing again.
    await dashboardRefund(yearly.id, 20880);
    expect([await notes(yearly.id), await balance(workspaceId)]).toEqual([afterDashboard, 0]);

    // A later negative total (4000 credited) settles the 2900 owed first; 1100 reaches the balance.
    await paid({ businessKey: `goodwill:${workspaceId}`, workspaceId, subscriptionId: null, kind: 'upgrade', createdAt: JUL_2,
      lines: [{ description: 'Goodwill credit', amount_cents: -4000 }] });
    expect((await notes(yearly.id))[1]).toMatchObject({ taken: 10469, owed: 0 });
    expect(await balance(workspaceId)).toBe(1100);
    expect(await reconciled(workspaceId)).toBe(1100);
  });

  it('balance held by an open invoice when the dashboard refund came: its void settles what is owed, then a refund\'s balance part', async () => {
    const { workspaceId, yearly } = await switched();
    const { invoice: pack } = await paidPack(db.sql, workspaceId, JUL_2, 100, 1000, 'paid-from-balance');
    expect(pack).toMatchObject({ balance_applied_cents: 1000, amount_due_cents: 0 });
    const open = await paid({ businessKey: `pack-3ds:${workspaceId}`, workspaceId, subscriptionId: null, kind: 'pack', createdAt: JUL_2,
      lines: [{ description: '500 credit pack', amount_cents: 5000 }], metadata: { pack_credits: 500 } }, 'open');
    expect(open.balance_applied_cents).toBe(5000);
    expect(await balance(workspaceId)).toBe(1569);

    await dashboardRefund(yearly.id, 20880);
    expect(await notes(yearly.id)).toEqual([{ source: 'provider', amount_cents: 20880, taken: 1569, owed: 8900 }]);
    expect(await balance(workspaceId)).toBe(0);

    // The pack waiting for 3-D Secure lapses: the 5000 it held settle what is owed, nothing reaches the balance.
    await voidInvoice(db.sql, open.id);
    await voidInvoice(db.sql, open.id);
    expect(await notes(yearly.id)).toEqual([{ source: 'provider', amount_cents: 20880, taken: 6569, owed: 3900 }]);
    expect(await balance(workspaceId)).toBe(0);

    // The pack paid from the balance is refunded in full: its 1000 return to the balance, which owes them.
    expect(await refund(pack.id)).toMatchObject({ amount_cents: 1000, refunded_to_card_cents: 0, credited_to_balance_cents: 1000 });
    expect(await notes(yearly.id)).toEqual([{ source: 'provider', amount_cents: 20880, taken: 7569, owed: 2900 }]);
    expect(await balance(workspaceId)).toBe(0);
    expect(await reconciled(workspaceId)).toBe(0);
  });

  it('the take-back and the void of the invoice holding the balance at the same time end the same in either order', async () => {
    const runs = await Promise.all(Array.from({ length: 6 }, async () => {
      const { workspaceId, yearly } = await switched();
      const open = await paid({ businessKey: `pack-3ds:${workspaceId}`, workspaceId, subscriptionId: null, kind: 'pack', createdAt: JUL_2,
        lines: [{ description: '500 credit pack', amount_cents: 5000 }], metadata: { pack_credits: 500 } }, 'open');
      await Promise.all([dashboardRefund(yearly.id, 20880), voidInvoice(db.sql, open.id)]);
      return { balance: await balance(workspaceId), notes: await notes(yearly.id), reconciled: await reconciled(workspaceId) };
    }));
    for (const run of runs) {
      expect(run).toEqual({ balance: 0, notes: [{ source: 'provider', amount_cents: 20880, taken: 7569, owed: 2900 }], reconciled: 0 });
    }
  });
});
