import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyDisputeEvent } from '../../billing/disputes.js';
import { applyProviderRefund } from '../../billing/refunds.js';
import { insertCreditNote } from '../../ledger/credit-notes.js';
import { draftInvoice, type InvoiceRow, markInvoice } from '../../ledger/invoices.js';
import { takeBackChangeCredit } from '../../ledger/lost-dispute-takeback.js';
import { createSandboxProvider } from '../../payments/sandbox.js';
import { freshDatabase } from '../helpers/database.js';
import { clockWorkspace } from '../helpers/invoice-fixtures.js';

const JAN_1 = new Date(Date.UTC(2026, 0, 1));
const JUL_2 = new Date(Date.UTC(2026, 6, 2));

/**
 * Review: README "A dispute lost, or a refund made at the provider, after a change". Max yearly 20880 (01-01), switch
 * to monthly on 07-02 (−10469 + 2900: balance 7569). Stripe reports 15000 refunded, then 20880 (two dashboard
 * refunds), or a dispute of 5880 is lost beside a dashboard refund of 15000. The take-backs must sum to the switch's
 * credit, 10469 (notes 20880 + credit 10469 − total 20880), however the notes' recording and completion interleave.
 * A note's take-back used to read every note of the invoice, later ones too, so when the second note was recorded
 * before the first one's take-back ran (the two events processed at once, or the first left pending by a crash and
 * completed later), the first counted the second's amount as well (16349). Now every figure is as of the note
 * (ledger/lost-dispute-takeback.ts, takebackAsOfNote: notes with seq up to it, the credit as it stood before it).
 */
describe('review: two bank-side notes of one invoice recorded before the first take-back ran', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let sandbox: ReturnType<typeof createSandboxProvider>;
  beforeAll(async () => {
    db = await freshDatabase();
    sandbox = createSandboxProvider({ publicUrl: 'http://sandbox.test', sql: db.sql });
  });
  afterAll(async () => db?.drop());

  async function paid(inv: Parameters<typeof draftInvoice>[1]): Promise<InvoiceRow> {
    const d = await draftInvoice(db.sql, inv);
    return markInvoice(db.sql, d.id, { status: 'paid', paidAt: inv.createdAt });
  }
  async function switched() {
    const { workspaceId, clockId } = await clockWorkspace(db.sql, JAN_1);
    const subscriptionId = `sub_${workspaceId}`;
    const yearly = await paid({ businessKey: `${subscriptionId}:yearly`, workspaceId, subscriptionId, kind: 'subscription', createdAt: JAN_1,
      lines: [{ description: 'Max (yearly)', amount_cents: 20880 }] });
    await db.sql`UPDATE test_clocks SET frozen_time = ${JUL_2} WHERE id = ${clockId}`;
    await paid({ businessKey: `${subscriptionId}:switch`, workspaceId, subscriptionId, kind: 'interval_switch', createdAt: JUL_2,
      lines: [{ description: 'Unused time on Max (yearly)', amount_cents: -10469 }, { description: 'Max (monthly)', amount_cents: 2900 }] });
    return { workspaceId, yearly };
  }
  const takenOrOwed = async (invoiceId: string) => Number((await db.sql<{ cents: number }[]>`
    SELECT coalesce(sum(balance_taken_back_cents + balance_shortfall_cents), 0)::int AS cents FROM credit_notes WHERE invoice_id = ${invoiceId}`)[0]!.cents);
  const dashboard = (invoiceId: string, amountRefundedCents: number) => applyProviderRefund({ sql: db.sql, payments: sandbox }, { invoiceId, amountRefundedCents });

  it('one after the other: 4589 + 5880 = 10469 (control)', async () => {
    const { yearly } = await switched();
    await dashboard(yearly.id, 15000);
    await dashboard(yearly.id, 20880);
    expect(await takenOrOwed(yearly.id)).toBe(10469);
  });

  it('the 15000 note left pending (a crash after its record), then the 20880 event: still 10469', async () => {
    const { workspaceId, yearly } = await switched();
    // What applyProviderRefund's first transaction records for amount_refunded 15000, before its completion.
    await db.sql.begin((tx) => insertCreditNote(tx, { businessKey: `${yearly.id}:provider-refund:15000`, invoiceId: yearly.id, workspaceId, amountCents: 15000,
      cardCents: 15000, balanceCents: 0, reason: 'refunded at the payment provider', requestedCents: null, source: 'provider', createdAt: JUL_2 }));
    await dashboard(yearly.id, 20880); // records 5880 and completes it, then completes the pending 15000
    expect(await takenOrOwed(yearly.id)).toBe(10469);
  });

  it('the two events processed at once (12 workspaces): 10469 each', async () => {
    const runs = await Promise.all(Array.from({ length: 12 }, async () => {
      const { yearly } = await switched();
      await Promise.all([dashboard(yearly.id, 15000), dashboard(yearly.id, 20880)]);
      return takenOrOwed(yearly.id);
    }));
    expect(runs).toEqual(runs.map(() => 10469));
  });
  it('a lost dispute\'s note (5880) left pending, a dashboard refund of 15000 completed, then the dispute\'s retry: 10469 (0 + 10469)', async () => {
    const { workspaceId, yearly } = await switched();
    // What creditLostDispute's first transaction records for a lost dispute of 5880, before its take-back (a crash).
    const [lost] = await db.sql.begin((tx) => [insertCreditNote(tx, { businessKey: `dispute:dp_${workspaceId}:lost`, invoiceId: yearly.id, workspaceId,
      amountCents: 5880, cardCents: 5880, balanceCents: 0, reason: 'dispute lost', requestedCents: null, source: 'dispute_lost', createdAt: JUL_2 })]);
    await dashboard(yearly.id, 15000); // as of its note: the credit before it (5880 noted: still 10469), 20880 returned
    expect(await takenOrOwed(yearly.id)).toBe(10469);
    expect(await takeBackChangeCredit(db.sql, lost!)).toEqual({ owedCents: 0, takenCents: 0, shortfallCents: 0 }); // as of 5880: nothing doubly paid
    expect(await takenOrOwed(yearly.id)).toBe(10469);
  });

  it('a lost dispute of 5880 and a dashboard refund of 15000 at once (8 workspaces): 10469 each, balance 0, the rest owed', async () => {
    const runs = await Promise.all(Array.from({ length: 8 }, async (_, n) => {
      const { workspaceId, yearly } = await switched();
      await Promise.all([
        dashboard(yearly.id, 15000),
        applyDisputeEvent({ sql: db.sql }, { id: `evt_lost_${workspaceId}`, created: 1_783_000_000 + n, invoiceId: yearly.id,
          dispute: { id: `dp_${workspaceId}`, status: 'lost', amountCents: 5880 } }),
      ]);
      const [ws] = await db.sql<{ balance: number }[]>`SELECT customer_balance_cents AS balance FROM workspaces WHERE id = ${workspaceId}`;
      const [notes] = await db.sql<{ cents: number; owed: number }[]>`
        SELECT sum(amount_cents)::int AS cents, sum(balance_shortfall_cents)::int AS owed FROM credit_notes WHERE invoice_id = ${yearly.id}`;
      return { takenOrOwed: await takenOrOwed(yearly.id), notes: notes!.cents, owed: notes!.owed, balance: Number(ws!.balance) };
    }));
    // 7569 of the balance taken back, 2900 still owed, whichever note completed first.
    expect(runs).toEqual(runs.map(() => ({ takenOrOwed: 10469, notes: 20880, owed: 2900, balance: 0 })));
  });
});
