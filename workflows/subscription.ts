/**
 * The shell of one subscription (SPEC §4): every decision is the lifecycle core's (domain/lifecycle/);
 * this workflow holds the state, waits for the next due event (a durable timer, or the test clock),
 * applies requests one at a time between due events, carries out the core's effects through activities,
 * publishes the view and continues-as-new with the state. A workspace on a test clock follows the clock
 * time forwarded by signal and reports the time it has caught up with.
 */
import {
  allHandlersFinished, ApplicationFailure, condition, continueAsNew, setHandler, workflowInfo,
} from '@temporalio/workflow';
import {
  afterCharge, afterLapse, type DueEvent, initialState, type LifecycleRequest, type LifecycleState, nextDueEvent, onDue, onRequest,
  type Reply, startCycle, type Step, viewOf,
} from '../domain/lifecycle/index.js';
import { Refusal } from '../domain/refusals.js';
import { charge, ledger, payments, perform, withLedgerView } from './effects.js';
import {
  cancelNowUpdate, cancelUpdate, changePlanUpdate, type ChangeResult, clockAdvancedSignal, firstPaymentSettledUpdate, lifecycleStateQuery, pauseUpdate, paymentEventSignal,
  paymentMethodUpdatedSignal, resumeUpdate, type ShellState, stateQuery, type SubscriptionInput, type SubscriptionView,
  withdrawScheduledChangeUpdate,
} from './messages.js';
import { draftAtConfirmedAmount } from './confirmed-charge.js';
import { createPublisher } from './publication.js';

/** Continue-as-new at least this often, so histories stay short. */
const REFRESHES_PER_RUN = 12;

interface Queued {
  request: LifecycleRequest;
  /** A change confirmed at this amount due (cents): its invoice is drafted and compared first. */
  expectedAmountDueCents?: number;
  done: (result: unknown) => void;
  fail: (error: unknown) => void;
}

/** A refusal leaves the workflow as a non-retryable failure whose type is the refusal code (the API maps it to a status). */
function failureOf(error: unknown): unknown {
  if (!(error instanceof Refusal)) return error;
  return ApplicationFailure.create({ type: error.code, message: error.message, nonRetryable: true, details: [error.detail] });
}

