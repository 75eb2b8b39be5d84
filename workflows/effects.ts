/**
 * Carries out the lifecycle core's effects and charges through activities (the shell's hands). Ledger and
 * projection writes are local activities (one marker event each), which keeps a subscription-year inside
 * the history budget; every one is idempotent by the business key the core chose, so a retry after a
 * worker crash repeats nothing.
 */
import { patched, proxyLocalActivities } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import {
  type Charge, type ChargeOutcome, creditsUnusedTime, type Effect, type LifecycleRequest, type LifecycleState, needsLedgerView,
} from '../domain/lifecycle/index.js';

type Activities = ReturnType<typeof createActivities>;

// A payment call takes seconds; after a worker dies mid-call the workflow task times out and the call is
// repeated on another worker, safely: the provider call carries the business key as its idempotency key.
export const payments = proxyLocalActivities<Activities>({
  startToCloseTimeout: '20 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
});
// LiveSubscriptionConflict (ledger/subscriptions.ts) can never succeed on a retry: the workflow fails with it.
export const ledger = proxyLocalActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', nonRetryableErrorTypes: ['LiveSubscriptionConflict'] },
});

export interface Subject {
  subscriptionId: string;
  workspaceId: string;
}

/** Carries out one step's effects in order. */
export async function perform(subject: Subject, effects: Effect[]): Promise<void> {
  const { subscriptionId, workspaceId } = subject;
  let deactivated: string[] = [];
  for (const effect of effects) {
    switch (effect.kind) {
      case 'grant':
        await ledger.grantLot.executeWithOptions({ startToCloseTimeout: '30 seconds', summary: effect.summary }, [{
          key: effect.key, workspaceId, source: effect.source, credits: effect.credits, grantedAt: effect.grantedAt, expiresAt: effect.expiresAt,
        }]);
        break;
      case 'expire':
        await ledger.expireGrant.executeWithOptions({ startToCloseTimeout: '30 seconds', summary: `expire the lot of ${effect.key}` },
          [{ workspaceId, grantKey: effect.key, at: effect.at }]);
        break;
      case 'claw_back':
        await ledger.clawBack.executeWithOptions({ startToCloseTimeout: '30 seconds', summary: `claw back up to ${effect.credits} credits` },
          [{ key: effect.key, workspaceId, grantKeys: effect.grantKeys, credits: effect.credits, at: effect.at }]);
        break;
      case 'void':
        await payments.voidInvoice({ invoiceId: effect.invoiceId });
        break;
      case 'end_plan_credits':
        await ledger.endPlanCredits({ key: effect.key, subscriptionId, workspaceId, at: effect.at });
        break;
      case 'thaw_packs':
        await ledger.thawPacks({ key: effect.key, subscriptionId, workspaceId, at: effect.at });
        break;
      case 'deactivate_models':
        // Same command as before (one local activity); its input now carries the plan it applies.
        ({ deactivated } = await ledger.deactivateCustomModels({ workspaceId, keep: effect.keep, subscriptionId, plan: effect.plan }));
        break;
      case 'notify': {
        const extra = effect.notification === 'downgrade_applied' ? { deactivated_custom_models: deactivated } : {};
        await ledger.notify({ workspaceId, kind: effect.notification, dedupeKey: effect.dedupeKey, at: effect.at, payload: { ...effect.payload, ...extra } });
        break;
      }
    }
  }
}

/** Marks histories whose upgrades and switches read the refunds of the period in force before pricing. */
export const REFUND_AWARE_CHANGE_PATCH = 'refund-aware-unused-time';

/**
 * Adds what the core needs from the ledger to price a request: for an upgrade or interval switch, what the
 * period in force was paid and refunded (one local activity, behind a patch: histories from before read only
 * an interval switch's available credits, with another activity), and for a switch the plan credits still available.
 */
export async function withLedgerView(subject: Subject, state: LifecycleState, request: LifecycleRequest, at: number): Promise<LifecycleRequest> {
  if (request.kind !== 'change') return request;
  if (creditsUnusedTime(state, request.request) && patched(REFUND_AWARE_CHANGE_PATCH)) {
    const view = await ledger.changeLedgerView.executeWithOptions({ startToCloseTimeout: '30 seconds', summary: 'read refunds and credits of the period in force' }, [{
      workspaceId: subject.workspaceId, subscriptionId: subject.subscriptionId, grantKeys: state.lots.map((lot) => lot.key), at,
      switching: needsLedgerView(state, request.request),
    }]);
    return { ...request, ledger: view };
  }
  if (!needsLedgerView(state, request.request)) return request;
  const available = await ledger.availablePlanCredits({ workspaceId: subject.workspaceId, grantKeys: state.lots.map((lot) => lot.key), at });
  return { ...request, ledger: { availablePlanCredits: available } };
}

/** Makes the charge the core decided and returns its outcome (a declined card is an outcome, not a failure). */
export function charge(subject: Subject, c: Charge): Promise<ChargeOutcome> {
  return payments.charge.executeWithOptions({ startToCloseTimeout: '20 seconds', summary: c.summary }, [{
    subscriptionId: subject.subscriptionId, workspaceId: subject.workspaceId, businessKey: c.businessKey, kind: c.invoiceKind,
    lines: c.lines, at: c.at, attempt: c.attempt,
  }]);
}
