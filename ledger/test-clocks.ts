import type { Sql } from './db.js';
import { newId } from './workspaces.js';

export interface TestClockView {
  id: string;
  frozen_time: string;
  status: 'advancing' | 'ready';
}

export async function createTestClock(sql: Sql, frozenTime: Date): Promise<TestClockView> {
  const id = newId('clock');
  await sql`INSERT INTO test_clocks (id, frozen_time) VALUES (${id}, ${frozenTime})`;
  return { id, frozen_time: frozenTime.toISOString(), status: 'ready' };
}

/**
 * A clock is ready when every subscription workflow following it has processed its due events up to
 * the clock's time (each reports that through `clock_synced_to`).
 */
export async function getTestClock(sql: Sql, id: string): Promise<TestClockView | undefined> {
  const [row] = await sql<{ id: string; frozen_time: Date; behind: number }[]>`
    SELECT c.id, c.frozen_time,
      (SELECT count(*)::int FROM subscriptions s JOIN workspaces w ON w.id = s.workspace_id
        WHERE w.test_clock_id = c.id AND s.clock_synced_to < c.frozen_time) AS behind
    FROM test_clocks c WHERE c.id = ${id}`;
  if (!row) return undefined;
  return { id: row.id, frozen_time: row.frozen_time.toISOString(), status: row.behind > 0 ? 'advancing' : 'ready' };
}

export type AdvanceResult =
  | { ok: true; subscriptionIds: string[] }
  | { ok: false; reason: 'not_found' | 'backwards'; current?: Date };

/** Moves the clock forward (never back) and returns the subscriptions whose workflows must catch up. */
export async function advanceTestClock(sql: Sql, id: string, to: Date): Promise<AdvanceResult> {
  return sql.begin(async (tx) => {
    const [clock] = await tx<{ frozen_time: Date }[]>`SELECT frozen_time FROM test_clocks WHERE id = ${id} FOR UPDATE`;
    if (!clock) return { ok: false, reason: 'not_found' } as const;
    if (to < clock.frozen_time) return { ok: false, reason: 'backwards', current: clock.frozen_time } as const;
    await tx`UPDATE test_clocks SET frozen_time = ${to} WHERE id = ${id}`;
    const subs = await tx<{ id: string }[]>`
      SELECT s.id FROM subscriptions s JOIN workspaces w ON w.id = s.workspace_id
      WHERE w.test_clock_id = ${id} AND s.clock_synced_to IS NOT NULL`;
    return { ok: true, subscriptionIds: subs.map((s) => s.id) } as const;
  });
}

export async function clockTimeOfWorkspace(sql: Sql, workspaceId: string): Promise<Date | null> {
  const [row] = await sql<{ frozen_time: Date }[]>`
    SELECT c.frozen_time FROM workspaces w JOIN test_clocks c ON c.id = w.test_clock_id WHERE w.id = ${workspaceId}`;
  return row?.frozen_time ?? null;
}
