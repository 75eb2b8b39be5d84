/**
 * One workflow per subscription. It owns time: it sleeps until the next due event (refresh/renewal,
 * lot expiry, unpaid-first-invoice deadline), handles it through activities, and keeps the projection,
 * search attributes and current details up to date for operators.
 *
 * A workspace on a test clock does not use timers: its "now" is the clock time forwarded by signal,
 * and after catching up with it the workflow reports the clock time it has processed.
 */
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import { opensPeriod, periodBounds, periodOfRefresh, refreshLotExpiry } from '../domain/calendar.js';
import { planById } from '../domain/catalog.js';
import {
  clockAdvancedSignal,
  firstPaymentSettledUpdate,
  stateQuery,
  type SubscriptionInput,
  type SubscriptionState,
  type SubscriptionView,
} from './messages.js';
import { type DueEvent, nextDueEvent } from './schedule.js';
import * as attrs from './search-attributes.js';

const activities = proxyActivities<ReturnType<typeof createActivities>>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
});

/** An unpaid first invoice (declined or waiting for 3-D Secure) lapses after 23 hours. */
const INCOMPLETE_TTL_MS = 23 * 60 * 60 * 1000;
/** Continue-as-new at least this often, so a subscription-year stays a short history. */
const REFRESHES_PER_RUN = 12;

function isoDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export async function subscriptionWorkflow(input: SubscriptionInput): Promise<void> {
  const state: SubscriptionState = input.carried ?? {
    plan: input.plan,
    interval: input.interval,
    anchor: input.startedAt,
    nextRefresh: 0,
    status: 'incomplete',
    lots: [],
    incompleteDeadline: null,
    clockNow: input.testClockId ? input.startedAt : null,
    clockSynced: input.testClockId ? input.startedAt : null,
    firstPaymentSettled: false,
    version: 0,
  };
  const onClock = input.testClockId !== null;
  const now = (): number => state.clockNow ?? Date.now();

  setHandler(clockAdvancedSignal, ({ frozenTimeMs }) => {
    if (state.clockNow !== null) state.clockNow = Math.max(state.clockNow, frozenTimeMs);
  });
  setHandler(stateQuery, () => view(input.subscriptionId, state));
  setHandler(firstPaymentSettledUpdate, async () => {
    await condition(() => state.firstPaymentSettled);
    return view(input.subscriptionId, state);
  });

  if (!input.carried) {
    if (onClock) {
      // The clock may have moved between the request and this start; its signal could not reach us yet.
      const clockTime = await activities.readClockTime({ workspaceId: input.workspaceId });
      if (clockTime !== null) state.clockNow = Math.max(state.clockNow!, clockTime);
    }
    await handle({ kind: 'refresh', at: state.anchor, index: 0 });
  }

  let refreshesThisRun = 0;
  while (state.status !== 'canceled') {
    const due = nextDueEvent(state);
    if (!(await waitFor(due))) continue;
    await handle(due!);
    if (due!.kind === 'refresh' && ++refreshesThisRun >= REFRESHES_PER_RUN) break;
    if (workflowInfo().continueAsNewSuggested) break;
  }
  if (state.status !== 'canceled') {
    await condition(allHandlersFinished);
    await continueAsNew<typeof subscriptionWorkflow>({ ...input, carried: state });
  }
  // An ended subscription no longer holds its test clock back.
  if (onClock) await activities.reportClockSynced({ subscriptionId: input.subscriptionId, clockTime: null });

  /** Resolves true when `due` is reached, false when woken earlier (the clock moved but not far enough). */
  async function waitFor(due: DueEvent | undefined): Promise<boolean> {
    if (due && due.at <= now()) return true;
    const summary = due ? `${due.kind} ${new Date(due.at).toISOString()}` : 'waiting';
    if (onClock) {
      // Read the clock before reporting: an advance that lands while the report is in flight must wake us.
      const seen = state.clockNow;
      await reportClockSynced();
      await condition(() => state.clockNow !== seen);
      return due !== undefined && due.at <= now();
    }
    if (!due) {
      await condition(() => false);
      return false;
    }
    return !(await condition(() => false, due.at - now(), { summary }));
  }

  async function reportClockSynced(): Promise<void> {
    if (state.clockNow === null || state.clockSynced === state.clockNow) return;
    const clockTime = state.clockNow;
    await activities.reportClockSynced({ subscriptionId: input.subscriptionId, clockTime });
    state.clockSynced = clockTime;
  }

  async function handle(event: DueEvent): Promise<void> {
    switch (event.kind) {
      case 'expire':
        await activities.expireLot.executeWithOptions(
          { startToCloseTimeout: '1 minute', summary: `expire lot_${event.lot.lotId} at ${isoDay(event.at)}` },
          [{ workspaceId: input.workspaceId, lotId: event.lot.lotId, at: event.at }],
        );
        state.lots = state.lots.filter((lot) => lot.lotId !== event.lot.lotId);
        break;
      case 'incomplete_expiry':
        state.status = 'canceled';
        break;
      case 'refresh':
        await refresh(event.index, event.at);
        break;
    }
    await publish();
  }

  async function refresh(index: number, at: number): Promise<void> {
    const plan = planById(state.plan);
    if (opensPeriod(state.interval, index)) {
      const periodIndex = periodOfRefresh(state.interval, index);
      const { start, end } = periodBounds(state.anchor, state.interval, periodIndex);
      const charge = await activities.chargePeriod.executeWithOptions(
        { startToCloseTimeout: '1 minute', summary: `${index === 0 ? 'first charge' : 'renewal'} ${isoDay(at)}` },
        [{
          subscriptionId: input.subscriptionId, workspaceId: input.workspaceId, plan: state.plan,
          interval: state.interval, anchor: state.anchor, periodIndex, periodStart: start, periodEnd: end, at,
        }],
      );
      if (charge.status !== 'paid') {
        state.firstPaymentSettled = true;
        // Retries, dunning and 3-D Secure completion are driven by payment events (see README).
        if (index === 0) state.incompleteDeadline = at + INCOMPLETE_TTL_MS;
        else state.status = 'past_due';
        return;
      }
      state.status = 'active';
      state.incompleteDeadline = null;
    }
    const expiresAt = refreshLotExpiry(state.anchor, state.interval, index);
    const { lotId } = await activities.grantRefreshLot.executeWithOptions(
      { startToCloseTimeout: '1 minute', summary: `grant ${plan.monthlyCredits} credits, refresh ${isoDay(at)}` },
      [{
        subscriptionId: input.subscriptionId, workspaceId: input.workspaceId, anchor: state.anchor,
        refreshIndex: index, credits: plan.monthlyCredits, grantedAt: at, expiresAt,
      }],
    );
    state.lots.push({ lotId, expiresAt });
    state.nextRefresh = index + 1;
    state.firstPaymentSettled = true; // the subscribe call answers once the first credits are there
  }

  /** Projection row, search attributes and the UI's current details, after every handled event. */
  async function publish(): Promise<void> {
    state.version += 1;
    const v = view(input.subscriptionId, state);
    await activities.recordSubscription({
      subscriptionId: input.subscriptionId, version: state.version, plan: v.plan, interval: v.interval,
      status: v.status, currentPeriodStart: Date.parse(v.current_period_start),
      currentPeriodEnd: Date.parse(v.current_period_end), cancelAtPeriodEnd: v.cancel_at_period_end,
      nextDueAt: v.next_due_at === null ? null : Date.parse(v.next_due_at),
    });
    upsertSearchAttributes([
      { key: attrs.PlanId, value: v.plan },
      { key: attrs.BillingInterval, value: v.interval },
      { key: attrs.SubscriptionStatus, value: v.status },
      { key: attrs.NextDueAt, value: v.next_due_at === null ? null : new Date(v.next_due_at) },
      { key: attrs.CancelAtPeriodEnd, value: v.cancel_at_period_end },
    ]);
    const lots = state.lots.map((lot) => `lot_${lot.lotId} expires ${isoDay(lot.expiresAt)}`).join(', ') || 'none';
    setCurrentDetails(
      `**${planById(v.plan).name} (${v.interval}ly), ${v.status}**\n\n` +
        `Period ${isoDay(Date.parse(v.current_period_start))} → ${isoDay(Date.parse(v.current_period_end))}. ` +
        `Next due: ${v.next_due_at ?? 'nothing scheduled'}.\n\nLots awaiting expiry: ${lots}.`,
    );
  }
}

function view(id: string, state: SubscriptionState): SubscriptionView {
  // The period containing the last processed refresh (the first one while unpaid).
  const lastRefresh = Math.max(state.nextRefresh - 1, 0);
  const { start, end } = periodBounds(state.anchor, state.interval, periodOfRefresh(state.interval, lastRefresh));
  const due = nextDueEvent(state);
  return {
    id,
    status: state.status,
    plan: state.plan,
    interval: state.interval,
    current_period_start: new Date(start).toISOString(),
    current_period_end: new Date(end).toISOString(),
    cancel_at_period_end: false,
    next_due_at: due ? new Date(due.at).toISOString() : null,
  };
}
