import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyDisputeEvent } from '../../billing/disputes.js';
import { applyProviderRefund, refundInvoice } from '../../billing/refunds.js';
import { Refusal } from '../../domain/refusals.js';
import { draftInvoice, type InvoiceRow, markInvoice, voidInvoice } from '../../ledger/invoices.js';
import { createSandboxProvider } from '../../payments/sandbox.js';
import { freshDatabase } from '../helpers/database.js';
import { clockWorkspace, paidPack } from '../helpers/invoice-fixtures.js';

const JAN_1 = new Date(Date.UTC(2026, 0, 1));
const JUL_2 = new Date(Date.UTC(2026, 6, 2));

/**
 * Review: today's lock order (draftInvoice: credited invoices FOR SHARE, then the workspace row; refunds: the
 * invoice FOR UPDATE, then the workspace; take-backs and owed settlements: the workspace; voids: the voided
 * invoice, then the workspace) run at the same time against real Postgres. Max yearly 20880 paid 01-01, switch
 * to monthly on 07-02 (−10469 + 2900, balance 7569), a pack paid from the balance (1000) and one open for 3-D
 * Secure holding 5000. Then at once: a dashboard refund of the whole charge, an operator refund of 5000 of the
 * yearly invoice, the void of the open pack, a full refund of the balance-paid pack, and the draft of an upgrade
 * crediting the switched month (−1450 + 2950). Checked: no deadlock or other error (refusals are answers), the
 * customer balance never negative, 0 while anything is owed, equal to the README reconciliation, and the yearly
 * invoice's notes + the credits of its time not taken back ≤ 20880.
 */
