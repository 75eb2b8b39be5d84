/**
 * Paid invoices and the lots they granted, made through the ledger's own functions (draftInvoice,
 * markInvoice, grantLot with the grant keys domain/billing/invoice-grants.ts names), for the refund and
 * dispute tests. Spending goes through the real hold and capture (ledger_hold, ledger_end).
 */
import { periodBounds, refreshLotExpiry } from '../../domain/calendar.js';
import { type Interval, planById } from '../../domain/catalog.js';
import { periodLine } from '../../domain/lifecycle/effects.js';
import { grantLot } from '../../ledger/credits.js';
import type { Sql } from '../../ledger/db.js';
import { draftInvoice, type InvoiceRow, markInvoice } from '../../ledger/invoices.js';
import { createQuote, endCreation, holdForQuote } from '../../ledger/spend.js';
import { createTestClock } from '../../ledger/test-clocks.js';
import { createWorkspace } from '../../ledger/workspaces.js';

/** A workspace on its own test clock at `at`, with an active subscription. */
export async function clockWorkspace(sql: Sql, at: Date): Promise<{ workspaceId: string; clockId: string }> {
  const clock = await createTestClock(sql, at);
  const ws = await createWorkspace(sql, { name: 'refunds', testClockId: clock.id });
  // A live subscription (its projection row): packs granted without one arrive frozen.
  await sql`INSERT INTO subscriptions (id, workspace_id, plan, interval, status, current_period_start, current_period_end)
            VALUES (${`sub_${ws.id}`}, ${ws.id}, 'plus', 'month', 'active', ${at}, ${new Date(at.getTime() + 30 * 86_400_000)})`;
  return { workspaceId: ws.id, clockId: clock.id };
}

export async function setClock(sql: Sql, clockId: string, at: Date): Promise<void> {
  await sql`UPDATE test_clocks SET frozen_time = ${at} WHERE id = ${clockId}`;
}

async function paidInvoice(sql: Sql, inv: Parameters<typeof draftInvoice>[1]): Promise<InvoiceRow> {
  const draft = await draftInvoice(sql, inv);
  return markInvoice(sql, draft.id, { status: 'paid', paidAt: inv.createdAt });
}

/** A paid pack invoice of `totalCents` and its never-expiring lot of `credits` (billing/packs.ts deliverPack's key). */
export async function paidPack(sql: Sql, workspaceId: string, at: Date, credits = 100, totalCents = 1000, tag = ''): Promise<{ invoice: InvoiceRow; lotId: number }> {
  const invoice = await paidInvoice(sql, {
    businessKey: `pack:${workspaceId}:${tag}${at.getTime()}:${Math.random()}`, workspaceId, subscriptionId: null, kind: 'pack',
    lines: [{ description: `${credits} credit pack`, amount_cents: totalCents }], createdAt: at, metadata: { pack_credits: credits },
  });
  const { lotId } = await grantLot(sql, { key: `${invoice.id}:pack`, workspaceId, source: 'pack', amount: credits, grantedAt: at, expiresAt: null });
  return { invoice, lotId };
}

/**
 * A paid period invoice of the lifecycle (`<sub>:c0:<anchor>:period:<p>:subscription`, its period line) and the
 * refresh lots of its period granted so far (`granted` of them, as the lifecycle grants them).
 */
export async function paidPeriod(
  sql: Sql, workspaceId: string, opts: { plan: string; interval: Interval; anchor: Date; period?: number; granted: number },
): Promise<{ invoice: InvoiceRow; lotIds: number[]; cycleKey: string }> {
  const anchor = opts.anchor.getTime();
  const period = opts.period ?? 0;
  const cycleKey = `sub_${workspaceId}:c0:${anchor}`;
  const { start, end } = periodBounds(anchor, opts.interval, period);
  const invoice = await paidInvoice(sql, {
    businessKey: `${cycleKey}:period:${period}:subscription`, workspaceId, subscriptionId: null, kind: 'subscription',
    lines: [periodLine(opts.plan, opts.interval, start, end)], createdAt: new Date(start),
  });
  const perPeriod = opts.interval === 'month' ? 1 : 12;
  const lotIds: number[] = [];
  for (let j = 0; j < opts.granted; j++) {
    const index = period * perPeriod + j;
    const grantedAt = new Date(start + j * 30 * 86_400_000);
    const { lotId } = await grantLot(sql, {
      key: `${cycleKey}:refresh:${index}:grant`, workspaceId, source: 'monthly', amount: planById(opts.plan).monthlyCredits,
      grantedAt, expiresAt: new Date(refreshLotExpiry(anchor, opts.interval, index)),
    });
    lotIds.push(lotId);
  }
  return { invoice, lotIds, cycleKey };
}

/** Holds `credits` through the real spend path; returns the creation's id. */
export async function hold(sql: Sql, workspaceId: string, credits: number): Promise<string> {
  const quote = await createQuote(sql, workspaceId, { model: 'test' }, credits);
  return (await holdForQuote(sql, workspaceId, quote.quote_id)).creation.id;
}

/** Ends a held creation: captures `captured` credits (0: a failure, everything released). */
export async function finish(sql: Sql, workspaceId: string, creationId: string, captured: number): Promise<void> {
  await endCreation(sql, workspaceId, creationId, captured > 0 ? { status: 'succeeded', reported: captured } : { status: 'failed' });
}

export async function lotRow(sql: Sql, lotId: number): Promise<{ remaining: number; held: number; clawback_pending: number; frozen: boolean; dispute_freeze_key: string | null }> {
  const [row] = await sql<{ remaining: number; held: number; clawback_pending: number; frozen: boolean; dispute_freeze_key: string | null }[]>`
    SELECT remaining, held, clawback_pending, frozen, dispute_freeze_key FROM lots WHERE id = ${lotId}`;
  return row!;
}

/** Journal entries of one lot: kind, deltas, amount and operation key, in order. */
export async function lotEntries(sql: Sql, lotId: number): Promise<{ kind: string; remaining_delta: number; held_delta: number; amount: number; operation_key: string }[]> {
  return sql`SELECT kind, remaining_delta, held_delta, amount, operation_key FROM ledger_entries WHERE lot_id = ${lotId} ORDER BY id`;
}
