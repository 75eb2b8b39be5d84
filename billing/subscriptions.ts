import { type Client, WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { TypedSearchAttributes } from '@temporalio/common';
import type { SignalDefinition, UpdateDefinition } from '@temporalio/common';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { periodBounds } from '../domain/calendar.js';
import type { Interval } from '../domain/catalog.js';
import { isRefusalCode, Refusal } from '../domain/refusals.js';
import type { Sql } from '../ledger/db.js';
import { currentSubscription, holdRestart, insertSubscription, releaseRestart } from '../ledger/subscriptions.js';
import { clockTimeOfWorkspace } from '../ledger/test-clocks.js';
import { newId, type WorkspaceIdentity, workspaceNow } from '../ledger/workspaces.js';
import { firstPaymentSettledUpdate, resumeUpdate, type SubscriptionView } from '../workflows/messages.js';
import * as attrs from '../workflows/search-attributes.js';
import { subscriptionLifecycleWorkflow } from '../workflows/subscription.js';
import { ApiError } from '../api/errors.js';

export function workflowIdOf(subscriptionId: string): string {
  return `subscription-${subscriptionId}`;
}

/** Signals a subscription workflow; one that has already ended needs no signal. */
export async function signalIfRunning<Args extends unknown[]>(
  temporal: Client, workflowId: string, signal: SignalDefinition<Args>, ...args: Args
): Promise<void> {
  try {
    // A bounded wait: callers (the webhook forwarder, clock advances) retry on failure themselves.
    await temporal.connection.withDeadline(Date.now() + 5000, () => temporal.workflow.getHandle(workflowId).signal(signal, ...args));
  } catch (error) {
    if (!(error instanceof WorkflowNotFoundError)) throw error;
  }
}

/**
 * Starts the subscription's workflow and waits for the first charge's outcome, so the response says
 * whether the customer is active, declined or must complete 3-D Secure.
 */
export async function startSubscription(
  deps: { sql: Sql; temporal: Client; taskQueue: string },
  workspace: WorkspaceIdentity,
  request: { plan: string; interval: Interval },
): Promise<SubscriptionView> {
  const subscriptionId = newId('sub');
  const startedAt = (await workspaceNow(deps.sql, workspace.id)).getTime();
  const { start, end } = periodBounds(startedAt, request.interval, 0);
  const clockTime = await clockTimeOfWorkspace(deps.sql, workspace.id);
  const inserted = await insertSubscription(deps.sql, {
    id: subscriptionId, workspaceId: workspace.id, plan: request.plan, interval: request.interval,
    periodStart: new Date(start), periodEnd: new Date(end), clockTime,
  });
  if (!inserted) throw new Refusal('subscription_exists', 'this workspace already has a subscription; change it instead');
  const handle = await deps.temporal.workflow.start(subscriptionLifecycleWorkflow, {
    taskQueue: deps.taskQueue,
    workflowId: workflowIdOf(subscriptionId),
    args: [{ subscriptionId, workspaceId: workspace.id, ...request, startedAt, testClockId: workspace.test_clock_id }],
    typedSearchAttributes: new TypedSearchAttributes([
      { key: attrs.WorkspaceId, value: workspace.id },
      { key: attrs.PlanId, value: request.plan },
      { key: attrs.BillingInterval, value: request.interval },
      { key: attrs.SubscriptionStatus, value: 'incomplete' },
      { key: attrs.CancelAtPeriodEnd, value: false },
    ]),
    // The plan changes over time: the live one is in the search attributes and the current details.
    staticSummary: `subscription of ${workspace.name}, started as ${request.plan} ${request.interval}ly`,
  });
  return handle.executeUpdate(firstPaymentSettledUpdate);
}

/**
 * Sends a request (an Update) to the workspace's subscription workflow and returns its result. A refusal
 * by the workflow's validator or handler becomes a problem response with the workflow's stable code.
 */
export async function updateSubscription<Ret, Args extends unknown[]>(
  deps: { sql: Sql; temporal: Client },
  workspace: WorkspaceIdentity,
  update: UpdateDefinition<Ret, Args>,
  ...args: Args
): Promise<Ret> {
  const subscription = await currentSubscription(deps.sql, workspace.id);
  if (!subscription) throw new Refusal('no_subscription', 'this workspace has no subscription');
  // A resume of a canceled subscription restarts it (SPEC §4 Resume): its row first takes the workspace's one
  // live-subscription slot (unique index), so a subscribe racing the restart, or sent while the restart waits
  // for 3-D Secure or a new card, is refused `subscription_exists`, and a restart that lost the race to a
  // subscribe is refused the same way before anything is charged. Released if the workflow refuses.
  const restart = update.name === resumeUpdate.name && subscription.status === 'canceled';
  if (restart && !(await holdRestart(deps.sql, subscription.id))) {
    throw new Refusal('subscription_exists', 'this workspace already has a subscription; change it instead');
  }
  try {
    const handle = deps.temporal.workflow.getHandle(workflowIdOf(subscription.id));
    return args.length > 0
      ? await handle.executeUpdate<Ret, [unknown]>(update.name, { args: args as unknown as [unknown] })
      : await handle.executeUpdate<Ret, []>(update.name);
  } catch (error) {
    if (restart) await releaseRestart(deps.sql, subscription.id);
    const cause = error instanceof WorkflowUpdateFailedError ? error.cause : undefined;
    if (cause instanceof ApplicationFailure && cause.type) throw workflowRefusal(cause);
    throw error;
  }
}

/**
 * A refusal by the workflow: an ApplicationFailure whose type is the refusal's code and whose first detail
 * is its detail (an object). A known code takes its status from the one table (api/refusal-status.ts);
 * workflows started before codes replaced statuses carry the HTTP status as that detail instead, which
 * still answers for a code the table does not know; anything else is a 409.
 */
export function workflowRefusal(failure: ApplicationFailure): Refusal | ApiError {
  const first: unknown = failure.details?.[0];
  const detail = first !== null && typeof first === 'object' && !Array.isArray(first) ? first as Record<string, unknown> : {};
  if (isRefusalCode(failure.type)) return new Refusal(failure.type, failure.message, detail);
  const status = typeof first === 'number' && Number.isInteger(first) && first >= 400 && first < 500 ? first : 409;
  return new ApiError(status as ContentfulStatusCode, failure.type ?? 'refused', failure.message, undefined, detail);
}
