import type { Sql } from './db.js';
import type { Tx } from './operations.js';

/**
 * A plan takes effect for custom models (SPEC §4: entitlements follow the live plan): in one transaction,
 * with the workspace row locked as activations and creations lock it (ledger/custom-models-crud.ts), writes
 * `plan` onto the subscription's projection row and keeps the `keep` most recently used active models,
 * deactivating the rest. Returns the ids deactivated.
 *
 * Why the plan is written here: the workflow writes the whole projection only when it goes idle, after every
 * due event up to its clock's time; an activation between this deactivation and that write would otherwise
 * be checked against the replaced plan's limit and let the workspace hold more models than its plan allows
 * (breaker finding lifecycle-models-downgrade-race). Under the same lock an activation is either before
 * (and deactivated here) or after (and checked against `plan`). Without `subscriptionId`/`plan` (histories
 * of the legacy v1 workflow) only the deactivation runs, still under the lock.
 */
export async function applyModelLimit(
  sql: Sql, input: { workspaceId: string; keep: number; subscriptionId?: string; plan?: string },
): Promise<string[]> {
  return (await sql.begin(async (tx) => {
    await tx`SELECT 1 FROM workspaces WHERE id = ${input.workspaceId} FOR UPDATE`;
    if (input.subscriptionId !== undefined && input.plan !== undefined) {
      // Every path that lowers the plan (a downgrade applied, an interval switch onto a lower plan) also ends
      // the scheduled change, so the interim projection never shows the plan and a change to it at once.
      await tx`UPDATE subscriptions SET plan = ${input.plan}, scheduled_change = NULL
        WHERE id = ${input.subscriptionId} AND workspace_id = ${input.workspaceId} AND plan <> ${input.plan}`;
    }
    return deactivateModelsAbove(tx, input.workspaceId, input.keep);
  })) as string[];
}

/** Keeps the `keep` most recently used active models of a workspace and deactivates the rest. */
export async function deactivateModelsAbove(sql: Sql | Tx, workspaceId: string, keep: number): Promise<string[]> {
  const rows = await sql<{ id: string }[]>`
    UPDATE custom_models SET active = false
    WHERE id IN (
      SELECT id FROM custom_models WHERE workspace_id = ${workspaceId} AND active
      ORDER BY last_used_at DESC, id DESC OFFSET ${keep})
    RETURNING id`;
  return rows.map((r) => r.id);
}
