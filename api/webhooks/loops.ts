import type { Client } from '@temporalio/client';
import type { Sql } from '../../ledger/db.js';
import { forwardPendingEvents } from './inbox.js';
import { deliverSandboxOutbox } from './sandbox-outbox.js';
import { every } from '../../worker/every.js';

/**
 * Background work of the API process: forward stored webhook events (retrying while Temporal is down)
 * and, in sandbox mode, deliver the sandbox's events to our own endpoint. Returns a stop function.
 */
export function startWebhookLoops(opts: {
  sql: Sql; temporal: Client; everyMs?: number; sandbox?: { endpoint: string; secret: string };
}): () => Promise<void> {
  const pass = async () => {
    if (opts.sandbox) await deliverSandboxOutbox({ sql: opts.sql, ...opts.sandbox });
    await forwardPendingEvents({ sql: opts.sql, temporal: opts.temporal });
  };
  return every(opts.everyMs ?? 500, pass, 'webhook pass');
}
