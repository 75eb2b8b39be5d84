/**
 * Shared pieces of the resilience suite: a seeded PRNG (every scenario prints its seed and takes it back
 * from RESILIENCE_SEED, so a failing run can be replayed), and the ledger invariants every scenario ends with.
 */
import type { Sql } from '../../ledger/db.js';

export { prng } from '../helpers/random.js';

export function seedFromEnv(): number {
  return Number(process.env.RESILIENCE_SEED ?? Math.floor(Math.random() * 2 ** 32));
}

/** An integer in [min, max]. */
export const between = (random: () => number, min: number, max: number): number => min + Math.floor(random() * (max - min + 1));

/** Lots whose row differs from the sum of their journal entries (remaining and held), with both sides. */
export async function lotsOffTheirJournal(sql: Sql, workspaceIds?: string[]) {
  return sql<{ id: number; remaining: number; held: number; journal_remaining: number; journal_held: number }[]>`
    SELECT l.id, l.remaining, l.held,
      coalesce(sum(e.remaining_delta), 0)::int AS journal_remaining, coalesce(sum(e.held_delta), 0)::int AS journal_held
    FROM lots l LEFT JOIN ledger_entries e ON e.lot_id = l.id
    ${workspaceIds ? sql`WHERE l.workspace_id IN ${sql(workspaceIds)}` : sql``}
    GROUP BY l.id HAVING l.remaining <> coalesce(sum(e.remaining_delta), 0) OR l.held <> coalesce(sum(e.held_delta), 0)`;
}

/** Operation keys that journaled more than one grant (each grant operation grants exactly one lot). */
export async function duplicatedGrants(sql: Sql) {
  return sql<{ operation_key: string; n: number }[]>`
    SELECT operation_key, count(*)::int AS n FROM ledger_entries WHERE kind = 'grant'
    GROUP BY operation_key HAVING count(*) > 1`;
}

/**
 * The workspace's available balance computed from the lots (unexpired at its current time, unfrozen,
 * remaining − held), to compare with what GET /v1/credits answers.
 */
export async function availableFromLots(sql: Sql, workspaceId: string): Promise<number> {
  const [row] = await sql<{ available: number }[]>`
    SELECT coalesce(sum(remaining - held), 0)::int AS available FROM lots
    WHERE workspace_id = ${workspaceId} AND NOT frozen AND (expires_at IS NULL OR expires_at > workspace_now(${workspaceId}))`;
  return row!.available;
}
