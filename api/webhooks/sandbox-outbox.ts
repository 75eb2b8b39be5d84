import type { Sql } from '../../ledger/db.js';
import { signStripePayload } from '../../payments/webhooks.js';

/**
 * Delivers the sandbox provider's queued events to the webhook endpoint over HTTP, signed like Stripe's,
 * so the sandbox exercises exactly the path real Stripe events take. Undelivered events are retried.
 */
export async function deliverSandboxOutbox(opts: { sql: Sql; endpoint: string; secret: string; limit?: number }): Promise<number> {
  const pending = await opts.sql<{ id: number; payload: unknown }[]>`
    SELECT id, payload FROM sandbox_outbox WHERE delivered_at IS NULL ORDER BY id LIMIT ${opts.limit ?? 100}`;
  let delivered = 0;
  for (const row of pending) {
    const body = JSON.stringify(row.payload);
    const ok = await fetch(opts.endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'stripe-signature': signStripePayload(body, opts.secret) },
      body,
    }).then((response) => response.ok, () => false);
    await opts.sql`
      UPDATE sandbox_outbox SET attempts = attempts + 1, delivered_at = ${ok ? new Date() : null} WHERE id = ${row.id}`;
    if (!ok) break;
    delivered += 1;
  }
  return delivered;
}
