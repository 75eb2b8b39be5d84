import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities/index.js';
import { applyDisputeEvent } from '../../billing/disputes.js';
import { periodBounds } from '../../domain/calendar.js';
import { periodLine } from '../../domain/lifecycle/effects.js';
import { getBalance } from '../../ledger/credits.js';
import { draftInvoice, markInvoice } from '../../ledger/invoices.js';
import { createSandboxProvider } from '../../payments/sandbox.js';
import { freshDatabase } from '../helpers/database.js';
import { clockWorkspace, lotEntries, lotRow } from '../helpers/invoice-fixtures.js';

/**
 * SPEC §10, regression of the breaker's dispute-before-grant race, made deterministic by ordering the calls: the
 * invoice is paid, its dispute's events are applied (billing/disputes.ts applyDisputeEvent, as the inbox does),
 * and only then does the workflow's grantLot activity grant the lot the invoice paid for (an upgrade's top-up, a
 * month's refresh). The late lot follows the dispute as if it had been there: frozen with the dispute's own
 * freeze key while it is open (thawed when won, clawed back when lost), clawed back when the dispute was already
 * lost (in full or in part), left alone when it was already won.
 */
describe('a dispute applied before its invoice\'s lot is granted', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let activities: ReturnType<typeof createActivities>;
  const t0 = new Date('2046-01-01T00:00:00Z');
  const at = new Date('2046-01-11T00:00:00Z');
  const expiresAt = new Date('2046-02-01T00:00:00Z').getTime();
  beforeAll(async () => {
    db = await freshDatabase();
    activities = createActivities({ sql: db.sql, payments: createSandboxProvider({ publicUrl: 'http://localhost:1', sql: db.sql }) });
  });
  afterAll(async () => db?.drop());

  /** A paid upgrade invoice (Plus → Max monthly on 01-11, 1133 cents) and the key of the top-up lot it pays for. */
  async function paidUpgrade(workspaceId: string) {
    const cycle = `sub_${workspaceId}:c0:${t0.getTime()}`;
    const draft = await draftInvoice(db.sql, {
      businessKey: `${cycle}:change:1:upgrade:max:month:${at.getTime()}`, workspaceId, subscriptionId: null, kind: 'upgrade', createdAt: at,
      lines: [{ description: 'Unused time on Plus (monthly)', amount_cents: -800 }, { description: 'Remaining time on Max (monthly)', amount_cents: 1933 }],
    });
    const invoice = await markInvoice(db.sql, draft.id, { status: 'paid', paidAt: at });
    return { invoice, grantKey: `${cycle}:upgrade:max:${at.getTime()}`, source: 'upgrade' as const, credits: 166 };
  }

  /** A paid Max monthly period invoice (2900 cents; `balanceCents` of it from the customer balance) and its refresh's key. */
  async function paidMonth(workspaceId: string, balanceCents = 0) {
    const cycle = `sub_${workspaceId}:c0:${t0.getTime()}`;
    const { start, end } = periodBounds(t0.getTime(), 'month', 0);
    await db.sql`UPDATE workspaces SET customer_balance_cents = ${balanceCents} WHERE id = ${workspaceId}`;
    const draft = await draftInvoice(db.sql, {
      businessKey: `${cycle}:period:0:subscription`, workspaceId, subscriptionId: null, kind: 'subscription', createdAt: t0,
      lines: [periodLine('max', 'month', start, end)],
    });
    const invoice = await markInvoice(db.sql, draft.id, { status: 'paid', paidAt: t0 });
    return { invoice, grantKey: `${cycle}:refresh:0:grant`, source: 'monthly' as const, credits: 400 };
  }

  let events = 0;
  const dispute = (invoiceId: string, disputeId: string, status: string, amountCents: number) =>
    applyDisputeEvent({ sql: db.sql }, { id: `evt_${(events += 1)}`, created: events, invoiceId, dispute: { id: disputeId, status, amountCents } });
  const grant = (workspaceId: string, paid: { grantKey: string; source: 'upgrade' | 'monthly'; credits: number }, when: Date) =>
    activities.grantLot({ key: paid.grantKey, workspaceId, source: paid.source, credits: paid.credits, grantedAt: when.getTime(), expiresAt });
  const available = async (workspaceId: string) => (await getBalance(db.sql, workspaceId)).available;

  it('open, then the upgrade lot: granted frozen with the dispute\'s key; won, it thaws', async () => {
    const { workspaceId } = await clockWorkspace(db.sql, at);
    const paid = await paidUpgrade(workspaceId);
    await dispute(paid.invoice.id, 'dp_open_upgrade', 'needs_response', 1133);
    const { lotId } = await grant(workspaceId, paid, at);
    expect(await lotRow(db.sql, lotId)).toMatchObject({ remaining: 166, dispute_freeze_key: 'dispute:dp_open_upgrade:freeze' });
    expect(await available(workspaceId)).toBe(0);
    await dispute(paid.invoice.id, 'dp_open_upgrade', 'won', 1133);
    expect(await lotRow(db.sql, lotId)).toMatchObject({ remaining: 166, dispute_freeze_key: null });
    expect(await available(workspaceId)).toBe(166);
    expect((await lotEntries(db.sql, lotId)).map((e) => [e.kind, e.amount])).toEqual([['grant', 166], ['freeze', -166], ['thaw', 166]]);
  });

  it('open, then the month\'s refresh: granted frozen; lost, clawed back whole and nothing thaws', async () => {
    const { workspaceId } = await clockWorkspace(db.sql, t0);
    const paid = await paidMonth(workspaceId);
    await dispute(paid.invoice.id, 'dp_open_month', 'needs_response', 2900);
    const { lotId } = await grant(workspaceId, paid, t0);
    expect(await lotRow(db.sql, lotId)).toMatchObject({ remaining: 400, dispute_freeze_key: 'dispute:dp_open_month:freeze' });
    await dispute(paid.invoice.id, 'dp_open_month', 'lost', 2900);
    expect(await lotRow(db.sql, lotId)).toMatchObject({ remaining: 0, dispute_freeze_key: null });
    expect(await available(workspaceId)).toBe(0);
    const [note] = await db.sql`SELECT amount_cents::int, credits_clawed_back FROM credit_notes WHERE invoice_id = ${paid.invoice.id}`;
    expect(note).toMatchObject({ amount_cents: 2900, credits_clawed_back: 400 });
  });

  it('lost in full before the upgrade lot: the lot is clawed back whole as it is granted', async () => {
    const { workspaceId } = await clockWorkspace(db.sql, at);
    const paid = await paidUpgrade(workspaceId);
    await dispute(paid.invoice.id, 'dp_lost_upgrade', 'needs_response', 1133);
    await dispute(paid.invoice.id, 'dp_lost_upgrade', 'lost', 1133);
    const { lotId } = await grant(workspaceId, paid, at);
    expect(await lotRow(db.sql, lotId)).toMatchObject({ remaining: 0, dispute_freeze_key: null });
    expect(await available(workspaceId)).toBe(0);
  });

  it('lost in part before the month\'s refresh (900 of 2900 paid from the balance): ceil(400 × 2000 / 2900) = 276 clawed back, once', async () => {
    const { workspaceId } = await clockWorkspace(db.sql, t0);
    const paid = await paidMonth(workspaceId, 900);
    expect([paid.invoice.total_cents, paid.invoice.amount_due_cents].map(Number)).toEqual([2900, 2000]);
    await dispute(paid.invoice.id, 'dp_lost_part', 'needs_response', 2000);
    await dispute(paid.invoice.id, 'dp_lost_part', 'lost', 2000);
    const [note] = await db.sql`SELECT amount_cents::int FROM credit_notes WHERE invoice_id = ${paid.invoice.id}`;
    expect(note!.amount_cents).toBe(2000);
    const { lotId } = await grant(workspaceId, paid, t0);
    expect(await lotRow(db.sql, lotId)).toMatchObject({ remaining: 124, dispute_freeze_key: null });
    expect(await available(workspaceId)).toBe(124);
    // The activity's retry (same grant key) and a duplicate of the lost event change nothing more.
    expect((await grant(workspaceId, paid, t0)).lotId).toBe(lotId);
    await dispute(paid.invoice.id, 'dp_lost_part', 'lost', 2000);
    expect(await lotRow(db.sql, lotId)).toMatchObject({ remaining: 124 });
    expect((await lotEntries(db.sql, lotId)).map((e) => [e.kind, e.amount, e.operation_key]))
      .toEqual([['grant', 400, paid.grantKey], ['clawback', -276, `${paid.invoice.id}:late-clawback:${paid.grantKey}`]]);
    // The invoice's clawback target now counts this lot: a later refund would take only the difference.
    const [clawback] = await db.sql`SELECT refunded_cents::int, target FROM invoice_clawbacks WHERE invoice_id = ${paid.invoice.id}`;
    expect(clawback).toMatchObject({ refunded_cents: 2000, target: 276 });
  });

  it('won before the grant: the lot is neither frozen nor clawed back', async () => {
    const { workspaceId } = await clockWorkspace(db.sql, at);
    const paid = await paidUpgrade(workspaceId);
    await dispute(paid.invoice.id, 'dp_won_upgrade', 'needs_response', 1133);
    await dispute(paid.invoice.id, 'dp_won_upgrade', 'won', 1133);
    const { lotId } = await grant(workspaceId, paid, at);
    expect(await lotRow(db.sql, lotId)).toMatchObject({ remaining: 166, dispute_freeze_key: null });
    expect(await available(workspaceId)).toBe(166);
    expect((await lotEntries(db.sql, lotId)).map((e) => e.kind)).toEqual(['grant']);
  });
});
