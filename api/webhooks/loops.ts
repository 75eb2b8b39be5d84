import type { Client } from '@temporalio/client';
import type { Sql } from '../../ledger/db.js';
import { forwardPendingEvents } from './inbox.js';
import { reconcileOpenInvoices } from './reconcile.js';
import { deliverSandboxOutbox } from './sandbox-outbox.js';
import type { PaymentProvider } from '../../payments/provider.js';
import type { StripeProvider } from '../../payments/stripe.js';
import { every } from '../../runtime/every.js';

/**
 * Background work of the API process: forward stored webhook events (retrying while Temporal is down),
 * in sandbox mode deliver the sandbox's events to our own endpoint, and once a minute reconcile open
 * invoices with the provider (repairing missed webhooks). Returns a stop function.
 */
export function startWebhookLoops(opts: {
  sql: Sql; temporal: Client; payments: PaymentProvider; everyMs?: number; sandbox?: { endpoint: string; secret: string };
  /** Stripe mode: completed Checkout sessions save the customer's card. */
  stripe?: StripeProvider;
}): () => Promise<void> {
  const pass = async () => {
    if (opts.sandbox) await deliverSandboxOutbox({ sql: opts.sql, ...opts.sandbox });
    await forwardPendingEvents({ sql: opts.sql, temporal: opts.temporal, stripe: opts.stripe, payments: opts.payments });
  };
  const stops = [
    every(opts.everyMs ?? 500, pass, 'webhook pass'),
    every(60_000, () => reconcileOpenInvoices({ sql: opts.sql, payments: opts.payments }), 'invoice reconciliation'),
  ];
  return async () => {
    await Promise.all(stops.map((stop) => stop()));
  };
}
