import { chargeTopUp } from '../billing/auto-top-up.js';
import { pendingTopUps } from '../ledger/auto-top-up.js';
import type { Sql } from '../ledger/db.js';
import type { PaymentProvider } from '../payments/provider.js';
import { every } from '../runtime/every.js';

const PAGE = 20;

/**
 * Charges the automatic top-ups the spend path recorded (SPEC §11), every `everyMs` (default 1 s: a
 * customer below the threshold waits for it). Never on the spend path: the hook only records. Each pass goes
 * through every pending top-up, oldest first; one whose decision waits (see chargeTopUp) is looked at again
 * on the next pass. One top-up failing with an error (the provider unreachable) is logged and stays pending
 * for the next pass; the others go on. Returns a stop function.
 */
export function startAutoTopUps(deps: { sql: Sql; payments: PaymentProvider }, everyMs = 1_000): () => Promise<void> {
  return every(everyMs, async () => {
    // Every pending top-up, a page at a time: one an expiry recorded may stay pending for a while (its
    // instant's refresh still to come, billing/auto-top-up.ts), and must not hold up the ones behind it.
    for (let page = await pendingTopUps(deps.sql, PAGE); ; page = await pendingTopUps(deps.sql, PAGE, page.at(-1)!.seq)) {
      for (const topUp of page) {
        await chargeTopUp(deps, topUp).catch((error: unknown) => console.error(`auto top-up ${topUp.id} failed`, error));
      }
      if (page.length < PAGE) break;
    }
  }, 'auto top-ups');
}
