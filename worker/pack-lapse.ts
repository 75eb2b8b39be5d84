import { lapseOpenPacks } from '../billing/pack-lapse.js';
import type { Sql } from '../ledger/db.js';
import type { PaymentProvider } from '../payments/provider.js';
import { every } from '../runtime/every.js';

/**
 * Lapses pack invoices still waiting for 3-D Secure 23 hours after the purchase or after their subscription
 * ended (billing/pack-lapse.ts), every `everyMs` (default 15 s, as the hold sweep: the deadline is hours long).
 * Test-clock advances and a subscription's end lapse theirs at once; this covers real time. Returns a stop function.
 */
export function startPackLapses(deps: { sql: Sql; payments: PaymentProvider }, everyMs = 15_000): () => Promise<void> {
  return every(everyMs, () => lapseOpenPacks(deps), 'pack lapse');
}
