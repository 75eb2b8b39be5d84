import type { Sql } from './db.js';

/** Keeps the `keep` most recently used active models of a workspace and deactivates the rest. */
export async function deactivateModelsAbove(sql: Sql, workspaceId: string, keep: number): Promise<string[]> {
  const rows = await sql<{ id: string }[]>`
    UPDATE custom_models SET active = false
    WHERE id IN (
      SELECT id FROM custom_models WHERE workspace_id = ${workspaceId} AND active
      ORDER BY last_used_at DESC, id DESC OFFSET ${keep})
    RETURNING id`;
  return rows.map((r) => r.id);
}
