/**
 * Group commit in the API process (issue 15): concurrent callers' items are gathered for at most `windowMs`
 * (or until `maxItems` wait) and sent as one call, so many ledger operations share one transaction and one
 * commit. Generic: the batch's runner decides what one call is (ledger/spend.ts: ledger_batch; ledger/credits.ts:
 * one balance query for many workspaces). Every caller's promise settles only when the call that carries its
 * item has returned, so nothing is acknowledged before its commit.
 */

/** When a batch goes: after `windowMs` (0: the next turn of the event loop) or at `maxItems`, with at most `maxInFlight` calls out. */
export interface BatchPolicy {
  /** How long the first waiting item waits for others, in ms. */
  windowMs: number;
  /** Items per call; 1 turns batching off (every item its own call, as before). */
  maxItems: number;
  /** Calls out at once; further items wait (and gather) meanwhile. Keep it below the connection pool's size. */
  maxInFlight: number;
}

/**
 * 8 calls out: on the ledger floor (64 clients, 20 workspaces, pool of 10) 8 beat 4 (349-365 against 150-213
 * spends/s; batching off 229-340) at 1.0-1.3 ms of Postgres CPU per spend against 1.7-2.2 (bench/ledger-batch-counts.ts).
 */
export const DEFAULT_BATCH_POLICY: BatchPolicy = { windowMs: 1, maxItems: 64, maxInFlight: 8 };

/** One item's answer from a batch call: its value, or the error that item alone met. */
export type ItemOutcome<R> = { ok: true; value: R } | { ok: false; error: unknown };

/**
 * How many waiting items may go now (0: none yet). Pure: the flush policy. Items go once `maxItems` wait or the
 * window ran out, at most `maxItems` per free call; nothing while `maxInFlight` calls are out (items keep
 * gathering, so a busy pool makes batches bigger rather than queueing more calls).
 */
export function itemsToSend(state: { waiting: number; inFlight: number; windowElapsed: boolean }, policy: BatchPolicy): number {
  const free = policy.maxInFlight - state.inFlight;
  if (state.waiting === 0 || free <= 0) return 0;
  if (state.waiting >= policy.maxItems || state.windowElapsed) return Math.min(state.waiting, policy.maxItems * free);
  return 0;
}

/** Fewer items than this per call are not worth a call of their own (one commit saved per item is the point). */
export const MIN_ITEMS_PER_CALL = 4;

/**
 * Splits items about to go (their keys, e.g. workspace ids, in submission order) over at most `calls` calls of at
 * most `maxItems`, keeping each key's items in one call and in order. Pure. Calls running side by side then lock
 * disjoint workspaces (no call waits for another's locks until its commit) and use Postgres's cores in parallel.
 * Returns each call's item indices; an item in no call waits for the next round (a key with more than fits).
 */
export function splitByKey(keys: string[], calls: number, maxItems: number): number[][] {
  const groups = new Map<string, number[]>();
  keys.forEach((key, i) => {
    const group = groups.get(key);
    if (group) group.push(i);
    else groups.set(key, [i]);
  });
  const count = Math.max(1, Math.min(calls, groups.size, Math.ceil(keys.length / MIN_ITEMS_PER_CALL)));
  const bins: number[][] = Array.from({ length: count }, () => []);
  for (const group of groups.values()) {
    const bin = bins.reduce((least, b) => (b.length < least.length ? b : least));
    if (bin.length + group.length <= maxItems) bin.push(...group);
    else if (bin.length === 0) bin.push(...group.slice(0, maxItems));
  }
  return bins.filter((b) => b.length > 0).map((b) => b.sort((x, y) => x - y));
}

interface Waiting<I, R> {
  item: I;
  resolve: (value: R) => void;
  reject: (error: unknown) => void;
}

/**
 * Gathers items into calls of `run`. `run` answers one outcome per item, in the items' order; when it throws
 * (a lost connection, say), every item of that call is rejected with that error: the caller cannot know whether
 * it committed and retries with its idempotency key.
 */
