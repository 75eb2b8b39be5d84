const started = Date.now();

/** Progress on stderr, stamped with the seconds since the benchmark started. */
export function log(message: string): void {
  const seconds = ((Date.now() - started) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`[bench ${seconds}s] ${message}\n`);
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `task` over `items` with at most `limit` in flight; results in input order. */
export async function pool<T, R>(items: readonly T[], limit: number, task: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index]!, index);
    }
  });
  await Promise.all(lanes);
  return results;
}

/**
 * Share of the machine's CPU that was busy over `ms` (from /proc/stat), taken while the benchmark itself
 * is idle: anything well above 0 is another program competing with the measurement.
 */
export async function busyShare(ms = 2000): Promise<number> {
  const { readFileSync } = await import('node:fs');
  const read = () => {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const idle = fields[3]! + (fields[4] ?? 0);
    return { idle, total: fields.reduce((a, b) => a + b, 0) };
  };
  const a = read();
  await sleep(ms);
  const b = read();
  return 1 - (b.idle - a.idle) / Math.max(1, b.total - a.total);
}

/** Waits (up to `maxMs`) until other programs leave the CPUs at most 15% busy; returns the last share seen. */
export async function waitForQuiet(maxMs = 30_000): Promise<number> {
  const deadline = Date.now() + maxMs;
  let busy = await busyShare(1000);
  while (busy > 0.15 && Date.now() < deadline) busy = await busyShare(1000);
  return busy;
}
