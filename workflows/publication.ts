/**
 * What operators and the API see of a running subscription: the projection row in Postgres, the typed
 * search attributes and the Temporal UI's current details, all from the core's view. Each write to the
 * projection or the search attributes is a history event, so they are written only when what they show
 * changed; the current details (not in history) are refreshed on every publication.
 */
import { condition, setCurrentDetails, upsertSearchAttributes } from '@temporalio/workflow';
import { isoDay } from '../domain/calendar.js';
import { planById } from '../domain/catalog.js';
import { type LifecycleState, nextDueEvent, type SubscriptionView } from '../domain/lifecycle/index.js';
import { ledger } from './effects.js';
import type { ShellState } from './messages.js';
import * as attrs from './search-attributes.js';

export function createPublisher(testClockId: string | null) {
  let lastProjection = '';
  let lastAttributes = '';
  return async function publish(state: LifecycleState, v: SubscriptionView, shell: ShellState): Promise<void> {
    describeForOperators(state, v, shell, testClockId);
    const shown = JSON.stringify(v);
    if (shown !== lastProjection) {
      lastProjection = shown;
      shell.version += 1;
      await ledger.recordSubscription({
        subscriptionId: v.id, version: shell.version, plan: v.plan, interval: v.interval, status: v.status,
        currentPeriodStart: Date.parse(v.current_period_start), currentPeriodEnd: Date.parse(v.current_period_end),
        cancelAtPeriodEnd: v.cancel_at_period_end, nextDueAt: v.next_due_at === null ? null : Date.parse(v.next_due_at),
        scheduledChange: v.scheduled_change, pause: v.pause, pendingUpgrade: v.pending_upgrade, incompletePayment: v.incomplete_payment,
      });
    }
    const attributes = JSON.stringify([v.plan, v.interval, v.status, v.next_due_at, v.cancel_at_period_end]);
    if (attributes !== lastAttributes) {
      lastAttributes = attributes;
      await nextConditionRound();
      upsertSearchAttributes([
        { key: attrs.PlanId, value: v.plan },
        { key: attrs.BillingInterval, value: v.interval },
        { key: attrs.SubscriptionStatus, value: v.status },
        { key: attrs.NextDueAt, value: v.next_due_at === null ? null : new Date(v.next_due_at) },
        { key: attrs.CancelAtPeriodEnd, value: v.cancel_at_period_end },
      ]);
    }
  };
}

/**
 * Resolves at the activation's next condition round, after every promise chain already running in it has
 * run to its end: an Update answered in this activation (firstPaymentSettled, whose waiter is already
 * satisfied) has its completion among the commands before whatever the caller emits next.
 *
 * Why (issue 15, test/workflows/replay-update-nondeterminism.test.ts): live, an Update that arrives while
 * recordSubscription (a local activity) is running is answered in its own activation and the upsert comes
 * in a later one, so history has the Update's completion first. On replay the core resolves that local
 * activity from its marker in the same activation as the Update, and the upsert, fewer microtasks behind
 * the local activity's result than the completion behind the handler, came first: TMPRL1100
 * `UpsertWorkflowSearchAttributesMachine does not handle HistoryEvent(WorkflowExecutionUpdateCompleted)`.
 * Waiting for the condition round makes the order the same however the core groups jobs into activations.
 * No command, no timer: `condition` evaluates eagerly once (the flag turns and it stays blocked), then again
 * when the SDK re-checks blocked conditions after the activation's microtasks have drained.
 */
function nextConditionRound(): Promise<void> {
  let checked = false;
  return condition(() => {
    if (checked) return true;
    checked = true;
    return false;
  });
}

function describeForOperators(state: LifecycleState, v: SubscriptionView, shell: ShellState, testClockId: string | null): void {
  const next = nextDueEvent(state);
  const lots = state.lots.map((lot) => `${lot.key} expires ${isoDay(lot.expiresAt)}`).join(', ') || 'none';
  setCurrentDetails([
    `**${planById(v.plan).name} (${v.interval}ly), ${v.status}**${v.cancel_at_period_end ? ', ends at period end' : ''}`,
    testClockId ? `On test clock ${testClockId}: waits for the clock to advance (clock time ${shell.clockNow === null ? '?' : new Date(shell.clockNow).toISOString()}).` : '',
    `Period ${v.current_period_start.slice(0, 10)} → ${v.current_period_end.slice(0, 10)}.`,
    `Next due event: ${next ? `${next.kind.replace('_', ' ')} at ${new Date(next.at).toISOString()}` : 'none'}.`,
    `Next charge: ${v.next_due_at ?? 'none scheduled'}.`,
    v.scheduled_change ? `Change to ${v.scheduled_change.plan} at ${v.scheduled_change.effective_at}.` : '',
    v.pending_upgrade ? `Change to ${v.pending_upgrade.plan} waits for 3-D Secure until ${v.pending_upgrade.expires_at}.` : '',
    v.incomplete_payment ? `First payment ${v.incomplete_payment.outcome} (invoice ${v.incomplete_payment.invoice_id}) until ${v.incomplete_payment.expires_at}.` : '',
    state.dunning ? `Past due since ${isoDay(state.dunning.dueAt)}, ${state.dunning.retries} retries so far.` : '',
    `Lots awaiting expiry: ${lots}.`,
  ].filter(Boolean).join('\n\n'));
}