export class CommitBatcher<I, R> {
  private waiting: Waiting<I, R>[] = [];
  private inFlight = 0;
  /** Cancels the armed window; null when none is armed. */
  private timer: (() => void) | null = null;
  private windowElapsed = false;
  private readonly idle = new Set<() => void>();
  /** Calls sent and items they carried, and the largest call (measurements, tests). */
  readonly stats = { calls: 0, items: 0, largest: 0 };

  constructor(
    private readonly run: (items: I[]) => Promise<ItemOutcome<R>[]>,
    readonly policy: BatchPolicy = DEFAULT_BATCH_POLICY,
    /** What keeps items together (a workspace id): calls out at once get disjoint keys (splitByKey). */
    private readonly keyOf?: (item: I) => string,
  ) {
    if (!(policy.maxItems >= 1 && policy.maxInFlight >= 1 && policy.windowMs >= 0)) throw new Error(`invalid batch policy ${JSON.stringify(policy)}`);
  }

  /** Queues `item`; resolves with its answer once the call that carried it has returned. */
  submit(item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      this.pump();
      if (this.waiting.length > 0 && this.timer === null && !this.windowElapsed) this.armWindow();
    });
  }

  /** Sends everything waiting without waiting out the window, and resolves once no call is out (shutdown). */
  async flush(): Promise<void> {
    this.windowElapsed = true;
    this.pump();
    while (this.inFlight > 0 || this.waiting.length > 0) {
      await new Promise<void>((resolve) => this.idle.add(resolve));
      this.windowElapsed = true;
      this.pump();
    }
    this.windowElapsed = false;
  }

  /** The window's end: made once (tsx names every named closure made per call, which showed in the profile). */
  private readonly windowEnded = (): void => {
    this.timer = null;
    this.windowElapsed = true;
    this.pump();
  };

  private armWindow(): void {
    if (this.policy.windowMs === 0) {
      const handle = setImmediate(this.windowEnded);
      this.timer = () => clearImmediate(handle);
    } else {
      const handle = setTimeout(this.windowEnded, this.policy.windowMs);
      this.timer = () => clearTimeout(handle);
    }
  }

  private pump(): void {
    for (;;) {
      const n = itemsToSend({ waiting: this.waiting.length, inFlight: this.inFlight, windowElapsed: this.windowElapsed }, this.policy);
      if (n === 0) return;
      const candidates = this.waiting.slice(0, n);
      const plan = this.keyOf
        ? splitByKey(candidates.map((w) => this.keyOf!(w.item)), this.policy.maxInFlight - this.inFlight, this.policy.maxItems)
        : [candidates.slice(0, this.policy.maxItems).map((_, i) => i)];
      const taken = new Set(plan.flat());
      this.waiting = [...candidates.filter((_, i) => !taken.has(i)), ...this.waiting.slice(n)];
      if (this.waiting.length === 0) {
        this.windowElapsed = false;
        this.timer?.();
        this.timer = null;
      }
      for (const call of plan) void this.send(call.map((i) => candidates[i]!));
    }
  }

  private async send(batch: Waiting<I, R>[]): Promise<void> {
    this.inFlight += 1;
    this.stats.calls += 1;
    this.stats.items += batch.length;
    this.stats.largest = Math.max(this.stats.largest, batch.length);
    try {
      const outcomes = await this.run(batch.map((w) => w.item));
      if (outcomes.length !== batch.length) throw new Error(`batch of ${batch.length} answered ${outcomes.length} outcomes`);
      batch.forEach((w, i) => {
        const outcome = outcomes[i]!;
        if (outcome.ok) w.resolve(outcome.value);
        else w.reject(outcome.error);
      });
    } catch (error) {
      for (const w of batch) w.reject(error);
    } finally {
      this.inFlight -= 1;
      // Items that gathered while calls were out and whose window ran out go now.
      this.pump();
      if (this.waiting.length > 0 && this.timer === null && !this.windowElapsed) this.armWindow();
      if (this.inFlight === 0) {
        for (const resolve of this.idle) resolve();
        this.idle.clear();
      }
    }
  }
}
