import type { Client } from '@temporalio/client';
import type { ChangePreview, ChangeRequest } from '../domain/lifecycle/index.js';
import { refuse } from '../domain/refusals.js';
import type { Sql } from '../ledger/db.js';
import type { WorkspaceIdentity } from '../ledger/workspaces.js';
import { changePlanUpdate, type ChangeResult } from '../workflows/messages.js';
import { previewSubscriptionChange } from './previews.js';
import { updateSubscription } from './subscriptions.js';

/**
 * Makes a plan or interval change the customer confirmed after its preview (SPEC §10). With
 * `expectedAmountDueCents` (cents, what the confirm step showed as due today; 0 for a downgrade) the
 * change is previewed again first: an amount due that differs now (time passed, the customer balance
 * moved) is Refusal `preview_outdated` whose detail carries the fresh `preview`, and nothing is charged.
 * Without it, the change is made as asked. Throws the change's own Refusals otherwise.
 */
export async function changeSubscriptionAsConfirmed(
  deps: { sql: Sql; temporal: Client },
  workspace: WorkspaceIdentity,
  request: ChangeRequest,
  expectedAmountDueCents?: number,
): Promise<ChangeResult> {
  if (expectedAmountDueCents !== undefined) {
    const preview: ChangePreview = await previewSubscriptionChange(deps, workspace, request);
    const due = preview.invoice?.amount_due_cents ?? 0;
    if (due !== expectedAmountDueCents) {
      refuse('preview_outdated', `the amount due is now ${due}, not ${expectedAmountDueCents}`, { preview });
    }
  }
  return updateSubscription(deps, workspace, changePlanUpdate, request);
}
