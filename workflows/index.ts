// Entry point of the workflow bundle: every workflow type the worker runs.
export { subscriptionLifecycleWorkflow } from './subscription.js';
// The first workflow type, frozen: subscriptions started before the lifecycle core run on it until they end.
export { subscriptionWorkflow } from './legacy/subscription-v1.js';
