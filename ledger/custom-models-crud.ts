import { findPlan } from '../domain/catalog.js';
import { LIVE_STATUSES } from '../domain/lifecycle/status.js';
import { Refusal } from '../domain/refusals.js';
import type { Sql } from './db.js';
import { type Page, page } from './history.js';
import type { Tx } from './operations.js';
import { newId } from './workspaces.js';

export interface CustomModelView {
  id: string;
  name: string;
  active: boolean;
  last_used_at: string;
  created_at: string;
}

interface ModelRow {
  id: string;
  name: string;
  active: boolean;
  last_used_at: Date;
  created_at: Date;
}

const notFound = (id: string) => new Refusal('custom_model_not_found', `custom model ${id} not found`);

const view = (r: ModelRow): CustomModelView => ({
  id: r.id, name: r.name, active: r.active, last_used_at: r.last_used_at.toISOString(), created_at: r.created_at.toISOString(),
});

/** How many custom models of the workspace are active. */
export async function countActiveModels(sql: Sql | Tx, workspaceId: string): Promise<number> {
  const [row] = await sql<{ active: number }[]>`SELECT count(*)::int AS active FROM custom_models WHERE workspace_id = ${workspaceId} AND active`;
  return row!.active;
}

/** Active custom models the workspace's plan allows: 0 without a live (active, past-due or paused) subscription. */
export async function customModelLimit(sql: Sql | Tx, workspaceId: string): Promise<number> {
  const [row] = await sql<{ plan: string }[]>`
    SELECT plan FROM subscriptions WHERE workspace_id = ${workspaceId} AND status IN ${sql(LIVE_STATUSES)} LIMIT 1`;
  return (row && findPlan(row.plan)?.customModelLimit) ?? 0;
}

/**
 * A page of the workspace's custom models, newest first, with the plan's limit of active ones; `after` is the id
 * of the last model of the previous page; null when it is not one of the workspace's models.
 */
export async function pageCustomModels(
  sql: Sql, workspaceId: string, opts: { limit: number; after?: string },
): Promise<(Page<CustomModelView> & { limit: number }) | null> {
  let cursor = sql``;
  if (opts.after !== undefined) {
    const [anchor] = await sql<{ created_at: Date; seq: number }[]>`
      SELECT created_at, seq FROM custom_models WHERE id = ${opts.after} AND workspace_id = ${workspaceId}`;
    if (!anchor) return null;
    cursor = sql`AND (created_at, seq) < (${anchor.created_at}, ${anchor.seq})`;
  }
  const rows = await sql<ModelRow[]>`
    SELECT id, name, active, last_used_at, created_at FROM custom_models
    WHERE workspace_id = ${workspaceId} ${cursor} ORDER BY created_at DESC, seq DESC LIMIT ${opts.limit + 1}`;
  return { ...page(rows.map(view), opts.limit), limit: await customModelLimit(sql, workspaceId) };
}

export async function listCustomModels(sql: Sql, workspaceId: string): Promise<{ data: CustomModelView[]; limit: number }> {
  const rows = await sql<ModelRow[]>`
    SELECT id, name, active, last_used_at, created_at FROM custom_models
    WHERE workspace_id = ${workspaceId} ORDER BY created_at DESC, seq DESC`;
  return { data: rows.map(view), limit: await customModelLimit(sql, workspaceId) };
}

/**
 * Runs a change with the workspace row locked, so two concurrent creations or activations never both
 * see room for one more active model. `requireRoom` refuses when the plan's limit is reached.
 */
async function withWorkspaceLocked<T>(
  sql: Sql,
  workspaceId: string,
  change: (tx: Tx, now: Date, requireRoom: () => Promise<void>) => Promise<T>,
): Promise<T> {
  return (await sql.begin(async (tx) => {
    const [ws] = await tx<{ now: Date }[]>`SELECT workspace_now(id) AS now FROM workspaces WHERE id = ${workspaceId} FOR UPDATE`;
    if (!ws) throw new Error(`workspace ${workspaceId} not found`);
    const requireRoom = async () => {
      const limit = await customModelLimit(tx, workspaceId);
      if (await countActiveModels(tx, workspaceId) < limit) return;
      throw new Refusal('custom_model_limit', limit === 0
        ? 'custom models need an active subscription'
        : `the plan allows ${limit} active custom model${limit === 1 ? '' : 's'}; deactivate one first`);
    };
    return change(tx, ws.now, requireRoom);
  })) as T;
}

/**
 * How many custom models a workspace may hold, active or not (issue 16: a cap on stored rows, beside the
 * plan's limit on active ones). Deactivated models are kept and can be activated again, so they count.
 */
export const MAX_CUSTOM_MODELS = 50;

/**
 * Creates an active custom model. Refusals: `custom_model_cap_reached` (409) when the workspace already
 * holds MAX_CUSTOM_MODELS, `custom_model_limit` (409) when its plan allows no more active ones.
 */
export async function createCustomModel(sql: Sql, workspaceId: string, name: string): Promise<CustomModelView> {
  return withWorkspaceLocked(sql, workspaceId, async (tx, now, requireRoom) => {
    const [held] = await tx<{ n: number }[]>`SELECT count(*)::int AS n FROM custom_models WHERE workspace_id = ${workspaceId}`;
    if (held!.n >= MAX_CUSTOM_MODELS) {
      throw new Refusal('custom_model_cap_reached', `a workspace holds at most ${MAX_CUSTOM_MODELS} custom models, active or not; activate one it has`,
        { limit: MAX_CUSTOM_MODELS });
    }
    await requireRoom();
    const [row] = await tx<ModelRow[]>`
      INSERT INTO custom_models (id, workspace_id, name, active, last_used_at, created_at)
      VALUES (${newId('cm')}, ${workspaceId}, ${name}, true, ${now}, ${now})
      RETURNING id, name, active, last_used_at, created_at`;
    return view(row!);
  });
}

/** Activates a model (counted against the limit); activating an active model changes nothing. */
export async function activateCustomModel(sql: Sql, workspaceId: string, id: string): Promise<CustomModelView> {
  return withWorkspaceLocked(sql, workspaceId, async (tx, now, requireRoom) => {
    const [existing] = await tx<ModelRow[]>`
      SELECT id, name, active, last_used_at, created_at FROM custom_models WHERE id = ${id} AND workspace_id = ${workspaceId}`;
    if (!existing) throw notFound(id);
    if (existing.active) return view(existing);
    await requireRoom();
    const [row] = await tx<ModelRow[]>`
      UPDATE custom_models SET active = true, last_used_at = ${now} WHERE id = ${id}
      RETURNING id, name, active, last_used_at, created_at`;
    return view(row!);
  });
}

/** Deactivates a model: it stops counting against the limit and can be activated again later. */
export async function deactivateCustomModel(sql: Sql, workspaceId: string, id: string): Promise<CustomModelView> {
  const [row] = await sql<ModelRow[]>`
    UPDATE custom_models SET active = false WHERE id = ${id} AND workspace_id = ${workspaceId}
    RETURNING id, name, active, last_used_at, created_at`;
  if (!row) throw notFound(id);
  return view(row);
}
