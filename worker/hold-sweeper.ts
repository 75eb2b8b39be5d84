import type { Sql } from '../ledger/db.js';
import { expireStaleHolds } from '../ledger/spend.js';
import { every } from '../runtime/every.js';

/**
 * Releases holds left running for over an hour (of each workspace's time), every `everyMs`. Balance
 * reads, refused holds and test-clock advances also release lapsed holds, so this only bounds how long
 * an abandoned hold lingers in the journal.
 */
export function startHoldSweeper(sql: Sql, everyMs = 15_000): () => Promise<void> {
  return every(everyMs, () => expireStaleHolds(sql), 'hold sweep');
}