export async function subscriptionLifecycleWorkflow(input: SubscriptionInput): Promise<void> {
  const subject = { subscriptionId: input.subscriptionId, workspaceId: input.workspaceId };
  let state: LifecycleState = input.carried?.core ?? initialState(input);
  const shell: ShellState = input.carried?.shell ?? {
    clockNow: input.testClockId ? input.startedAt : null, clockSynced: input.testClockId ? input.startedAt : null,
    firstPaymentSettled: false, version: 0,
  };
  const now = (): number => shell.clockNow ?? Date.now();
  const publish = createPublisher(input.testClockId);
  const queue: Queued[] = [];

  /** Requests are applied by the main loop, in arrival order, between due events. */
  const enqueue = <T>(request: LifecycleRequest, expectedAmountDueCents?: number) =>
    new Promise<T>((done, fail) => queue.push({ request, expectedAmountDueCents, done: done as (r: unknown) => void, fail }));
  /** Validators decide on the current state, purely: a refused request never enters history. */
  const validate = (request: LifecycleRequest) => {
    try {
      onRequest(state, request, now());
    } catch (error) {
      throw failureOf(error);
    }
  };

  setHandler(clockAdvancedSignal, ({ frozenTimeMs }) => {
    if (shell.clockNow !== null) shell.clockNow = Math.max(shell.clockNow, frozenTimeMs);
  });
  setHandler(paymentEventSignal, (event) => void enqueue({ kind: 'payment', event }).catch(() => {}));
  setHandler(paymentMethodUpdatedSignal, () => void enqueue({ kind: 'payment_method_updated' }).catch(() => {}));
  setHandler(stateQuery, () => viewOf(state));
  setHandler(lifecycleStateQuery, () => state);
  setHandler(firstPaymentSettledUpdate, async () => {
    await condition(() => shell.firstPaymentSettled);
    return viewOf(state);
  });
  setHandler(changePlanUpdate, ({ expectedAmountDueCents, ...request }) => enqueue<ChangeResult>({ kind: 'change', request }, expectedAmountDueCents),
    { validator: (request) => validate({ kind: 'change', request }) });
  setHandler(withdrawScheduledChangeUpdate, () => enqueue<SubscriptionView>({ kind: 'withdraw' }), { validator: () => validate({ kind: 'withdraw' }) });
  setHandler(cancelUpdate, () => enqueue<SubscriptionView>({ kind: 'cancel' }), { validator: () => validate({ kind: 'cancel' }) });
  setHandler(cancelNowUpdate, () => enqueue<SubscriptionView>({ kind: 'cancel_now' }), { validator: () => validate({ kind: 'cancel_now' }) });
  setHandler(resumeUpdate, () => enqueue<SubscriptionView>({ kind: 'resume' }), { validator: () => validate({ kind: 'resume' }) });
  setHandler(pauseUpdate, ({ cycles }) => enqueue<SubscriptionView>({ kind: 'pause', cycles }),
    { validator: ({ cycles }) => validate({ kind: 'pause', cycles }) });

  /** Carries out a step: its effects, then its charge, whose outcome the core turns into the next step. */
  async function run(first: Step): Promise<unknown> {
    let step = first;
    for (;;) {
      await perform(subject, step.effects);
      state = step.state;
      if (step.charge) step = afterCharge(state, step.charge, await charge(subject, step.charge));
      else if (step.lapse) step = afterLapse(state, step.lapse, await payments.voidInvoice({ invoiceId: step.lapse.invoiceId }));
      else break;
    }
    if (step.refusal) throw failureOf(step.refusal);
    return answer(step.reply);
  }
  const answer = (reply: Reply | undefined) => (reply?.kind === 'change' ? reply.result : viewOf(state));

  if (!input.carried) {
    if (input.testClockId) {
      // The clock may have moved between the request and this start; its signal could not reach us yet.
      const clockTime = await ledger.readClockTime({ workspaceId: input.workspaceId });
      if (clockTime !== null) shell.clockNow = Math.max(shell.clockNow!, clockTime);
    }
    await run(startCycle(state, state.anchor, 'subscribe'));
    shell.firstPaymentSettled = true;
  }

  let refreshes = 0;
  // Drain before continue-as-new: a message that arrives while publishing is applied, never dropped.
  for (;;) {
    for (;;) {
      const due = nextDueEvent(state);
      if (due && due.at <= now()) {
        await run(onDue(state, due));
        if (due.kind === 'refresh') refreshes += 1;
      } else if (queue.length > 0) {
        const item = queue.shift()!;
        try {
          const step = onRequest(state, await withLedgerView(subject, state, item.request, now()), now());
          // Only Updates that carry a confirmed amount add this activity: histories without one replay unchanged.
          if (item.expectedAmountDueCents !== undefined) await draftAtConfirmedAmount(subject, step, item.expectedAmountDueCents);
          item.done(await run(step));
        } catch (error) {
          item.fail(failureOf(error));
        }
      } else if (refreshes >= REFRESHES_PER_RUN || workflowInfo().continueAsNewSuggested) {
        break;
      } else {
        await idle(due);
      }
    }
    await publish(state, viewOf(state), shell);
    await condition(() => queue.length > 0 || allHandlersFinished());
    if (queue.length === 0) break;
  }
  await continueAsNew<typeof subscriptionLifecycleWorkflow>({ ...input, carried: { core: state, shell } });

  /** Waits until `due` is reached, a request arrives or (on a test clock) the clock moves; publishes first. */
  async function idle(due: DueEvent | undefined): Promise<void> {
    await publish(state, viewOf(state), shell);
    if (input.testClockId) {
      // Read the clock before reporting: an advance that lands while the report is in flight must wake us.
      const seen = shell.clockNow!;
      if (shell.clockSynced !== seen) {
        await ledger.reportClockSynced({ subscriptionId: input.subscriptionId, clockTime: seen });
        shell.clockSynced = seen;
      }
      await condition(() => shell.clockNow !== seen || queue.length > 0);
    } else if (!due) {
      await condition(() => queue.length > 0);
    } else {
      await condition(() => queue.length > 0, due.at - now(), { summary: `${due.kind.replace('_', ' ')} ${new Date(due.at).toISOString()}` });
    }
  }
}
