import type { SubscriptionStatus } from '../domain/lifecycle/status.js';
import type { Sql } from './db.js';

/** A workspace as an operator's search lists it, with its current subscription's status and plan. */
export interface WorkspaceSummary {
  id: string;
  name: string;
  /** The studio's own id for the customer (migration 0016); null when unset or not yet migrated. */
  external_id: string | null;
  test_clock_id: string | null;
  created_at: string;
  /** The live subscription, else the most recent one (as GET /v1/subscription picks it); null when none. */
  subscription: { id: string; status: SubscriptionStatus; plan: string; interval: string } | null;
}

export interface WorkspaceSearch {
  /** Exactly this workspace (for one workspace's summary). */
  id?: string;
  /** Matches the id or external id exactly, or the name as a case-insensitive substring. */
  q?: string;
  /** The current subscription's status; `none` for workspaces that never subscribed. */
  status?: SubscriptionStatus | 'none';
  plan?: string;
  limit: number;
  /** The id of the last workspace of the previous page. */
  cursor?: string;
}

/**
 * SPEC §10 operator search, newest workspaces first. Reads external_id through to_jsonb(w), so it works
 * before and after the migration that adds that column. Null when the cursor is not a workspace id.
 */
export async function searchWorkspaces(sql: Sql, search: WorkspaceSearch): Promise<{ data: WorkspaceSummary[]; has_more: boolean; next_cursor: string | null } | null> {
  let after = sql``;
  if (search.cursor !== undefined) {
    const [anchor] = await sql<{ created_at: Date }[]>`SELECT created_at FROM workspaces WHERE id = ${search.cursor}`;
    if (!anchor) return null;
    after = sql`AND (w.created_at, w.id) < (${anchor.created_at}, ${search.cursor})`;
  }
  const q = search.q?.trim() || null;
  const like = q === null ? null : `%${q.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;
  const rows = await sql<{
    id: string; name: string; external_id: string | null; test_clock_id: string | null; created_at: Date;
    sub_id: string | null; status: SubscriptionStatus | null; plan: string | null; interval: string | null;
  }[]>`
    SELECT w.id, w.name, to_jsonb(w) ->> 'external_id' AS external_id, w.test_clock_id, w.created_at,
      s.id AS sub_id, s.status, s.plan, s.interval
    FROM workspaces w
    LEFT JOIN LATERAL (
      SELECT id, status, plan, interval FROM subscriptions WHERE workspace_id = w.id
      ORDER BY (status <> 'canceled') DESC, created_at DESC LIMIT 1) s ON true
    WHERE true
      ${search.id === undefined ? sql`` : sql`AND w.id = ${search.id}`}
      ${q === null ? sql`` : sql`AND (w.id = ${q} OR to_jsonb(w) ->> 'external_id' = ${q} OR w.name ILIKE ${like})`}
      ${search.status === undefined ? sql`` : search.status === 'none' ? sql`AND s.id IS NULL` : sql`AND s.status = ${search.status}`}
      ${search.plan === undefined ? sql`` : sql`AND s.plan = ${search.plan}`}
      ${after}
    ORDER BY w.created_at DESC, w.id DESC LIMIT ${search.limit + 1}`;
  const has_more = rows.length > search.limit;
  const data = rows.slice(0, search.limit).map((r) => ({
    id: r.id, name: r.name, external_id: r.external_id, test_clock_id: r.test_clock_id, created_at: r.created_at.toISOString(),
    subscription: r.sub_id === null ? null : { id: r.sub_id, status: r.status!, plan: r.plan!, interval: r.interval! },
  }));
  return { data, has_more, next_cursor: has_more ? data[data.length - 1]!.id : null };
}

/** One workspace's summary (as the search lists it), or undefined. */
export async function workspaceSummary(sql: Sql, id: string): Promise<WorkspaceSummary | undefined> {
  return (await searchWorkspaces(sql, { id, limit: 1 }))!.data[0];
}
