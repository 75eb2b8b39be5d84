import { chargeTopUp } from '../billing/auto-top-up.js';
import { pendingTopUps } from '../ledger/auto-top-up.js';
import type { Sql } from '../ledger/db.js';
import type { PaymentProvider } from '../payments/provider.js';
import { every } from '../runtime/every.js';

/**
 * Charges the automatic top-ups the spend path recorded (SPEC §11), every `everyMs` (default 1 s: a
 * customer below the threshold waits for it). Never on the spend path: the hook only records. One top-up
 * failing with an error (the provider unreachable) is logged and stays pending for the next pass; the
 * others go on. Returns a stop function.
 */
export function startAutoTopUps(deps: { sql: Sql; payments: PaymentProvider }, everyMs = 1_000): () => Promise<void> {
  return every(everyMs, async () => {
    for (const topUp of await pendingTopUps(deps.sql)) {
      await chargeTopUp(deps, topUp).catch((error: unknown) => console.error(`auto top-up ${topUp.id} failed`, error));
    }
  }, 'auto top-ups');
}
