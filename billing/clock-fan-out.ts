import type { Client } from '@temporalio/client';
import { clockAdvancedSignal } from '../workflows/messages.js';
import { signalIfRunning, workflowIdOf } from './subscriptions.js';

/**
 * Signals in flight at once when a test clock wakes its subscriptions. Each signal has its own 5 s deadline
 * (signalIfRunning): started all at once, 10,000 of them queue on one gRPC connection and at the Temporal
 * frontend, and the last ones would pass their deadline before being served; a bounded window keeps every
 * call short and the frontend's per-namespace rate in reach.
 */
export const CLOCK_SIGNALS_IN_FLIGHT = 64;

/**
 * Tells every subscription workflow following a test clock that the clock moved to `frozenTimeMs` (ms since
 * the epoch, UTC), at most CLOCK_SIGNALS_IN_FLIGHT at a time. Ended workflows are skipped. Rejects with the
 * first failed signal once every lane has stopped (a failed lane stops; the others carry on with the rest); the caller retries the advance (the signal is idempotent: a
 * workflow keeps the latest clock time it has seen).
 */
export async function signalClockAdvanced(temporal: Client, subscriptionIds: readonly string[], frozenTimeMs: number): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < subscriptionIds.length) {
      const id = subscriptionIds[next++]!;
      await signalIfRunning(temporal, workflowIdOf(id), clockAdvancedSignal, { frozenTimeMs });
    }
  };
  const lanes = await Promise.allSettled(Array.from({ length: Math.min(CLOCK_SIGNALS_IN_FLIGHT, subscriptionIds.length) }, lane));
  const failed = lanes.find((l): l is PromiseRejectedResult => l.status === 'rejected');
  if (failed) throw failed.reason;
}
