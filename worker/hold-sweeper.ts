import type { Sql } from '../ledger/db.js';
import { expireDueAdjustmentLots } from '../ledger/adjustments.js';
import { expireStaleHolds } from '../ledger/spend.js';
import { every } from '../runtime/every.js';

/**
 * Releases holds left running for over an hour (of each workspace's time), every `everyMs`. Balance
 * reads, refused holds and test-clock advances also release lapsed holds, so this only bounds how long
 * an abandoned hold lingers in the journal. The same tick journals the expiry of operators' adjustment lots
 * (SPEC §10), which no workflow timer expires: their credits stop counting at expires_at anyway; this
 * writes the `expire` entry the journal needs to reconcile.
 */
export function startHoldSweeper(sql: Sql, everyMs = 15_000): () => Promise<void> {
  return every(everyMs, async () => {
    await expireStaleHolds(sql);
    await expireDueAdjustmentLots(sql);
  }, 'hold sweep');
}
