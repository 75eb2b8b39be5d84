/**
 * The data of /billing's usage chart (SPEC §11): credits captured per UTC day per model, and the available
 * balance at the end of each day, read from the journal. Read-only queries.
 */
import type { Sql } from './db.js';

/** Credits captured on one UTC day by one model. */
export interface DayModelCredits {
  /** The UTC day, `YYYY-MM-DD`. */
  day: string;
  model: string;
  credits: number;
}

/**
 * Credits captured per UTC day per model over [from, to): one row per (day, model) with captures, oldest day
 * first. A creation counts on the day of its capture (ended_at), at what it was charged; failed and expired
 * creations charge nothing and do not appear. The model is the creation's own (migration 1732400000018),
 * else its quote's request (creations made before the model was recorded), else 'unknown'.
 * (ledger/usage.ts has the same aggregate for GET /v1/usage, without the quote fallback.)
 */
export async function creditsCapturedPerDay(sql: Sql, workspaceId: string, from: Date, to: Date): Promise<DayModelCredits[]> {
  return sql<DayModelCredits[]>`
    SELECT to_char(c.ended_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day,
      coalesce(c.model, q.request->>'model', 'unknown') AS model, sum(c.charged)::integer AS credits
    FROM creations c JOIN quotes q ON q.id = c.quote_id
    WHERE c.workspace_id = ${workspaceId} AND c.status = 'succeeded' AND c.charged > 0
      AND c.ended_at >= ${from} AND c.ended_at < ${to}
    GROUP BY 1, 2 ORDER BY 1, 2`;
}

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
