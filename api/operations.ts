/**
 * The name, one-line summary and tag of every operation of /openapi.json, in one table so the names stay
 * consistent (Stripe's verbs: list, retrieve, create, update, delete, plus the action's own verb:
 * completeCreation, advanceTestClock). An SDK generator makes its method names from `operationId`: an id
 * is a public name, so it never changes once released; a new route adds its row here
 * (test/unit/openapi-document.test.ts fails on an operation without one).
 *
 * Keyed by "METHOD /path" as the document spells it. Tags group operations by resource; they are set here
 * only (api/openapi-document.ts applies the table), not in the route files.
 */
export interface OperationName {
  operationId: string;
  summary: string;
  tag: string;
}

const op = (operationId: string, tag: string, summary: string): OperationName => ({ operationId, summary, tag });

export const TAGS: { name: string; description: string }[] = [
  { name: 'Index', description: 'The API\'s name, version and where its reference, error codes, catalogue and readiness probe are.' },
  { name: 'Plans', description: 'The public catalogue: plans, prices, credits per period, packs and models.' },
  { name: 'Test clocks', description: 'Simulated time for a test workspace (Stripe\'s test clocks).' },
  { name: 'Workspaces', description: 'A studio\'s customer account (operator creates; a workspace key reads its own).' },
  { name: 'API keys', description: 'A workspace\'s keys, with optional daily credit budgets.' },
  { name: 'Subscription', description: 'The workspace\'s subscription: start, change, cancel, pause, resume.' },
  { name: 'Payment methods', description: 'The card on file (sandbox ids or Stripe Checkout).' },
  { name: 'Credits', description: 'Balance, estimates, packs, automatic top-ups, journal and usage.' },
  { name: 'Creations', description: 'The spend path: hold on start, capture on complete, release on fail.' },
  { name: 'Invoices', description: 'Invoices, their credit notes and the upcoming charge.' },
  { name: 'Billing', description: 'Hosted billing pages: Billing Portal and single-use /billing sign-in sessions.' },
  { name: 'Custom models', description: 'Fine-tuned models a plan allows.' },
  { name: 'Alerts and webhooks', description: 'Low-balance alerts, notifications, outgoing webhook events and their delivery log.' },
  { name: 'Operator', description: 'Operator views and actions across workspaces (an operator key).' },
];

