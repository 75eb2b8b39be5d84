/**
 * The data of /billing's usage chart (SPEC §11) that GET /v1/usage does not already read: the available
 * balance at the end of each day, from the journal (the captures per day per model are ledger/usage.ts's
 * capturedPerDayPerModel). Read-only.
 */
import type { Sql } from './db.js';

/** The available balance at the end of one UTC day. */
export interface DayClosingBalance {
  /** The UTC day, `YYYY-MM-DD`. */
  day: string;
  /** balance_after of the journal's last entry before the day's end (or at `until`); null before the first entry. */
  available: number | null;
}

/**
 * The available balance at the end of each UTC day from `from` (a UTC midnight) up to the day holding `until`
 * (the workspace's now): the balance_after of the last journal entry at or before the day's end (ordered by
 * time, then by writing); for the day holding `until`, the balance at `until`; null for days before the
 * workspace's first entry (it had no balance yet). One row per day, oldest first.
 * Days step by 24 hours (not '1 day'), so the session's time zone cannot make one 23 or 25 hours long.
 */
export async function closingBalancePerDay(sql: Sql, workspaceId: string, from: Date, until: Date): Promise<DayClosingBalance[]> {
  return sql<DayClosingBalance[]>`
    SELECT to_char(d AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day,
      (SELECT e.balance_after FROM ledger_entries e
        WHERE e.workspace_id = ${workspaceId} AND e.at < d + interval '24 hours' AND e.at <= ${until}::timestamptz
        ORDER BY e.at DESC, e.id DESC LIMIT 1)::integer AS available
    FROM generate_series(${from}::timestamptz, ${until}::timestamptz, interval '24 hours') AS d
    ORDER BY d`;
}
