/**
 * The subscription lifecycle as a functional core (SPEC §2, §4): state, due events and decisions as pure
 * functions returning the new state and the effects to carry out. `workflows/subscription.ts` is the shell.
 *
 * Where each rule lives: schedule.ts (periods, due events, next charge), cycle.ts (grants, period charges,
 * downgrade, end), due.ts (renewal, refresh, pause start/end, expiry, dunning, lapses), changes.ts
 * (upgrade, downgrade, interval switch), requests.ts (cancel, pause, resume, new card, payment events),
 * outcomes.ts (what a charge's outcome and a lapse's void do), view.ts (what is shown), effects.ts (effects,
 * business keys, lines), status.ts (live statuses). A decision that needs the ledger (an interval switch's
 * credits already used) takes a LedgerView the shell reads first (`needsLedgerView`).
 */
export { afterCharge, afterLapse } from './outcomes.js';
export { type ChangeRequest, creditsUnusedTime, type LedgerView, needsLedgerView, planChange } from './changes.js';
export { onDue } from './due.js';
export * from './effects.js';
export { type LifecycleRequest, onRequest } from './requests.js';
export { currentPeriod, type DueEvent, dueEvents, nextChargeAt, nextDueEvent, RETRY_AFTER_DAYS, UNPAID_TTL_MS } from './schedule.js';
export * from './state.js';
export { type SubscriptionView, viewOf } from './view.js';
export { startCycle } from './cycle.js';
export { type ChangePreview, previewChange, type PreviewContext } from './preview.js';
export { type OpenInvoice, type UpcomingContext, type UpcomingInvoice, upcomingCharge, upcomingInvoice } from './upcoming.js';
