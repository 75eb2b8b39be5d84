/**
 * Runs `task` every `everyMs`, never two at once (a slow pass makes the next one wait, not pile up).
 * Returns a stop function that waits for the pass in flight.
 */
export function every(everyMs: number, task: () => Promise<unknown>, name: string): () => Promise<void> {
  let stopped = false;
  let inFlight: Promise<void> | null = null;
  const timer = setInterval(() => {
    if (stopped || inFlight) return;
    inFlight = task()
      .then(() => undefined, (error: unknown) => console.error(`${name} failed`, error))
      .finally(() => { inFlight = null; });
  }, everyMs);
  return async () => {
    stopped = true;
    clearInterval(timer);
    await inFlight;
  };
}
