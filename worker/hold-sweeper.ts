import type { Sql } from '../ledger/db.js';
import { expireStaleHolds } from '../ledger/spend.js';

/**
 * Releases holds left running for over an hour (of each workspace's time), every `everyMs`. Balance
 * reads and refused holds also release their workspace's stale holds, so this only bounds how long an
 * abandoned hold lingers in the journal. Returns a stop function that waits for the current sweep.
 */
export function startHoldSweeper(sql: Sql, everyMs = 15_000): () => Promise<void> {
  let stopped = false;
  let current: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    if (stopped) return;
    current = current.then(() => expireStaleHolds(sql)).catch((error: unknown) => console.error('hold sweep failed', error));
  }, everyMs);
  return async () => {
    stopped = true;
    clearInterval(timer);
    await current;
  };
}
