/**
 * SPEC §10 previews: what a change would do now, computed from the workflow's lifecycle state by the very
 * functions that make the change (`previewChange`), with what the ledger knows (credits still available,
 * customer balance, active custom models). Changes nothing.
 */
import type { Client } from '@temporalio/client';
import { type ChangePreview, type ChangeRequest, creditsUnusedTime, needsLedgerView, previewChange } from '../domain/lifecycle/index.js';
import { countActiveModels } from '../ledger/custom-models-crud.js';
import type { Sql } from '../ledger/db.js';
import { customerBalanceCents } from '../ledger/invoices.js';
import { changeLedgerView } from '../ledger/period-in-force.js';
import { type WorkspaceIdentity, workspaceNow } from '../ledger/workspaces.js';
import { lifecycleStateOf } from './lifecycle-state.js';

/** The preview of `request` for the workspace's subscription. Throws the Refusal the change would, 404 without one. */
export async function previewSubscriptionChange(
  deps: { sql: Sql; temporal: Client }, workspace: WorkspaceIdentity, request: ChangeRequest,
): Promise<ChangePreview> {
  const state = await lifecycleStateOf(deps, workspace.id);
  const at = await workspaceNow(deps.sql, workspace.id);
  const [balance, activeModels] = await Promise.all([customerBalanceCents(deps.sql, workspace.id), countActiveModels(deps.sql, workspace.id)]);
  // The same view the workflow's changeLedgerView activity reads before it prices the change (a preview equals the charge).
  const ledger = creditsUnusedTime(state, request)
    ? await changeLedgerView(deps.sql, {
      workspaceId: workspace.id, subscriptionId: state.subscriptionId, grantKeys: state.lots.map((lot) => lot.key), at, switching: needsLedgerView(state, request),
    })
    : undefined;
  return previewChange(state, request, at.getTime(), { ...(ledger ? { ledger } : {}), customerBalanceCents: balance, activeCustomModels: activeModels });
}

