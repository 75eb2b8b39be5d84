import type { Client } from '@temporalio/client';
import type { ChangePreview, ChangeRequest } from '../domain/lifecycle/index.js';
import { refuse, Refusal } from '../domain/refusals.js';
import type { Sql } from '../ledger/db.js';
import type { WorkspaceIdentity } from '../ledger/workspaces.js';
import { changePlanUpdate, type ChangeResult } from '../workflows/messages.js';
import { previewSubscriptionChange } from './previews.js';
import { updateSubscription } from './subscriptions.js';

/** The fresh preview's amount due (cents): 0 without an invoice (a downgrade). */
const amountDueOf = (preview: ChangePreview) => preview.invoice?.amount_due_cents ?? 0;

/**
 * Makes a plan or interval change the customer confirmed after its preview (SPEC §10). With
 * `expectedAmountDueCents` (cents, what the confirm step showed as due today; 0 for a downgrade) the
 * change is previewed again first (an early, cheap refusal), and the amount travels with the Update to the
 * workflow, which drafts the change's invoice before anything else and compares it in the transaction that
 * applies the customer balance, so a purchase spending that balance meanwhile cannot make the customer pay
 * more than confirmed. Either way an amount due that differs is Refusal `preview_outdated` whose detail
 * carries the fresh `preview`, and nothing is charged. Without it, the change is made as asked. Throws the
 * change's own Refusals otherwise.
 */
export async function changeSubscriptionAsConfirmed(
  deps: { sql: Sql; temporal: Client },
  workspace: WorkspaceIdentity,
  request: ChangeRequest,
  expectedAmountDueCents?: number,
): Promise<ChangeResult> {
  if (expectedAmountDueCents === undefined) return updateSubscription(deps, workspace, changePlanUpdate, request);
  const outdated = (preview: ChangePreview): never =>
    refuse('preview_outdated', `the amount due is now ${amountDueOf(preview)}, not ${expectedAmountDueCents}`, { preview });
  const preview = await previewSubscriptionChange(deps, workspace, request);
  if (amountDueOf(preview) !== expectedAmountDueCents) outdated(preview);
  try {
    return await updateSubscription(deps, workspace, changePlanUpdate, { ...request, expectedAmountDueCents });
  } catch (error) {
    if (!(error instanceof Refusal) || error.code !== 'preview_outdated') throw error;
    return outdated(await previewSubscriptionChange(deps, workspace, request));
  }
}
