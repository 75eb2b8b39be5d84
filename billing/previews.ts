/**
 * SPEC §10 previews: what a change would do now, computed from the workflow's lifecycle state by the very
 * functions that make the change (`previewChange`), with what the ledger knows (credits still available,
 * customer balance, active custom models). Changes nothing.
 */
import type { Client } from '@temporalio/client';
import { type ChangePreview, type ChangeRequest, needsLedgerView, previewChange } from '../domain/lifecycle/index.js';
import { countActiveModels } from '../ledger/custom-models-crud.js';
import type { Sql } from '../ledger/db.js';
import { availableOfGrants } from '../ledger/grants.js';
import { customerBalanceCents } from '../ledger/invoices.js';
import { type WorkspaceIdentity, workspaceNow } from '../ledger/workspaces.js';
import { lifecycleStateOf } from './lifecycle-state.js';

/** The preview of `request` for the workspace's subscription. Throws the Refusal the change would, 404 without one. */
export async function previewSubscriptionChange(
  deps: { sql: Sql; temporal: Client }, workspace: WorkspaceIdentity, request: ChangeRequest,
): Promise<ChangePreview> {
  const state = await lifecycleStateOf(deps, workspace.id);
  const at = await workspaceNow(deps.sql, workspace.id);
  const [balance, activeModels] = await Promise.all([customerBalanceCents(deps.sql, workspace.id), countActiveModels(deps.sql, workspace.id)]);
  const ledger = needsLedgerView(state, request)
    ? { availablePlanCredits: await availableOfGrants(deps.sql, workspace.id, state.lots.map((lot) => lot.key), at) }
    : undefined;
  return previewChange(state, request, at.getTime(), { ...(ledger ? { ledger } : {}), customerBalanceCents: balance, activeCustomModels: activeModels });
}