export const OPERATIONS: Record<string, OperationName> = {
  'GET /': op('retrieveApiIndex', 'Index', 'The API\'s name, version and where its documents are'),
  'GET /v1/plans': op('listPlans', 'Plans', 'List the plans, their prices, credits, packs and models'),

  'POST /v1/test-clocks': op('createTestClock', 'Test clocks', 'Create a test clock'),
  'GET /v1/test-clocks/{id}': op('retrieveTestClock', 'Test clocks', 'Retrieve a test clock'),
  'POST /v1/test-clocks/{id}/advance': op('advanceTestClock', 'Test clocks', 'Advance a test clock'),

  'POST /v1/workspaces': op('createWorkspace', 'Workspaces', 'Create a workspace and its first API key (operator)'),
  'GET /v1/workspaces': op('listWorkspaces', 'Workspaces', 'Find a workspace by external_id (operator)'),
  'GET /v1/workspaces/{id}': op('retrieveWorkspace', 'Workspaces', 'Retrieve a workspace'),
  'PATCH /v1/workspaces/{id}': op('updateWorkspace', 'Workspaces', 'Update a workspace\'s external_id and metadata (operator)'),

  'GET /v1/api-keys': op('listApiKeys', 'API keys', 'List the workspace\'s API keys'),
  'POST /v1/api-keys': op('createApiKey', 'API keys', 'Create an API key'),
  'PATCH /v1/api-keys/{id}': op('updateApiKey', 'API keys', 'Update an API key\'s name or daily credit limit'),
  'DELETE /v1/api-keys/{id}': op('revokeApiKey', 'API keys', 'Revoke an API key'),

  'PUT /v1/payment-method': op('attachPaymentMethod', 'Payment methods', 'Set the card on file (sandbox mode)'),
  'POST /v1/payment-method/checkout': op('createPaymentMethodCheckoutSession', 'Payment methods', 'Create a Checkout session to collect a card (Stripe mode)'),

  'POST /v1/subscription': op('createSubscription', 'Subscription', 'Subscribe to a plan'),
  'GET /v1/subscription': op('retrieveSubscription', 'Subscription', 'Retrieve the subscription'),
  'POST /v1/subscription/change': op('changeSubscription', 'Subscription', 'Change plan or interval'),
  'POST /v1/subscription/change/preview': op('previewSubscriptionChange', 'Subscription', 'Preview a plan or interval change'),
  'DELETE /v1/subscription/scheduled-change': op('deleteScheduledChange', 'Subscription', 'Withdraw a scheduled downgrade'),
  'POST /v1/subscription/cancel': op('cancelSubscription', 'Subscription', 'Cancel the subscription at the period end'),
  'POST /v1/subscription/resume': op('resumeSubscription', 'Subscription', 'Resume a canceling, paused or canceled subscription'),
  'POST /v1/subscription/pause': op('pauseSubscription', 'Subscription', 'Pause the subscription for 1 to 3 cycles'),

  'GET /v1/credits': op('retrieveCreditBalance', 'Credits', 'Retrieve the credit balance and its lots'),
  'POST /v1/credits/estimate': op('createQuote', 'Credits', 'Estimate a creation\'s cost (a quote valid for 15 minutes)'),
  'POST /v1/credit-packs': op('createPackPurchase', 'Credits', 'Buy a credit pack'),
  'GET /v1/ledger': op('listLedgerEntries', 'Credits', 'List the credit journal, newest first'),
  'GET /v1/usage': op('retrieveUsage', 'Credits', 'Retrieve credits used over a period, grouped by day, model or key'),
  'GET /v1/auto-top-up': op('retrieveAutoTopUp', 'Credits', 'Retrieve the automatic top-up setting'),
  'PUT /v1/auto-top-up': op('updateAutoTopUp', 'Credits', 'Set the automatic top-up'),

  'POST /v1/creations': op('createCreation', 'Creations', 'Start a creation (hold its quoted credits)'),
  'GET /v1/creations': op('listCreations', 'Creations', 'List creations, newest first'),
  'POST /v1/creations/{id}/complete': op('completeCreation', 'Creations', 'Complete a creation (capture its credits)'),
  'POST /v1/creations/{id}/fail': op('failCreation', 'Creations', 'Fail a creation (release its hold)'),
  'POST /v1/creations/{id}/extend': op('extendCreation', 'Creations', 'Extend a running creation\'s hold'),

  'GET /v1/invoices': op('listInvoices', 'Invoices', 'List invoices, newest first'),
  'GET /v1/invoices/upcoming': op('retrieveUpcomingInvoice', 'Invoices', 'Retrieve the upcoming invoice'),
  'GET /v1/invoices/{id}': op('retrieveInvoice', 'Invoices', 'Retrieve an invoice'),

  'POST /v1/billing-portal': op('createBillingPortalSession', 'Billing', 'Create a Billing Portal session (Stripe mode)'),
  'POST /v1/billing-sessions': op('createBillingSession', 'Billing', 'Create a single-use /billing sign-in URL'),

  'GET /v1/custom-models': op('listCustomModels', 'Custom models', 'List custom models'),
  'POST /v1/custom-models': op('createCustomModel', 'Custom models', 'Create a custom model'),
  'POST /v1/custom-models/{id}/activate': op('activateCustomModel', 'Custom models', 'Activate a custom model'),
  'DELETE /v1/custom-models/{id}': op('deactivateCustomModel', 'Custom models', 'Deactivate a custom model'),

  'GET /v1/alerts': op('retrieveAlerts', 'Alerts and webhooks', 'Retrieve the alert settings'),
  'PUT /v1/alerts': op('updateAlerts', 'Alerts and webhooks', 'Set the low-balance threshold and webhook URL'),
  'GET /v1/notifications': op('listNotifications', 'Alerts and webhooks', 'List notifications, newest first'),
  'GET /v1/webhook-events': op('retrieveWebhookEvents', 'Alerts and webhooks', 'Retrieve the webhook event types sent'),
  'PUT /v1/webhook-events': op('updateWebhookEvents', 'Alerts and webhooks', 'Choose the webhook event types sent'),
  'GET /v1/webhook-deliveries': op('listWebhookDeliveries', 'Alerts and webhooks', 'List webhook delivery attempts, newest first'),
  'POST /v1/webhook-deliveries/{id}/retry': op('retryWebhookDelivery', 'Alerts and webhooks', 'Send a webhook event again'),

  'GET /v1/admin/workspaces': op('adminListWorkspaces', 'Operator', 'Search workspaces (operator)'),
  'GET /v1/admin/workspaces/{id}': op('adminRetrieveWorkspace', 'Operator', 'Retrieve a workspace\'s overview (operator)'),
  'GET /v1/admin/workspaces/{id}/credits': op('adminRetrieveCreditBalance', 'Operator', 'Retrieve a workspace\'s credit balance (operator)'),
  'GET /v1/admin/workspaces/{id}/ledger': op('adminListLedgerEntries', 'Operator', 'List a workspace\'s credit journal (operator)'),
  'GET /v1/admin/workspaces/{id}/ledger/export': op('adminExportLedger', 'Operator', 'Download a workspace\'s whole journal as CSV (operator)'),
  'GET /v1/admin/workspaces/{id}/invoices': op('adminListInvoices', 'Operator', 'List a workspace\'s invoices (operator)'),
  'GET /v1/admin/workspaces/{id}/creations': op('adminListCreations', 'Operator', 'List a workspace\'s creations (operator)'),
  'GET /v1/admin/workspaces/{id}/notifications': op('adminListNotifications', 'Operator', 'List a workspace\'s notifications (operator)'),
  'POST /v1/admin/workspaces/{id}/credit-adjustments': op('adminCreateCreditAdjustment', 'Operator', 'Grant or take back credits (operator)'),
  'POST /v1/admin/workspaces/{id}/subscription/cancel': op('adminCancelSubscription', 'Operator', 'Cancel a workspace\'s subscription (operator)'),
  'POST /v1/admin/workspaces/{id}/subscription/pause': op('adminPauseSubscription', 'Operator', 'Pause a workspace\'s subscription (operator)'),
  'POST /v1/admin/workspaces/{id}/subscription/resume': op('adminResumeSubscription', 'Operator', 'Resume a workspace\'s subscription (operator)'),
  'POST /v1/admin/workspaces/{id}/subscription/retry-payment': op('adminRetrySubscriptionPayment', 'Operator', 'Retry a past-due payment now (operator)'),
  'POST /v1/admin/invoices/{id}/refund': op('adminRefundInvoice', 'Operator', 'Refund a paid invoice (operator)'),
  'POST /v1/admin/sandbox/disputes/{id}/close': op('adminCloseSandboxDispute', 'Operator', 'Close a sandbox dispute (operator, sandbox only)'),
  'GET /v1/admin/operator-keys': op('adminListOperatorKeys', 'Operator', 'List operator keys (operator)'),
  'POST /v1/admin/operator-keys': op('adminCreateOperatorKey', 'Operator', 'Create an operator key (operator)'),
  'DELETE /v1/admin/operator-keys/{id}': op('adminRevokeOperatorKey', 'Operator', 'Revoke an operator key (operator)'),
  'GET /v1/admin/audit': op('adminListAuditEvents', 'Operator', 'List operator actions, newest first (operator)'),
};
