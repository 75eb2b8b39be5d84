/**
 * FROZEN: the first workflow type, kept so subscriptions started before the lifecycle core (and the
 * committed histories in test/histories/) replay unchanged. New subscriptions run
 * `subscriptionLifecycleWorkflow` (workflows/subscription.ts). Do not change behaviour here.
 *
 * One workflow per subscription. It owns time: it sleeps until the next due event (refresh/renewal,
 * lot expiry, dunning retry, pause end, unpaid-invoice deadlines), handles it through activities, and
 * applies customer requests (Updates) one at a time between due events, so nothing interleaves.
 *
 * A workspace on a test clock does not use timers: its "now" is the clock time forwarded by signal;
 * after handling everything due up to that time the workflow reports the clock time it has reached.
 *
 * History budget: ledger and projection writes are local activities (one marker event each); only
 * payment calls are regular activities.
 */
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  patched,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { ChargeOutcome, createActivities } from '../../activities/index.js';
import { addMonthsClamped, isoDay, MONTHLY_PERIOD_MS, opensPeriod, periodBounds, periodOfRefresh, refreshLotExpiry } from '../../domain/calendar.js';
import { planById } from '../../domain/catalog.js';
import {
  assertCancelAllowed, assertPauseAllowed, assertWithdrawAllowed, currentPeriod, planChange, refuse, resumption,
} from './changes.js';
import {
  cancelUpdate, changePlanUpdate, type ChangeRequest, clockAdvancedSignal, firstPaymentSettledUpdate,
  pauseUpdate, type PaymentEvent, paymentEventSignal, paymentMethodUpdatedSignal, resumeUpdate, stateQuery,
  withdrawScheduledChangeUpdate,
} from '../messages.js';
import type { ChangeResult, SubscriptionInput, SubscriptionState, SubscriptionView } from './types.js';
import { type DueEvent, nextBillingAt, nextDueEvent, RETRY_AFTER_DAYS } from './schedule.js';
import * as attrs from '../search-attributes.js';

type Activities = ReturnType<typeof createActivities>;
// Every side effect runs as a local activity: one marker event each instead of an activity's three
// events and an extra workflow task, which keeps a subscription-year well inside the history budget.
// A payment call takes seconds; after a worker dies mid-call the workflow task times out and the call is
// repeated on another worker, safely: every charge and grant is idempotent by its business key.
const payments = proxyLocalActivities<Activities>({
  startToCloseTimeout: '20 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
});
const ledger = proxyLocalActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

/** An unpaid first invoice or pending change (declined, or waiting for 3-D Secure) lapses after 23 hours. */
const UNPAID_TTL_MS = 23 * 60 * 60 * 1000;
/** Continue-as-new at least this often, so histories stay short. */
const REFRESHES_PER_RUN = 12;
const SEEN_EVENTS_KEPT = 50;

type Message =
  | { kind: 'change'; request: ChangeRequest }
  | { kind: 'withdraw' }
  | { kind: 'cancel' }
  | { kind: 'resume' }
  | { kind: 'pause'; cycles: number }
  | { kind: 'payment'; event: PaymentEvent }
  | { kind: 'payment_method_updated' };

interface Queued {
  message: Message;
  done: (result: unknown) => void;
  fail: (error: unknown) => void;
}

function initialState(input: SubscriptionInput): SubscriptionState {
  return {
    plan: input.plan, interval: input.interval, anchor: input.startedAt, nextRefresh: 0, status: 'incomplete',
    lots: [], currentLotExpiresAt: null, incomplete: null, cancelAtPeriodEnd: false, scheduledChange: null,
    pause: null, dunning: null, pendingChange: null,
    clockNow: input.testClockId ? input.startedAt : null, clockSynced: input.testClockId ? input.startedAt : null,
    firstPaymentSettled: false, seenPaymentEvents: [], version: 0,
  };
}

