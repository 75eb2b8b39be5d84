/**
 * The workspace's subscription and its workflow's lifecycle state (Query `lifecycleState`), read by the
 * previews of SPEC §10. Throws Refusal `no_subscription` without one, `preview_unavailable` for a
 * subscription running the first workflow type (it has no such Query).
 */
import { QueryNotRegisteredError, type Client } from '@temporalio/client';
import type { LifecycleState } from '../domain/lifecycle/index.js';
import { Refusal } from '../domain/refusals.js';
import type { Sql } from '../ledger/db.js';
import { currentSubscription } from '../ledger/subscriptions.js';
import { lifecycleStateQuery } from '../workflows/messages.js';
import { workflowIdOf } from './subscriptions.js';

export async function lifecycleStateOf(deps: { sql: Sql; temporal: Client }, workspaceId: string): Promise<LifecycleState> {
  const subscription = await currentSubscription(deps.sql, workspaceId);
  if (!subscription) throw new Refusal('no_subscription', 'this workspace has no subscription');
  return deps.temporal.workflow.getHandle(workflowIdOf(subscription.id)).query(lifecycleStateQuery).catch((error: unknown) => {
    if (error instanceof QueryNotRegisteredError) throw new Refusal('preview_unavailable', 'this subscription predates previews; change it directly');
    throw error;
  });
}
