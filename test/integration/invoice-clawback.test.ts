import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expireLot, getBalance, setPacksFrozen } from '../../ledger/credits.js';
import { clawBackForRefund, freezeForDispute, readRefundClawback, thawForDispute } from '../../ledger/invoice-clawback.js';
import { freshDatabase } from '../helpers/database.js';
import { clockWorkspace, finish, hold, lotEntries, lotRow, paidPack, paidPeriod, setClock } from '../helpers/invoice-fixtures.js';

/** SPEC §10 clawback and dispute freezes, against the real ledger functions and Postgres. */
describe('refund clawback and dispute freezes', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  const t0 = new Date('2044-03-01T00:00:00Z');
  beforeAll(async () => {
    db = await freshDatabase();
  });
  afterAll(async () => db?.drop());

  it('333 + 333 + 334 of 1000 on a 100-credit pack take 34, 33, 33, each journaled under its refund', async () => {
    const { workspaceId } = await clockWorkspace(db.sql, t0);
    const { invoice, lotId } = await paidPack(db.sql, workspaceId, t0);
    const first = await clawBackForRefund(db.sql, { key: 'r1', invoiceId: invoice.id, refundedCentsTotal: 333, at: t0 });
    const second = await clawBackForRefund(db.sql, { key: 'r2', invoiceId: invoice.id, refundedCentsTotal: 666, at: t0 });
    const third = await clawBackForRefund(db.sql, { key: 'r3', invoiceId: invoice.id, refundedCentsTotal: 1000, at: t0 });
    expect([first, second, third]).toEqual([
      { clawedBack: 34, pending: 0, shortfall: 0 }, { clawedBack: 33, pending: 0, shortfall: 0 }, { clawedBack: 33, pending: 0, shortfall: 0 },
    ]);
    expect((await lotRow(db.sql, lotId)).remaining).toBe(0);
    expect((await lotEntries(db.sql, lotId)).filter((e) => e.kind === 'clawback').map((e) => [e.remaining_delta, e.held_delta, e.amount, e.operation_key]))
      .toEqual([[-34, 0, -34, 'r1'], [-33, 0, -33, 'r2'], [-33, 0, -33, 'r3']]);
    expect((await getBalance(db.sql, workspaceId)).available).toBe(0);
  });

  it('only the refunded invoice\'s lots are touched; what was spent from them is shortfall, never taken elsewhere', async () => {
    const { workspaceId } = await clockWorkspace(db.sql, t0);
    const refunded = await paidPack(db.sql, workspaceId, t0);
    const other = await paidPack(db.sql, workspaceId, new Date(t0.getTime() + 1000));
    // 80 spent from the refunded pack (burn order: the older pack first).
    await finish(db.sql, workspaceId, await hold(db.sql, workspaceId, 80), 80);
    const result = await clawBackForRefund(db.sql, { key: 'spent-1', invoiceId: refunded.invoice.id, refundedCentsTotal: 1000, at: t0 });
    expect(result).toEqual({ clawedBack: 20, pending: 0, shortfall: 80 });
    expect((await lotRow(db.sql, refunded.lotId)).remaining).toBe(0);
    expect((await lotRow(db.sql, other.lotId)).remaining).toBe(100);
    expect((await getBalance(db.sql, workspaceId)).available).toBe(100);
  });

  it('a part held at the refund is taken when its hold is released (under the refund\'s key)', async () => {
    const { workspaceId } = await clockWorkspace(db.sql, t0);
    const { invoice, lotId } = await paidPack(db.sql, workspaceId, t0);
    const creation = await hold(db.sql, workspaceId, 60);
    expect(await clawBackForRefund(db.sql, { key: 'held-1', invoiceId: invoice.id, refundedCentsTotal: 1000, at: t0 }))
      .toEqual({ clawedBack: 40, pending: 60, shortfall: 0 });
    expect(await lotRow(db.sql, lotId)).toMatchObject({ remaining: 60, held: 60, clawback_pending: 60 });
    await finish(db.sql, workspaceId, creation, 0);
    expect(await lotRow(db.sql, lotId)).toMatchObject({ remaining: 0, held: 0, clawback_pending: 0 });
    const entries = await lotEntries(db.sql, lotId);
    expect(entries.slice(-2).map((e) => [e.kind, e.remaining_delta, e.held_delta, e.amount, e.operation_key]))
      .toEqual([['release', 0, -60, 60, `release:${creation}`], ['clawback', -60, 0, -60, 'held-1']]);
    expect(await readRefundClawback(db.sql, 'held-1')).toEqual({ clawedBack: 100, pending: 0, shortfall: 0 });
    expect((await getBalance(db.sql, workspaceId)).available).toBe(0);
  });

  it('a pending part that is captured becomes the refund\'s shortfall (readRefundClawback); the released rest is taken', async () => {
    const { workspaceId } = await clockWorkspace(db.sql, t0);
    const { invoice, lotId } = await paidPack(db.sql, workspaceId, t0);
    const creation = await hold(db.sql, workspaceId, 60);
    expect(await clawBackForRefund(db.sql, { key: 'cap-1', invoiceId: invoice.id, refundedCentsTotal: 1000, at: t0 }))
      .toEqual({ clawedBack: 40, pending: 60, shortfall: 0 });
    await finish(db.sql, workspaceId, creation, 45);
    expect(await lotRow(db.sql, lotId)).toMatchObject({ remaining: 0, held: 0, clawback_pending: 0 });
    expect(await readRefundClawback(db.sql, 'cap-1')).toEqual({ clawedBack: 55, pending: 0, shortfall: 45 });
    // The retried refund answers as it did, unchanged by what settled since.
    expect(await clawBackForRefund(db.sql, { key: 'cap-1', invoiceId: invoice.id, refundedCentsTotal: 1000, at: t0 }))
      .toEqual({ clawedBack: 40, pending: 60, shortfall: 0 });
  });

  it('a pending part only partly settled by a release stays pending on the rest of the hold', async () => {
    const { workspaceId } = await clockWorkspace(db.sql, t0);
    const { invoice, lotId } = await paidPack(db.sql, workspaceId, t0);
    const a = await hold(db.sql, workspaceId, 30);
    const b = await hold(db.sql, workspaceId, 50);
    // 20 unheld; the refund of half wants 50: 20 now, 30 pending on 80 held.
    expect(await clawBackForRefund(db.sql, { key: 'part-1', invoiceId: invoice.id, refundedCentsTotal: 500, at: t0 }))
      .toEqual({ clawedBack: 20, pending: 30, shortfall: 0 });
    await finish(db.sql, workspaceId, a, 20); // 10 released: taken
    expect(await lotRow(db.sql, lotId)).toMatchObject({ remaining: 50, held: 50, clawback_pending: 20 });
    await finish(db.sql, workspaceId, b, 50); // all captured: the other 20 are shortfall
    expect(await lotRow(db.sql, lotId)).toMatchObject({ remaining: 0, held: 0, clawback_pending: 0 });
    expect(await readRefundClawback(db.sql, 'part-1')).toEqual({ clawedBack: 30, pending: 0, shortfall: 20 });
  });

  it('credits that expired unused are not shortfall; a yearly invoice counts only the lots granted so far (each later refresh gives its share)', async () => {
    const { workspaceId, clockId } = await clockWorkspace(db.sql, t0);
    // Monthly Plus (150): 50 spent, the rest expires, then a full refund.
    const monthly = await paidPeriod(db.sql, workspaceId, { plan: 'plus', interval: 'month', anchor: t0, granted: 1 });
    await finish(db.sql, workspaceId, await hold(db.sql, workspaceId, 50), 50);
    const after = new Date('2044-05-01T00:00:00Z');
    await setClock(db.sql, clockId, after);
    await expireLot(db.sql, { workspaceId, lotId: monthly.lotIds[0]!, at: after });
    expect(await clawBackForRefund(db.sql, { key: 'exp-1', invoiceId: monthly.invoice.id, refundedCentsTotal: monthly.invoice.total_cents, at: after }))
      .toEqual({ clawedBack: 0, pending: 0, shortfall: 50 });

    // Yearly Plus with two refreshes granted: N = 300; half refunded → 150, from the lot expiring latest (later
    // refreshes give their share when granted: test/integration/yearly-partial-refund).
    const yearly = await paidPeriod(db.sql, workspaceId, { plan: 'plus', interval: 'year', anchor: after, granted: 2 });
    const half = Math.ceil(yearly.invoice.total_cents / 2);
    const result = await clawBackForRefund(db.sql, { key: 'year-1', invoiceId: yearly.invoice.id, refundedCentsTotal: half, at: after });
    expect(result).toEqual({ clawedBack: 150, pending: 0, shortfall: 0 });
    expect(await Promise.all(yearly.lotIds.map(async (id) => (await lotRow(db.sql, id)).remaining))).toEqual([150, 0]);
  });

  it('the same key twice applies once; two refunds of one invoice at once take ceil(N × R / T) in all', async () => {
    const { workspaceId } = await clockWorkspace(db.sql, t0);
    const { invoice, lotId } = await paidPack(db.sql, workspaceId, t0);
    const [a, b] = await Promise.all([
      clawBackForRefund(db.sql, { key: 'same', invoiceId: invoice.id, refundedCentsTotal: 250, at: t0 }),
      clawBackForRefund(db.sql, { key: 'same', invoiceId: invoice.id, refundedCentsTotal: 250, at: t0 }),
    ]);
    expect(a).toEqual({ clawedBack: 25, pending: 0, shortfall: 0 });
    expect(b).toEqual(a);
    // Two refunds at once, their totals 250 + 300 and 250 + 300 + 120 (whichever runs first).
    const both = await Promise.all([
      clawBackForRefund(db.sql, { key: 'x', invoiceId: invoice.id, refundedCentsTotal: 550, at: t0 }),
      clawBackForRefund(db.sql, { key: 'y', invoiceId: invoice.id, refundedCentsTotal: 670, at: t0 }),
    ]);
    expect(both[0].clawedBack + both[1].clawedBack).toBe(67 - 25);
    expect((await lotRow(db.sql, lotId)).remaining).toBe(33);
    const [row] = await db.sql<{ refunded_cents: number; target: number }[]>`SELECT refunded_cents, target FROM invoice_clawbacks WHERE invoice_id = ${invoice.id}`;
    expect(row).toEqual({ refunded_cents: 670, target: 67 });
  });

  it('many refunds, a dispute and holds of one workspace at once neither deadlock nor over-take', async () => {
    const { workspaceId } = await clockWorkspace(db.sql, t0);
    const refunded = await paidPack(db.sql, workspaceId, t0, 500, 4100);
    const disputed = await paidPack(db.sql, workspaceId, t0, 100, 1000);
    const totals = [300, 700, 1200, 1900, 2600, 3100, 3800, 4100];
    const results = await Promise.all([
      ...totals.map((total, i) => clawBackForRefund(db.sql, { key: `many-${i}`, invoiceId: refunded.invoice.id, refundedCentsTotal: total, at: t0 })),
      freezeForDispute(db.sql, { key: 'dp_many:freeze', invoiceId: disputed.invoice.id, at: t0 }),
      ...[1, 2, 3].map(async () => hold(db.sql, workspaceId, 5).catch(() => null)),
    ]);
    const clawed = results.slice(0, totals.length) as { clawedBack: number; pending: number; shortfall: number }[];
    // ceil(500 × 4100 / 4100) = 500 in all, whatever the order: taken now or pending on the holds.
    expect(clawed.reduce((sum, r) => sum + r.clawedBack + r.pending + r.shortfall, 0)).toBe(500);
    expect((await lotRow(db.sql, disputed.lotId)).dispute_freeze_key).toBe('dp_many:freeze');
  });

  it('a dispute freezes the unspent, unheld credits; a held part freezes when released; won thaws all, once', async () => {
    const { workspaceId } = await clockWorkspace(db.sql, t0);
    const disputed = await paidPack(db.sql, workspaceId, t0);
    const other = await paidPack(db.sql, workspaceId, new Date(t0.getTime() + 1000), 100, 1000);
    const creation = await hold(db.sql, workspaceId, 30);
    expect(await freezeForDispute(db.sql, { key: 'dp_1:freeze', invoiceId: disputed.invoice.id, at: t0 })).toEqual({ lots: 1, credits: 70 });
    expect(await freezeForDispute(db.sql, { key: 'dp_1:freeze', invoiceId: disputed.invoice.id, at: t0 })).toEqual({ lots: 1, credits: 70 });
    let balance = await getBalance(db.sql, workspaceId);
    expect(balance.available).toBe(100);
    expect(balance.lots.find((l) => l.id === `lot_${disputed.lotId}`)?.frozen).toBe(true);
    expect(balance.lots.find((l) => l.id === `lot_${other.lotId}`)?.frozen).toBe(false);
    await finish(db.sql, workspaceId, creation, 10);
    expect((await getBalance(db.sql, workspaceId)).available).toBe(100);
    expect((await lotEntries(db.sql, disputed.lotId)).slice(-1)).toEqual([
      { kind: 'freeze', remaining_delta: 0, held_delta: 0, amount: -20, operation_key: 'dp_1:freeze' },
    ]);
    expect(await thawForDispute(db.sql, { key: 'dp_1:won', invoiceId: disputed.invoice.id, at: t0 })).toEqual({ lots: 1, credits: 90 });
    expect(await thawForDispute(db.sql, { key: 'dp_1:won', invoiceId: disputed.invoice.id, at: t0 })).toEqual({ lots: 1, credits: 90 });
    balance = await getBalance(db.sql, workspaceId);
    expect(balance.available).toBe(190);
    // The journal adds up: amounts of the disputed lot sum to its spendable remainder.
    const entries = await lotEntries(db.sql, disputed.lotId);
    expect(entries.filter((e) => e.kind === 'freeze' || e.kind === 'thaw').reduce((s, e) => s + e.amount, 0)).toBe(0);
  });

  it('a lost dispute claws back (frozen credits too) and thaws what is left', async () => {
    const { workspaceId } = await clockWorkspace(db.sql, t0);
    const { invoice, lotId } = await paidPack(db.sql, workspaceId, t0);
    await freezeForDispute(db.sql, { key: 'dp_2:freeze', invoiceId: invoice.id, at: t0 });
    expect(await clawBackForRefund(db.sql, { key: 'dp_2:lost', invoiceId: invoice.id, refundedCentsTotal: 400, at: t0 }))
      .toEqual({ clawedBack: 40, pending: 0, shortfall: 0 });
    // Taken from a frozen lot: the balance does not move (amount 0), the lot does.
    expect((await lotEntries(db.sql, lotId)).slice(-1)).toEqual([{ kind: 'clawback', remaining_delta: -40, held_delta: 0, amount: 0, operation_key: 'dp_2:lost' }]);
    await thawForDispute(db.sql, { key: 'dp_2:thaw', invoiceId: invoice.id, at: t0 });
    expect((await getBalance(db.sql, workspaceId)).available).toBe(60);
  });

  it('a thaw given its freeze key thaws only what that freeze froze', async () => {
    const { workspaceId } = await clockWorkspace(db.sql, t0);
    const { invoice, lotId } = await paidPack(db.sql, workspaceId, t0);
    await freezeForDispute(db.sql, { key: 'dp_5:freeze', invoiceId: invoice.id, at: t0 });
    await thawForDispute(db.sql, { key: 'dp_5:won', invoiceId: invoice.id, at: t0, freezeKey: 'dp_5:freeze' });
    await freezeForDispute(db.sql, { key: 'dp_6:freeze', invoiceId: invoice.id, at: t0 });
    // A late thaw of the first dispute (another key) leaves the second dispute's freeze alone.
    expect(await thawForDispute(db.sql, { key: 'dp_5:won:late', invoiceId: invoice.id, at: t0, freezeKey: 'dp_5:freeze' })).toEqual({ lots: 0, credits: 0 });
    expect(await lotRow(db.sql, lotId)).toMatchObject({ dispute_freeze_key: 'dp_6:freeze' });
    expect((await getBalance(db.sql, workspaceId)).available).toBe(0);
  });

  it('a dispute-frozen lot still expires on its date, and stays expired when thawed', async () => {
    const { workspaceId, clockId } = await clockWorkspace(db.sql, t0);
    const monthly = await paidPeriod(db.sql, workspaceId, { plan: 'plus', interval: 'month', anchor: t0, granted: 1 });
    const lotId = monthly.lotIds[0]!;
    await freezeForDispute(db.sql, { key: 'dp_3:freeze', invoiceId: monthly.invoice.id, at: t0 });
    const after = new Date('2044-05-01T00:00:00Z');
    await setClock(db.sql, clockId, after);
    expect(await expireLot(db.sql, { workspaceId, lotId, at: after })).toEqual({ expired: 150 });
    expect(await thawForDispute(db.sql, { key: 'dp_3:won', invoiceId: monthly.invoice.id, at: after })).toEqual({ lots: 1, credits: 0 });
    expect(await lotRow(db.sql, lotId)).toMatchObject({ remaining: 0, dispute_freeze_key: null });
    expect((await getBalance(db.sql, workspaceId)).available).toBe(0);
  });

  it('a dispute freeze and a cancellation\'s pack freeze are independent', async () => {
    const { workspaceId } = await clockWorkspace(db.sql, t0);
    const { invoice, lotId } = await paidPack(db.sql, workspaceId, t0);
    await freezeForDispute(db.sql, { key: 'dp_4:freeze', invoiceId: invoice.id, at: t0 });
    // A restart thaws packs: the dispute freeze stays.
    await setPacksFrozen(db.sql, { key: 'cancel-1', workspaceId, at: t0, frozen: true });
    await setPacksFrozen(db.sql, { key: 'restart-1', workspaceId, at: t0, frozen: false });
    expect((await getBalance(db.sql, workspaceId)).available).toBe(0);
    expect(await lotRow(db.sql, lotId)).toMatchObject({ frozen: false, dispute_freeze_key: 'dp_4:freeze' });
    // A cancellation freezes packs; a won dispute does not thaw that freeze.
    await setPacksFrozen(db.sql, { key: 'cancel-2', workspaceId, at: t0, frozen: true });
    await thawForDispute(db.sql, { key: 'dp_4:won', invoiceId: invoice.id, at: t0 });
    expect((await getBalance(db.sql, workspaceId)).available).toBe(0);
    expect(await lotRow(db.sql, lotId)).toMatchObject({ frozen: true, dispute_freeze_key: null });
    await setPacksFrozen(db.sql, { key: 'restart-2', workspaceId, at: t0, frozen: false });
    expect((await getBalance(db.sql, workspaceId)).available).toBe(100);
    // Pack freeze and thaw entries moved nothing while the dispute held the lot.
    const packEntries = (await lotEntries(db.sql, lotId)).filter((e) => ['cancel-1', 'restart-1'].includes(e.operation_key));
    expect(packEntries.map((e) => e.amount)).toEqual([0, 0]);
  });
});