export async function subscriptionWorkflow(input: SubscriptionInput): Promise<void> {
  const state: SubscriptionState = input.carried ?? initialState(input);
  const { subscriptionId, workspaceId } = input;
  const onClock = input.testClockId !== null;
  const now = (): number => state.clockNow ?? Date.now();
  const queue: Queued[] = [];
  let lastAttributes = '';
  let lastPublished = '';

  /** Requests are applied by the main loop, in arrival order, between due events. */
  function enqueue<T>(message: Message): Promise<T> {
    return new Promise<T>((done, fail) => queue.push({ message, done: done as (r: unknown) => void, fail }));
  }

  setHandler(clockAdvancedSignal, ({ frozenTimeMs }) => {
    if (state.clockNow !== null) state.clockNow = Math.max(state.clockNow, frozenTimeMs);
  });
  setHandler(paymentEventSignal, (event) => void enqueue({ kind: 'payment', event }).catch(() => {}));
  setHandler(paymentMethodUpdatedSignal, () => void enqueue({ kind: 'payment_method_updated' }).catch(() => {}));
  setHandler(stateQuery, () => view(subscriptionId, state));
  setHandler(firstPaymentSettledUpdate, async () => {
    await condition(() => state.firstPaymentSettled);
    return view(subscriptionId, state);
  });
  // Validators refuse before anything enters history; handlers re-check when their turn comes.
  setHandler(changePlanUpdate, (request) => enqueue<ChangeResult>({ kind: 'change', request }), {
    validator: (request) => void planChange(state, request, now()),
  });
  setHandler(withdrawScheduledChangeUpdate, () => enqueue<SubscriptionView>({ kind: 'withdraw' }), {
    validator: () => assertWithdrawAllowed(state),
  });
  setHandler(cancelUpdate, () => enqueue<SubscriptionView>({ kind: 'cancel' }), { validator: () => assertCancelAllowed(state) });
  setHandler(resumeUpdate, () => enqueue<SubscriptionView>({ kind: 'resume' }), { validator: () => void resumption(state) });
  setHandler(pauseUpdate, ({ cycles }) => enqueue<SubscriptionView>({ kind: 'pause', cycles }), {
    validator: ({ cycles }) => assertPauseAllowed(state, cycles),
  });

  if (!input.carried) {
    if (onClock) {
      // The clock may have moved between the request and this start; its signal could not reach us yet.
      const clockTime = await ledger.readClockTime({ workspaceId });
      if (clockTime !== null) state.clockNow = Math.max(state.clockNow!, clockTime);
    }
    await startCycle(state.anchor, 'subscribe');
  }

  let refreshesThisRun = 0;
  for (;;) {
    const due = nextDueEvent(state);
    if (due && due.at <= now()) {
      await handleDue(due);
      if (due.kind === 'refresh' && ++refreshesThisRun >= REFRESHES_PER_RUN && queue.length === 0) break;
    } else if (queue.length > 0) {
      const item = queue.shift()!;
      try {
        item.done(await apply(item.message));
      } catch (error) {
        item.fail(error);
      }
    } else if (workflowInfo().continueAsNewSuggested) {
      break;
    } else {
      await idle(due);
    }
  }
  await publish();
  await condition(allHandlersFinished);
  await continueAsNew<typeof subscriptionWorkflow>({ ...input, carried: state });

  /**
   * Waits until `due` is reached, a request arrives or (on a test clock) the clock moves. Everything due
   * so far is handled, so this is where the state is published (update replies leave with this task).
   */
  async function idle(due: DueEvent | undefined): Promise<void> {
    await publish();
    if (onClock) {
      // Read the clock before reporting: an advance that lands while the report is in flight must wake us.
      const seen = state.clockNow!; // set from the start on a clock workspace
      if (state.clockSynced !== seen) {
        await ledger.reportClockSynced({ subscriptionId, clockTime: seen });
        state.clockSynced = seen;
      }
      await condition(() => state.clockNow !== seen || queue.length > 0);
      return;
    }
    const summary = due ? `${due.kind.replace('_', ' ')} ${new Date(due.at).toISOString()}` : 'waiting for requests';
    if (!due) await condition(() => queue.length > 0);
    else await condition(() => queue.length > 0, due.at - now(), { summary });
  }

  async function handleDue(event: DueEvent): Promise<void> {
    switch (event.kind) {
      case 'expire':
        await ledger.expireLot.executeWithOptions(
          { startToCloseTimeout: '30 seconds', summary: `expire lot_${event.lot.lotId} at ${isoDay(event.at)}` },
          [{ workspaceId, lotId: event.lot.lotId, at: event.at }],
        );
        state.lots = state.lots.filter((lot) => lot.lotId !== event.lot.lotId);
        return;
      case 'incomplete_expiry':
        await payments.voidInvoice({ invoiceId: state.incomplete!.invoiceId });
        state.incomplete = null;
        state.status = 'canceled';
        return;
      case 'pending_change_expiry':
        await payments.voidInvoice({ invoiceId: state.pendingChange!.invoiceId });
        state.pendingChange = null;
        return;
      case 'dunning_retry':
        await retryRenewal(event.at, true);
        return;
      case 'pause_end':
        if (state.cancelAtPeriodEnd) return endSubscription(event.at);
        await startCycle(event.at, 'resume');
        return;
      case 'refresh':
        return refresh(event.index, event.at);
    }
  }

  /** Refresh i: a renewal when it opens a period (cancel, pause or downgrade take effect here), else a grant. */
  async function refresh(index: number, at: number): Promise<void> {
    if (!opensPeriod(state.interval, index)) return grantRefresh(index, at, at);
    if (state.cancelAtPeriodEnd) return endSubscription(at);
    if (state.pause && state.pause.resumesAt === null) {
      state.status = 'paused';
      state.pause.resumesAt = state.interval === 'month'
        ? at + state.pause.cycles * MONTHLY_PERIOD_MS
        : addMonthsClamped(at, 12 * state.pause.cycles);
      return;
    }
    if (state.scheduledChange) await applyDowngrade(state.scheduledChange.plan, at);
    const outcome = await chargePeriod(index, at, 0);
    if (outcome.status === 'paid') return grantRefresh(index, at, at);
    state.status = 'past_due';
    state.dunning = { refreshIndex: index, dueAt: at, invoiceId: outcome.invoiceId, retries: 0, attempts: 0 };
    await ledger.notify({
      workspaceId, kind: 'payment_failed', dedupeKey: `${outcome.invoiceId}:failed:0`, at,
      payload: { invoice_id: outcome.invoiceId, reason: outcome.status === 'declined' ? outcome.code : 'authentication_required' },
    });
  }

  function chargePeriod(index: number, at: number, attempt: number): Promise<ChargeOutcome> {
    const periodIndex = periodOfRefresh(state.interval, index);
    const { start, end } = periodBounds(state.anchor, state.interval, periodIndex);
    const what = attempt > 0 ? `retry ${attempt} of renewal` : index === 0 ? 'first charge' : 'renewal';
    return payments.chargePeriod.executeWithOptions(
      { startToCloseTimeout: '20 seconds', summary: `${what} ${isoDay(at)}: ${planById(state.plan).name}` },
      [{ subscriptionId, workspaceId, plan: state.plan, interval: state.interval, anchor: state.anchor, periodIndex,
        periodStart: start, periodEnd: end, at, attempt }],
    );
  }

  /** Grants refresh i's lot; its expiry is fixed by the calendar even when the payment came late. */
  async function grantRefresh(index: number, grantedAt: number, scheduledAt: number): Promise<void> {
    const plan = planById(state.plan);
    const expiresAt = refreshLotExpiry(state.anchor, state.interval, index);
    const { lotId } = await ledger.grantLot.executeWithOptions(
      { startToCloseTimeout: '30 seconds', summary: `grant ${plan.monthlyCredits} credits, refresh ${isoDay(scheduledAt)}` },
      [{ key: `${subscriptionId}:${state.anchor}:refresh:${index}:grant`, workspaceId, source: 'monthly',
        credits: plan.monthlyCredits, grantedAt, expiresAt }],
    );
    state.lots.push({ lotId, expiresAt });
    state.currentLotExpiresAt = expiresAt;
    state.nextRefresh = index + 1;
    state.status = 'active';
  }

  /**
   * Starts a billing cycle anchored at `at`: the first subscribe, the end of a pause, or a restart
   * after cancellation. The first period is charged now; credits come once it is paid.
   */
  async function startCycle(at: number, reason: 'subscribe' | 'resume' | 'restart'): Promise<ChargeOutcome> {
    state.anchor = at;
    state.nextRefresh = 0;
    state.pause = null;
    state.cancelAtPeriodEnd = false;
    const outcome = await chargePeriod(0, at, 0);
    if (outcome.status === 'paid') {
      await grantRefresh(0, at, at);
      if (reason !== 'resume') await ledger.thawPacks({ key: `${subscriptionId}:${at}:thaw`, subscriptionId, workspaceId, at });
    } else if (reason === 'resume') {
      state.status = 'past_due';
      state.dunning = { refreshIndex: 0, dueAt: at, invoiceId: outcome.invoiceId, retries: 0, attempts: 0 };
    } else {
      state.status = reason === 'subscribe' ? 'incomplete' : state.status;
      state.incomplete = { invoiceId: outcome.invoiceId, deadline: at + UNPAID_TTL_MS };
    }
    state.firstPaymentSettled = true;
    return outcome;
  }

  /**
   * Charges a past-due renewal again: on the dunning schedule, or at once when the customer updated the
   * payment method (which does not use up a scheduled retry). After the last scheduled retry, it ends.
   */
  async function retryRenewal(at: number, scheduled: boolean): Promise<void> {
    const dunning = state.dunning!;
    dunning.attempts += 1;
    if (scheduled) dunning.retries += 1;
    const outcome = await chargePeriod(dunning.refreshIndex, at, dunning.attempts);
    if (outcome.status === 'paid') return settleRenewal(outcome.paidAt);
    if (scheduled && dunning.retries >= RETRY_AFTER_DAYS.length) return endSubscription(at);
    await ledger.notify({
      workspaceId, kind: 'payment_failed', dedupeKey: `${dunning.invoiceId}:failed:${dunning.attempts}`, at,
      payload: { invoice_id: dunning.invoiceId, attempts: dunning.attempts + 1 },
    });
  }

  /** A past-due renewal was paid: the lot is granted now, with the expiry its period would have had. */
  async function settleRenewal(paidAt: number): Promise<void> {
    const { refreshIndex, dueAt } = state.dunning!;
    state.dunning = null;
    await grantRefresh(refreshIndex, paidAt, dueAt);
  }

  /** End of the last period: no further renewals, plan credits forfeited, packs frozen. */
  async function endSubscription(at: number): Promise<void> {
    if (state.dunning) await payments.voidInvoice({ invoiceId: state.dunning.invoiceId });
    await ledger.endPlanCredits({ key: `${subscriptionId}:${state.anchor}:end:${at}`, subscriptionId, workspaceId, at });
    Object.assign(state, { status: 'canceled', lots: [], currentLotExpiresAt: null, cancelAtPeriodEnd: false,
      scheduledChange: null, pause: null, dunning: null, pendingChange: null });
  }

  async function applyDowngrade(plan: string, at: number): Promise<void> {
    const target = planById(plan);
    state.plan = plan;
    state.scheduledChange = null;
    const { deactivated } = await ledger.deactivateCustomModels({ workspaceId, keep: target.customModelLimit });
    await ledger.notify({
      workspaceId, kind: 'downgrade_applied', dedupeKey: `${subscriptionId}:${at}:downgrade`, at,
      payload: { plan, deactivated_custom_models: deactivated },
    });
  }

  async function apply(message: Message): Promise<unknown> {
    switch (message.kind) {
      case 'change':
        return changePlan(message.request);
      case 'withdraw':
        assertWithdrawAllowed(state);
        state.scheduledChange = null;
        return view(subscriptionId, state);
      case 'cancel':
        assertCancelAllowed(state);
        // Nothing paid is left to use while past due: the subscription ends now.
        if (state.status === 'past_due') await endSubscription(now());
        else state.cancelAtPeriodEnd = true;
        return view(subscriptionId, state);
      case 'pause':
        assertPauseAllowed(state, message.cycles);
        state.pause = { cycles: message.cycles, resumesAt: null };
        return view(subscriptionId, state);
      case 'resume':
        return resume();
      case 'payment':
        return onPaymentEvent(message.event);
      case 'payment_method_updated':
        if (state.dunning) await retryRenewal(now(), false);
        return undefined;
    }
  }

  async function resume(): Promise<SubscriptionView> {
    switch (resumption(state)) {
      case 'withdraw_cancel':
        state.cancelAtPeriodEnd = false;
        break;
      case 'withdraw_pause':
        state.pause = null;
        break;
      case 'end_pause':
        await startCycle(now(), 'resume');
        break;
      case 'restart': {
        const outcome = await startCycle(now(), 'restart');
        if (outcome.status === 'declined') {
          // Nothing restarts on a declined card: the invoice is voided and the subscription stays canceled.
          await payments.voidInvoice({ invoiceId: outcome.invoiceId });
          state.incomplete = null;
          refuse('payment_declined', `the payment was declined (${outcome.code})`, 402);
        }
        break;
      }
    }
    return view(subscriptionId, state);
  }

  async function changePlan(request: ChangeRequest): Promise<ChangeResult> {
    const at = now();
    const change = planChange(state, request, at);
    if (change.kind === 'downgrade') {
      state.scheduledChange = { plan: change.plan };
      return { kind: 'downgrade', effective_at: new Date(change.effectiveAt).toISOString() };
    }
    const interval = change.kind === 'interval_switch' ? change.interval : state.interval;
    const outcome = await payments.chargeChange.executeWithOptions(
      { startToCloseTimeout: '20 seconds', summary: `${change.kind.replace('_', ' ')} to ${change.plan} ${interval}ly` },
      [{ subscriptionId, workspaceId, kind: change.kind, lines: change.lines, at,
        businessKey: `${subscriptionId}:${state.anchor}:${change.kind}:${change.plan}:${interval}:${at}` }],
    );
    if (outcome.status === 'declined') {
      // A refused change leaves nothing payable behind (recorded runs before this fix did not void it).
      if (patched('void-declined-change-invoice')) await payments.voidInvoice({ invoiceId: outcome.invoiceId });
      refuse('payment_declined', `the payment was declined (${outcome.code})`, 402);
    }
    const credits = change.kind === 'upgrade' ? change.credits : planById(change.plan).monthlyCredits;
    if (outcome.status === 'requires_action') {
      state.pendingChange = { kind: change.kind, plan: change.plan, interval, credits, invoiceId: outcome.invoiceId,
        requestedAt: at, deadline: at + UNPAID_TTL_MS };
      return { kind: change.kind, effective_at: null, invoice_id: outcome.invoiceId, credits_granted: 0, pending: true };
    }
    const granted = await applyPaidChange({ kind: change.kind, plan: change.plan, interval, credits, requestedAt: at }, outcome.paidAt);
    return { kind: change.kind, effective_at: new Date(at).toISOString(), invoice_id: outcome.invoiceId, credits_granted: granted };
  }

  /** An upgrade or interval switch was paid (at once, or later through 3-D Secure): apply it. */
  async function applyPaidChange(
    change: { kind: 'upgrade' | 'interval_switch'; plan: string; interval: SubscriptionState['interval']; credits: number; requestedAt: number },
    paidAt: number,
  ): Promise<number> {
    state.scheduledChange = null;
    state.pendingChange = null;
    if (change.kind === 'upgrade') {
      state.plan = change.plan;
      if (change.credits <= 0 || state.currentLotExpiresAt === null) return 0;
      const { lotId } = await ledger.grantLot({
        key: `${subscriptionId}:${state.anchor}:upgrade:${change.plan}:${change.requestedAt}`, workspaceId, source: 'upgrade',
        credits: change.credits, grantedAt: paidAt, expiresAt: state.currentLotExpiresAt,
      });
      state.lots.push({ lotId, expiresAt: state.currentLotExpiresAt });
      return change.credits;
    }
    // Interval switch: a new cycle anchored at the switch; existing lots keep their expiry.
    state.plan = change.plan;
    state.interval = change.interval;
    state.anchor = change.requestedAt;
    state.pause = null;
    await grantRefresh(0, paidAt, change.requestedAt);
    return planById(change.plan).monthlyCredits;
  }

  async function onPaymentEvent(event: PaymentEvent): Promise<void> {
    if (state.seenPaymentEvents.includes(event.eventId)) return;
    state.seenPaymentEvents = [...state.seenPaymentEvents, event.eventId].slice(-SEEN_EVENTS_KEPT);
    if (event.type !== 'invoice.paid') return;
    const at = now();
    if (state.incomplete?.invoiceId === event.invoiceId) {
      state.incomplete = null;
      await grantRefresh(0, at, state.anchor);
      await ledger.thawPacks({ key: `${subscriptionId}:${state.anchor}:thaw`, subscriptionId, workspaceId, at });
    } else if (state.dunning?.invoiceId === event.invoiceId) {
      await settleRenewal(at);
    } else if (state.pendingChange?.invoiceId === event.invoiceId) {
      await applyPaidChange(state.pendingChange, at);
    }
  }

  /**
   * The UI's current details always; the projection row and search attributes only when what they show
   * has changed (each write is a history event).
   */
  async function publish(): Promise<void> {
    const v = view(subscriptionId, state);
    describeForOperators(v);
    const shown = JSON.stringify(v);
    if (shown === lastPublished) return;
    lastPublished = shown;
    state.version += 1;
    await ledger.recordSubscription({
      subscriptionId, version: state.version, plan: v.plan, interval: v.interval, status: v.status,
      currentPeriodStart: Date.parse(v.current_period_start), currentPeriodEnd: Date.parse(v.current_period_end),
      cancelAtPeriodEnd: v.cancel_at_period_end, nextDueAt: v.next_due_at === null ? null : Date.parse(v.next_due_at),
      scheduledChange: v.scheduled_change, pause: v.pause, pendingUpgrade: v.pending_upgrade,
    });
    const attributes = JSON.stringify([v.plan, v.interval, v.status, v.next_due_at, v.cancel_at_period_end]);
    if (attributes !== lastAttributes) {
      lastAttributes = attributes;
      upsertSearchAttributes([
        { key: attrs.PlanId, value: v.plan },
        { key: attrs.BillingInterval, value: v.interval },
        { key: attrs.SubscriptionStatus, value: v.status },
        { key: attrs.NextDueAt, value: v.next_due_at === null ? null : new Date(v.next_due_at) },
        { key: attrs.CancelAtPeriodEnd, value: v.cancel_at_period_end },
      ]);
    }
  }

  function describeForOperators(v: SubscriptionView): void {
    const next = nextDueEvent(state);
    const lots = state.lots.map((lot) => `lot_${lot.lotId} expires ${isoDay(lot.expiresAt)}`).join(', ') || 'none';
    setCurrentDetails([
      `**${planById(v.plan).name} (${v.interval}ly), ${v.status}**${v.cancel_at_period_end ? ', ends at period end' : ''}`,
      `Period ${isoDay(Date.parse(v.current_period_start))} → ${isoDay(Date.parse(v.current_period_end))}.`,
      `Next due event: ${next ? `${next.kind.replace('_', ' ')} at ${new Date(next.at).toISOString()}` : 'none'}.`,
      `Next charge: ${v.next_due_at ?? 'none scheduled'}.`,
      state.scheduledChange ? `Downgrade to ${state.scheduledChange.plan} at the period end.` : '',
      state.dunning ? `Past due since ${isoDay(state.dunning.dueAt)}, ${state.dunning.retries} retries so far.` : '',
      `Lots awaiting expiry: ${lots}.`,
    ].filter(Boolean).join('\n\n'));
  }
}

function view(id: string, state: SubscriptionState): SubscriptionView {
  const period = currentPeriod(state);
  const next = nextBillingAt(state);
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    id,
    status: state.status,
    plan: state.plan,
    interval: state.interval,
    current_period_start: iso(period.start),
    current_period_end: iso(period.end),
    cancel_at_period_end: state.cancelAtPeriodEnd,
    scheduled_change: state.scheduledChange ? { plan: state.scheduledChange.plan, effective_at: iso(period.end) } : null,
    pause: state.pause
      ? { cycles: state.pause.cycles, starts_at: state.pause.resumesAt === null ? iso(period.end) : null,
          resumes_at: state.pause.resumesAt === null ? null : iso(state.pause.resumesAt) }
      : null,
    pending_upgrade: state.pendingChange
      ? { plan: state.pendingChange.plan, interval: state.pendingChange.interval, invoice_id: state.pendingChange.invoiceId,
          expires_at: iso(state.pendingChange.deadline) }
      : null,
    incomplete_payment: null,
    next_due_at: next === null ? null : iso(next),
  };
}