describe('review: concurrent refunds, dashboard refunds, voids and a change draft of one workspace', () => {
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
  async function world() {
    const { workspaceId, clockId } = await clockWorkspace(db.sql, JAN_1);
    const subscriptionId = `sub_${workspaceId}`;
    const yearly = await paid({ businessKey: `${subscriptionId}:yearly`, workspaceId, subscriptionId, kind: 'subscription', createdAt: JAN_1,
      lines: [{ description: 'Max (yearly)', amount_cents: 20880 }] });
    await db.sql`UPDATE test_clocks SET frozen_time = ${JUL_2} WHERE id = ${clockId}`;
    await paid({ businessKey: `${subscriptionId}:switch`, workspaceId, subscriptionId, kind: 'interval_switch', createdAt: JUL_2,
      lines: [{ description: 'Unused time on Max (yearly)', amount_cents: -10469 }, { description: 'Max (monthly)', amount_cents: 2900 }] });
    const { invoice: pack } = await paidPack(db.sql, workspaceId, JUL_2, 100, 1000, 'paid-from-balance');
    const open = await paid({ businessKey: `pack-3ds:${workspaceId}`, workspaceId, subscriptionId: null, kind: 'pack', createdAt: JUL_2,
      lines: [{ description: '500 credit pack', amount_cents: 5000 }], metadata: { pack_credits: 500 } }, 'open');
    return { workspaceId, subscriptionId, yearly, pack, open };
  }
  const answer = (p: Promise<unknown>) => p.then(() => 'ok', (e: unknown) => (e instanceof Refusal ? e.code : Promise.reject(e)));

  async function state(workspaceId: string, yearlyId: string) {
    const [ws] = await db.sql<{ balance: number }[]>`SELECT customer_balance_cents::int AS balance FROM workspaces WHERE id = ${workspaceId}`;
    const [rec] = await db.sql<{ cents: number }[]>`
      SELECT ((SELECT coalesce(sum(CASE WHEN total_cents < 0 THEN -total_cents ELSE -balance_applied_cents END), 0) FROM invoices
               WHERE workspace_id = ${workspaceId} AND status <> 'void')
            + (SELECT coalesce(sum(credited_to_balance_cents - balance_taken_back_cents), 0) FROM credit_notes WHERE workspace_id = ${workspaceId}))::int AS cents`;
    const [owed] = await db.sql<{ cents: number }[]>`SELECT coalesce(sum(balance_shortfall_cents), 0)::int AS cents FROM credit_notes WHERE workspace_id = ${workspaceId}`;
    const [y] = await db.sql<{ notes: number; taken: number }[]>`
      SELECT coalesce(sum(amount_cents), 0)::int AS notes, coalesce(sum(balance_taken_back_cents + balance_shortfall_cents), 0)::int AS taken
      FROM credit_notes WHERE invoice_id = ${yearlyId}`;
    return { balance: ws!.balance, reconciled: rec!.cents, owed: owed!.cents, yearlyNotes: y!.notes, yearlyTakenOrOwed: y!.taken };
  }

  it('eight workspaces, five operations each at once: no deadlock, balance conserved and never negative', async () => {
    const worlds = await Promise.all(Array.from({ length: 8 }, () => world()));
    const outcomes = await Promise.all(worlds.map(async (w) => {
      const ops = await Promise.all([
        answer(applyProviderRefund({ sql: db.sql, payments: sandbox }, { invoiceId: w.yearly.id, amountRefundedCents: 20880 })),
        answer(refundInvoice({ sql: db.sql, payments: sandbox }, { invoiceId: w.yearly.id, amountCents: 5000, reason: 'review' })),
        answer(voidInvoice(db.sql, w.open.id)),
        answer(refundInvoice({ sql: db.sql, payments: sandbox }, { invoiceId: w.pack.id, reason: 'review' })),
        answer(draftInvoice(db.sql, { businessKey: `${w.subscriptionId}:upgrade`, workspaceId: w.workspaceId, subscriptionId: w.subscriptionId, kind: 'upgrade', createdAt: JUL_2,
          lines: [{ description: 'Unused time on Max (monthly)', amount_cents: -1450 }, { description: 'Remaining time on Generative (monthly)', amount_cents: 2950 }] })),
      ]);
      return { ops, state: await state(w.workspaceId, w.yearly.id) };
    }));
    for (const { ops, state: s } of outcomes) {
      expect(ops.filter((o) => o !== 'ok' && o !== 'refund_exceeds_paid')).toEqual([]);
      expect(s.balance).toBeGreaterThanOrEqual(0);
      if (s.owed > 0) expect(s.balance).toBe(0);
      expect(s.reconciled).toBe(s.balance);
      // The yearly's own payment given back: its notes + what the switch credited of it (10469) − taken back ≤ 20880.
      expect(s.yearlyNotes + 10469 - s.yearlyTakenOrOwed).toBeLessThanOrEqual(20880);
    }
  });

  it('a dispute of the whole yearly charge lost while the open pack is voided, a pack refunded and a change drafted: 10469 taken back or owed in every order', async () => {
    const worlds = await Promise.all(Array.from({ length: 8 }, () => world()));
    const outcomes = await Promise.all(worlds.map(async (w) => {
      const dispute = (status: string, n: number) => applyDisputeEvent({ sql: db.sql }, {
        id: `evt_${w.yearly.id}_${n}`, created: n, invoiceId: w.yearly.id, dispute: { id: `dp_${w.yearly.id}`, status, amountCents: 20880 } });
      const ops = await Promise.all([
        answer(dispute('needs_response', 1).then(() => dispute('lost', 2))),
        answer(voidInvoice(db.sql, w.open.id)),
        answer(refundInvoice({ sql: db.sql, payments: sandbox }, { invoiceId: w.pack.id, reason: 'review' })),
        answer(draftInvoice(db.sql, { businessKey: `${w.subscriptionId}:upgrade`, workspaceId: w.workspaceId, subscriptionId: w.subscriptionId, kind: 'upgrade', createdAt: JUL_2,
          lines: [{ description: 'Unused time on Max (monthly)', amount_cents: -1450 }, { description: 'Remaining time on Generative (monthly)', amount_cents: 2950 }] })),
      ]);
      return { ops, state: await state(w.workspaceId, w.yearly.id) };
    }));
    for (const { ops, state: s } of outcomes) {
      expect(ops).toEqual(['ok', 'ok', 'ok', 'ok']);
      expect(s.balance).toBeGreaterThanOrEqual(0);
      if (s.owed > 0) expect(s.balance).toBe(0);
      expect(s.reconciled).toBe(s.balance);
      // The switch's 1450-credited month is moved-in money: the yearly's own credit stays 10469, all returned again.
      expect([s.yearlyNotes, s.yearlyTakenOrOwed]).toEqual([20880, 10469]);
    }
  });

  it('two dashboard refunds owing, then a void and a pack refund at once: settled oldest note first, 2900 still owed, balance 0', async () => {
    const worlds = await Promise.all(Array.from({ length: 6 }, () => world()));
    for (const w of worlds) {
      // Balance 7569 − 1000 (pack) − 5000 (open pack) = 1569 when Stripe reports 15000, then 20880 refunded.
      await applyProviderRefund({ sql: db.sql, payments: sandbox }, { invoiceId: w.yearly.id, amountRefundedCents: 15000 });
      await applyProviderRefund({ sql: db.sql, payments: sandbox }, { invoiceId: w.yearly.id, amountRefundedCents: 20880 });
    }
    const notesOf = (invoiceId: string) => db.sql<{ amount: number; taken: number; owed: number }[]>`
      SELECT amount_cents::int AS amount, balance_taken_back_cents::int AS taken, balance_shortfall_cents::int AS owed
      FROM credit_notes WHERE invoice_id = ${invoiceId} ORDER BY seq`;
    // 15000 + 10469 − 20880 = 4589 owed by the first (1569 found), 5880 by the second (the credit's rest).
    expect(await notesOf(worlds[0]!.yearly.id)).toEqual([{ amount: 15000, taken: 1569, owed: 3020 }, { amount: 5880, taken: 0, owed: 5880 }]);
    await Promise.all(worlds.flatMap((w) => [
      voidInvoice(db.sql, w.open.id),
      refundInvoice({ sql: db.sql, payments: sandbox }, { invoiceId: w.pack.id, reason: 'review' }),
    ]));
    for (const w of worlds) {
      expect(await notesOf(w.yearly.id)).toEqual([{ amount: 15000, taken: 4589, owed: 0 }, { amount: 5880, taken: 2980, owed: 2900 }]);
      const s = await state(w.workspaceId, w.yearly.id);
      expect(s).toMatchObject({ balance: 0, reconciled: 0, owed: 2900, yearlyNotes: 20880, yearlyTakenOrOwed: 10469 });
    }
  });
});
