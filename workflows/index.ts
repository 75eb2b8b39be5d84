// Entry point of the workflow bundle: every workflow type the worker runs.
export { subscriptionWorkflow } from './subscription.js';
