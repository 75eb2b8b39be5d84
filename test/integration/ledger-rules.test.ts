import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLive, SUBSCRIPTION_STATUSES } from '../../domain/lifecycle/status.js';
import { recordExpiringLots } from '../../ledger/alerts.js';
import { getBalance } from '../../ledger/credits.js';
import type { Sql } from '../../ledger/db.js';
import { availableAt } from '../../ledger/operations.js';
import { createTestClock } from '../../ledger/test-clocks.js';
import { createWorkspace } from '../../ledger/workspaces.js';
import { freshDatabase } from '../helpers/database.js';

/**
 * The ledger's rules as SQL functions (migration 1732400000012_ledger_rules), on real Postgres: burn order,
 * spendable and available lots (SPEC §2-3), the lots the expiry alert announces (SPEC §6), and the live
 * subscription statuses, which must be the same list as domain/lifecycle/status.ts.
 */
describe('ledger rules in SQL', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let sql: Sql;
  beforeAll(async () => {
    db = await freshDatabase();
    sql = db.sql;
  });
  afterAll(async () => {
    await db?.drop();
  });

  const T = (iso: string) => new Date(iso);

  interface LotSpec {
    source?: 'monthly' | 'upgrade' | 'pack';
    remaining: number;
    held?: number;
    grantedAt: string;
    expiresAt: string | null;
    frozen?: boolean;
  }

  /** Inserts lots as they stand (the rules only read them), in the order given, so ids follow that order. */
  async function insertLots(workspaceId: string, lots: LotSpec[]): Promise<number[]> {
    const ids: number[] = [];
    for (const lot of lots) {
      const [row] = await sql<{ id: number }[]>`
        INSERT INTO lots (workspace_id, source, granted, remaining, held, granted_at, expires_at, frozen)
        VALUES (${workspaceId}, ${lot.source ?? (lot.expiresAt === null ? 'pack' : 'monthly')}, ${Math.max(lot.remaining, 1)},
                ${lot.remaining}, ${lot.held ?? 0}, ${T(lot.grantedAt)}, ${lot.expiresAt === null ? null : T(lot.expiresAt)}, ${lot.frozen ?? false})
        RETURNING id`;
      ids.push(row!.id);
    }
    return ids;
  }

  async function workspaceAt(name: string, iso: string): Promise<string> {
    const clock = await createTestClock(sql, T(iso));
    return (await createWorkspace(sql, { name, testClockId: clock.id })).id;
  }

  it('subscription_is_live(status) is isLive(status) of domain/lifecycle/status.ts, for every status', async () => {
    for (const status of SUBSCRIPTION_STATUSES) {
      const [row] = await sql<{ live: boolean }[]>`SELECT subscription_is_live(${status}) AS live`;
      expect(row!.live, status).toBe(isLive(status));
    }
  });

  describe('spendable lots, available balance and burn order', () => {
    const NOW = '2026-03-01T00:00:00.000Z';
    let ws: string;
    let lot: Record<string, number>;
    beforeAll(async () => {
      ws = await workspaceAt('burn order', NOW);
      // Inserted out of burn order, so ids alone would give the wrong order.
      const names = ['pack2', 'later', 'first', 'upgrade', 'tied', 'pack1', 'frozen', 'lapsed', 'allHeld', 'usedUp'];
      const ids = await insertLots(ws, [
        { remaining: 100, grantedAt: '2026-01-15T00:00:00Z', expiresAt: null },
        { remaining: 30, grantedAt: '2026-01-01T00:00:00Z', expiresAt: '2026-04-01T00:00:00Z' },
        { remaining: 50, held: 10, grantedAt: '2026-02-01T00:00:00Z', expiresAt: '2026-03-10T00:00:00Z' },
        // Same expiry as `first`, granted later.
        { source: 'upgrade', remaining: 20, grantedAt: '2026-02-15T00:00:00Z', expiresAt: '2026-03-10T00:00:00Z' },
        // Same expiry and grant time as `first`: the lot id decides.
        { remaining: 7, grantedAt: '2026-02-01T00:00:00Z', expiresAt: '2026-03-10T00:00:00Z' },
        // Granted before pack2: burns first though its id is higher.
        { remaining: 5, grantedAt: '2026-01-10T00:00:00Z', expiresAt: null },
        { remaining: 100, grantedAt: '2026-01-20T00:00:00Z', expiresAt: null, frozen: true },
        // Past its expiry, not retired yet (expiry is read lazily), 5 of it still held by a running creation.
        { remaining: 40, held: 5, grantedAt: '2026-01-01T00:00:00Z', expiresAt: '2026-02-28T00:00:00Z' },
        { remaining: 10, held: 10, grantedAt: '2026-02-01T00:00:00Z', expiresAt: '2026-03-20T00:00:00Z' },
        { remaining: 0, grantedAt: '2026-02-01T00:00:00Z', expiresAt: '2026-03-25T00:00:00Z' },
      ]);
      lot = Object.fromEntries(names.map((name, i) => [name, ids[i]!]));
    });

    const spendable = async (at: string) =>
      (await sql<{ id: number; available: number }[]>`SELECT id, available FROM spendable_lots(${ws}, ${T(at)})`)
        .map((row) => [row.id, row.available]);

    it('spendable_lots: unexpired, unfrozen lots with credits not held, earliest expiry first, packs last, then grant time, then id', async () => {
      expect(await spendable(NOW)).toEqual([
        [lot.first, 40], [lot.tied, 7], [lot.upgrade, 20], [lot.later, 30], [lot.pack1, 5], [lot.pack2, 100],
      ]);
    });

    it('a lot stops being spendable at the instant it expires', async () => {
      expect(await spendable('2026-03-09T23:59:59.999Z')).toHaveLength(6);
      expect(await spendable('2026-03-10T00:00:00.000Z')).toEqual([[lot.later, 30], [lot.pack1, 5], [lot.pack2, 100]]);
    });

    it('availableAt is the sum of spendable_lots', async () => {
      expect(await availableAt(sql, ws, T(NOW))).toBe(40 + 7 + 20 + 30 + 5 + 100);
      expect(await availableAt(sql, ws, T('2026-03-10T00:00:00Z'))).toBe(30 + 5 + 100);
    });

    it('the balance read lists lots in burn order and counts the same available credits', async () => {
      const balance = await getBalance(sql, ws);
      expect(balance.as_of).toBe(NOW);
      expect(balance.available).toBe(await availableAt(sql, ws, T(NOW)));
      expect(balance.held).toBe(10 + 5 + 10);
      expect(balance.lots.map((l) => [l.id, l.remaining, l.held, l.frozen])).toEqual([
        // An expired lot is listed while part of it is held, with only that part remaining.
        [`lot_${lot.lapsed}`, 5, 5, false],
        [`lot_${lot.first}`, 50, 10, false],
        [`lot_${lot.tied}`, 7, 0, false],
        [`lot_${lot.upgrade}`, 20, 0, false],
        [`lot_${lot.allHeld}`, 10, 10, false],
        // Used up, listed until it expires.
        [`lot_${lot.usedUp}`, 0, 0, false],
        [`lot_${lot.later}`, 30, 0, false],
        [`lot_${lot.pack1}`, 5, 0, false],
        [`lot_${lot.pack2}`, 100, 0, false],
        [`lot_${lot.frozen}`, 100, 0, true],
      ]);
    });
  });

  it('the expiry alert announces, once, each lot with available credits expiring within 7 days of its workspace\'s time', async () => {
    const ws = await workspaceAt('expiring lots', '2026-03-05T00:00:00Z');
    const [soon, atTheLimit, beyond, allHeld, lapsed, pack] = await insertLots(ws, [
      { remaining: 30, held: 10, grantedAt: '2026-02-01T00:00:00Z', expiresAt: '2026-03-10T00:00:00Z' },
      { remaining: 12, grantedAt: '2026-02-12T00:00:00Z', expiresAt: '2026-03-12T00:00:00Z' },
      { remaining: 12, grantedAt: '2026-02-12T00:00:00Z', expiresAt: '2026-03-12T00:00:00.001Z' },
      { remaining: 10, held: 10, grantedAt: '2026-02-01T00:00:00Z', expiresAt: '2026-03-08T00:00:00Z' },
      { remaining: 10, grantedAt: '2026-01-01T00:00:00Z', expiresAt: '2026-03-04T00:00:00Z' },
      { remaining: 10, grantedAt: '2026-01-01T00:00:00Z', expiresAt: null },
    ]);
    const announced = async () => sql<{ dedupe_key: string; payload: Record<string, unknown>; at: Date }[]>`
      SELECT dedupe_key, payload, at FROM notifications WHERE workspace_id = ${ws} AND kind = 'lot_expiring' ORDER BY id`;

    await recordExpiringLots(sql);
    const notes = await announced();
    expect(notes.map((n) => n.dedupe_key)).toEqual([`lot_expiring:${soon}`, `lot_expiring:${atTheLimit}`]);
    expect(notes[0]!.payload).toEqual({
      lot: `lot_${soon}`, source: 'monthly', remaining: 30, held: 10, expiring_credits: 20, expires_at: '2026-03-10T00:00:00.000Z',
    });
    expect(notes[1]!.payload).toMatchObject({ lot: `lot_${atTheLimit}`, expiring_credits: 12 });
    expect(notes.map((n) => n.at.toISOString())).toEqual(['2026-03-05T00:00:00.000Z', '2026-03-05T00:00:00.000Z']);
    expect([beyond, allHeld, lapsed, pack].every((id) => !notes.some((n) => n.dedupe_key === `lot_expiring:${id}`))).toBe(true);

    await recordExpiringLots(sql);
    expect(await announced()).toHaveLength(2);
  });
});
