import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities/index.js';
import { applyDisputeEvent } from '../../billing/disputes.js';
import { clawbackTarget } from '../../domain/billing/invoice-grants.js';
import { refreshAt, refreshLotExpiry } from '../../domain/calendar.js';
import { grantLot } from '../../ledger/credits.js';
import { clawBackForRefund } from '../../ledger/invoice-clawback.js';
import { settleLateRefresh } from '../../ledger/late-refresh.js';
import { createSandboxProvider } from '../../payments/sandbox.js';
import { freshDatabase } from '../helpers/database.js';
import { clockWorkspace, finish, hold, lotEntries, lotRow, paidPeriod, setClock } from '../helpers/invoice-fixtures.js';

/**
 * SPEC §10 Clawback for a yearly invoice refunded in part, on real Postgres through the grant activity (grantLot,
 * then ledger/late-refresh.ts as the workflow's activity runs it): N counts the credits granted so far, so the
 * refund takes ceil(N × R / T) of the lots granted by then and each later refresh gives the difference as it is
 * granted; a second refund, a partially lost dispute and retries take only differences; the order grant →
 * refund → settle (a refund committing between the grant and its settlement) takes nothing twice.
 */
describe('a yearly invoice refunded in part: its later refreshes give their share', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let activities: ReturnType<typeof createActivities>;
  const t0 = new Date('2046-01-01T00:00:00Z');
  const DAY = 86_400_000;
  beforeAll(async () => {
    db = await freshDatabase();
    activities = createActivities({ sql: db.sql, payments: createSandboxProvider({ publicUrl: 'http://localhost:1', sql: db.sql }) });
  });
  afterAll(async () => db?.drop());

  /** A workspace on a clock with a paid yearly invoice of `plan` anchored at t0 and no lot granted yet. */
  async function yearly(plan: 'plus' | 'max') {
    const { workspaceId, clockId } = await clockWorkspace(db.sql, t0);
    const { invoice, cycleKey } = await paidPeriod(db.sql, workspaceId, { plan, interval: 'year', anchor: t0, granted: 0 });
    const credits = plan === 'plus' ? 150 : 400;
    const at = (i: number) => new Date(refreshAt(t0.getTime(), 'year', i));
    /** Refresh i as the workflow grants it (clock at its instant, the grant activity, which settles it). */
    const refresh = async (i: number) => {
      await setClock(db.sql, clockId, at(i));
      return (await activities.grantLot({
        key: `${cycleKey}:refresh:${i}:grant`, workspaceId, source: 'monthly', credits, grantedAt: at(i).getTime(),
        expiresAt: refreshLotExpiry(t0.getTime(), 'year', i),
      })).lotId;
    };
    const clawedBack = async () => {
      const [row] = await db.sql<{ credits: number }[]>`
        SELECT coalesce(sum(-remaining_delta), 0)::int AS credits FROM ledger_entries WHERE workspace_id = ${workspaceId} AND kind = 'clawback'`;
      return row!.credits;
    };
    const recorded = async () => (await db.sql<{ refunded_cents: number; target: number }[]>`
      SELECT refunded_cents, target FROM invoice_clawbacks WHERE invoice_id = ${invoice.id}`)[0];
    const remaining = async () => Number((await db.sql`SELECT coalesce(sum(remaining), 0)::int AS n FROM lots WHERE workspace_id = ${workspaceId}`)[0]!.n);
    return { workspaceId, clockId, invoice, cycleKey, credits, at, refresh, clawedBack, recorded, remaining, total: Number(invoice.total_cents) };
  }

  it('Plus yearly 8640, 2000 refunded in month 1, 5000 in all in month 2: ceil(N × R / T) after every refresh, 1042 over the year', async () => {
    const y = await yearly('plus');
    const lots = [await y.refresh(0)];
    await finish(db.sql, y.workspaceId, await hold(db.sql, y.workspaceId, 40), 40);
    await setClock(db.sql, y.clockId, new Date(t0.getTime() + 9 * DAY));
    expect(await clawBackForRefund(db.sql, { key: 'r1', invoiceId: y.invoice.id, refundedCentsTotal: 2000, at: new Date(t0.getTime() + 9 * DAY) }))
      .toEqual({ clawedBack: 35, pending: 0, shortfall: 0 });
    expect(await y.recorded()).toEqual({ refunded_cents: 2000, target: 35 });

    lots.push(await y.refresh(1));
    // ceil(300 × 2000 / 8640) = 70: the refresh gives 35, once (the activity's retry changes nothing).
    expect((await lotRow(db.sql, lots[1]!)).remaining).toBe(115);
    expect(await y.refresh(1)).toBe(lots[1]);
    expect((await lotEntries(db.sql, lots[1]!)).map((e) => [e.kind, e.amount, e.operation_key])).toEqual([
      ['grant', 150, `${y.cycleKey}:refresh:1:grant`], ['clawback', -35, `${y.invoice.id}:late-clawback:${y.cycleKey}:refresh:1:grant`],
    ]);
    expect([await y.clawedBack(), (await y.recorded())!.target]).toEqual([70, 70]);

    // The second refund: ceil(300 × 5000 / 8640) = 174, 104 more, from the lot expiring latest.
    const second = new Date(y.at(1).getTime() + 4 * DAY);
    await setClock(db.sql, y.clockId, second);
    expect(await clawBackForRefund(db.sql, { key: 'r2', invoiceId: y.invoice.id, refundedCentsTotal: 5000, at: second }))
      .toEqual({ clawedBack: 104, pending: 0, shortfall: 0 });
    expect(await Promise.all(lots.map(async (id) => (await lotRow(db.sql, id)).remaining))).toEqual([75, 11]);

    for (let i = 2; i < 12; i++) {
      const lotId = await y.refresh(i);
      const due = clawbackTarget(150 * (i + 1), 5000, 8640) - clawbackTarget(150 * i, 5000, 8640);
      expect((await lotRow(db.sql, lotId)).remaining).toBe(150 - due);
      expect(await y.clawedBack()).toBe(clawbackTarget(150 * (i + 1), 5000, 8640));
      expect((await y.recorded())!.target).toBe(clawbackTarget(150 * (i + 1), 5000, 8640));
    }
    expect(await y.clawedBack()).toBe(1042);
    // Granted − clawed back − spent is what the lots hold (none expired here: the test expires nothing).
    expect(await y.remaining()).toBe(1800 - 1042 - 40);
  });

  it('a refund committing between a refresh\'s grant and its settlement counts the lot itself: the settlement takes nothing more', async () => {
    const y = await yearly('max');
    await y.refresh(0);
    await clawBackForRefund(db.sql, { key: 'race-r1', invoiceId: y.invoice.id, refundedCentsTotal: 5000, at: y.at(0) });
    expect(await y.clawedBack()).toBe(96);
    await setClock(db.sql, y.clockId, y.at(1));
    const key = `${y.cycleKey}:refresh:1:grant`;
    const { lotId } = await grantLot(db.sql, { key, workspaceId: y.workspaceId, source: 'monthly', amount: 400, grantedAt: y.at(1), expiresAt: new Date(refreshLotExpiry(t0.getTime(), 'year', 1)) });
    // The refund's N counts both lots: ceil(800 × 8000 / 20880) = 307, 211 more (lot 1 expires latest).
    expect(await clawBackForRefund(db.sql, { key: 'race-r2', invoiceId: y.invoice.id, refundedCentsTotal: 8000, at: y.at(1) }))
      .toEqual({ clawedBack: 211, pending: 0, shortfall: 0 });
    expect(await settleLateRefresh(db.sql, { workspaceId: y.workspaceId, grantKey: key, lotId, credits: 400, at: y.at(1) })).toEqual({ clawedBack: 0, frozen: 0 });
    expect([await y.clawedBack(), (await y.recorded())!.target]).toEqual([307, 307]);
    // The next refresh gives ceil(1200 × 8000 / 20880) − 307 = 153.
    expect((await lotRow(db.sql, await y.refresh(2))).remaining).toBe(400 - 153);
    expect(await y.clawedBack()).toBe(460);
  });

  let events = 0;
  const dispute = (invoiceId: string, disputeId: string, status: string, amountCents: number) =>
    applyDisputeEvent({ sql: db.sql }, { id: `evt_yp_${(events += 1)}`, created: events, invoiceId, dispute: { id: disputeId, status, amountCents } });

  it('Max yearly 20880 disputed for 6264 (30%) in month 1 and lost: 120 of the first lot, then 120 of each refresh; duplicates change nothing', async () => {
    const y = await yearly('max');
    const first = await y.refresh(0);
    await dispute(y.invoice.id, 'dp_yp_lost', 'needs_response', 6264);
    expect((await lotRow(db.sql, first)).dispute_freeze_key).toBe('dispute:dp_yp_lost:freeze');
    await dispute(y.invoice.id, 'dp_yp_lost', 'lost', 6264);
    expect(await lotRow(db.sql, first)).toMatchObject({ remaining: 280, dispute_freeze_key: null });
    const [note] = await db.sql`SELECT source, amount_cents::int, credits_clawed_back, shortfall FROM credit_notes WHERE invoice_id = ${y.invoice.id}`;
    expect(note).toEqual({ source: 'dispute_lost', amount_cents: 6264, credits_clawed_back: 120, shortfall: 0 });
    for (let i = 1; i < 4; i++) {
      const lotId = await y.refresh(i);
      expect(await lotRow(db.sql, lotId)).toMatchObject({ remaining: 280, dispute_freeze_key: null });
      expect([await y.clawedBack(), (await y.recorded())!.target]).toEqual([120 * (i + 1), 120 * (i + 1)]);
    }
    await dispute(y.invoice.id, 'dp_yp_lost', 'lost', 6264);
    expect(await y.refresh(3)).toBeGreaterThan(0);
    expect(await y.clawedBack()).toBe(480);
    // The note shows what the dispute's clawback took when it was applied; the refreshes' shares are theirs.
    expect((await db.sql`SELECT credits_clawed_back FROM credit_notes WHERE invoice_id = ${y.invoice.id}`).map((n) => n.credits_clawed_back)).toEqual([120]);
  });

  it('refunded in part, then disputed: a refresh granted during the dispute gives its share, the rest arrives frozen', async () => {
    const y = await yearly('plus');
    await y.refresh(0);
    await clawBackForRefund(db.sql, { key: 'open-r1', invoiceId: y.invoice.id, refundedCentsTotal: 2000, at: y.at(0) });
    await dispute(y.invoice.id, 'dp_yp_open', 'needs_response', 6640);
    const lotId = await y.refresh(1);
    expect(await lotRow(db.sql, lotId)).toMatchObject({ remaining: 115, dispute_freeze_key: 'dispute:dp_yp_open:freeze' });
    expect((await lotEntries(db.sql, lotId)).map((e) => [e.kind, e.amount])).toEqual([['grant', 150], ['clawback', -35], ['freeze', -115]]);
    await dispute(y.invoice.id, 'dp_yp_open', 'won', 6640);
    expect(await lotRow(db.sql, lotId)).toMatchObject({ remaining: 115, dispute_freeze_key: null });
    expect(await y.clawedBack()).toBe(70);
  });
});
