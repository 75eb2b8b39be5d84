import { describe, expect, it } from 'vitest';
import { CommitBatcher, type ItemOutcome, itemsToSend, splitByKey } from '../../ledger/commit-batcher.js';

/** The batcher's flush policy and bookkeeping, without a database: `run` is a plain function here. */
describe('commit batcher (issue 15)', () => {
  const policy = { windowMs: 1, maxItems: 4, maxInFlight: 2 };

  it('sends a full batch at once, a partial one when its window ran out, nothing while maxInFlight calls are out', () => {
    expect(itemsToSend({ waiting: 0, inFlight: 0, windowElapsed: true }, policy)).toBe(0);
    expect(itemsToSend({ waiting: 3, inFlight: 0, windowElapsed: false }, policy)).toBe(0);
    expect(itemsToSend({ waiting: 3, inFlight: 0, windowElapsed: true }, policy)).toBe(3);
    expect(itemsToSend({ waiting: 4, inFlight: 1, windowElapsed: false }, policy)).toBe(4);
    // Up to maxItems per free call.
    expect(itemsToSend({ waiting: 9, inFlight: 0, windowElapsed: false }, policy)).toBe(8);
    expect(itemsToSend({ waiting: 9, inFlight: 1, windowElapsed: false }, policy)).toBe(4);
    expect(itemsToSend({ waiting: 9, inFlight: 2, windowElapsed: true }, policy)).toBe(0);
  });

  it('splits the items over the free calls by key: one key in one call, in order, calls of at least a few items', () => {
    // 8 items: two calls (at least MIN_ITEMS_PER_CALL each), keys placed on the emptier call.
    expect(splitByKey(['a', 'b', 'a', 'c', 'b', 'd', 'a', 'c'], 4, 64)).toEqual([[0, 2, 5, 6], [1, 3, 4, 7]]);
    // Too few items for several calls: one call.
    expect(splitByKey(['a', 'b', 'c'], 4, 64)).toEqual([[0, 1, 2]]);
    // One key only: one call, whatever the free calls.
    expect(splitByKey(['a', 'a', 'a', 'a', 'a', 'a', 'a', 'a'], 4, 64)).toEqual([[0, 1, 2, 3, 4, 5, 6, 7]]);
    // A key with more than maxItems: its first maxItems go, the rest waits.
    expect(splitByKey(['a', 'a', 'a', 'b'], 1, 2)).toEqual([[0, 1]]);
    // Every index at most once, each key in one call.
    const keys = Array.from({ length: 100 }, (_, i) => `w${(i * 7) % 13}`);
    const calls = splitByKey(keys, 4, 40);
    expect(calls.length).toBe(4);
    const flat = calls.flat();
    expect(new Set(flat).size).toBe(flat.length);
    for (const call of calls) expect(call.length).toBeLessThanOrEqual(40);
    for (const key of new Set(keys)) expect(calls.filter((c) => c.some((i) => keys[i] === key)).length).toBeLessThanOrEqual(1);
  });

  it('answers each caller with its own outcome, in one call per batch, items in submission order', async () => {
    const calls: number[][] = [];
    const batcher = new CommitBatcher<number, number>(async (items) => {
      calls.push(items);
      return items.map((n): ItemOutcome<number> => (n % 5 === 0 ? { ok: false, error: new Error(`no ${n}`) } : { ok: true, value: n * 10 }));
    }, { windowMs: 1, maxItems: 64, maxInFlight: 1 });
    const settled = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => batcher.submit(i + 1)));
    expect(settled.map((s) => (s.status === 'fulfilled' ? s.value : (s.reason as Error).message)))
      .toEqual([10, 20, 30, 40, 'no 5', 60, 70, 80, 90, 'no 10', 110, 120]);
    expect(calls).toEqual([[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]]);
  });

  it('rejects every item of a call that throws (not acknowledged), and the next call goes on', async () => {
    let fail = true;
    const batcher = new CommitBatcher<number, number>(async (items) => {
      if (fail) { fail = false; throw new Error('connection lost'); }
      return items.map((n) => ({ ok: true as const, value: n }));
    }, { windowMs: 0, maxItems: 8, maxInFlight: 1 });
    const first = await Promise.allSettled([batcher.submit(1), batcher.submit(2)]);
    expect(first.map((s) => s.status)).toEqual(['rejected', 'rejected']);
    expect(await Promise.all([batcher.submit(3), batcher.submit(4)])).toEqual([3, 4]);
  });

  it('never has more than maxInFlight calls out; items gather meanwhile into batches of at most maxItems', async () => {
    let out = 0;
    let most = 0;
    const sizes: number[] = [];
    const release: (() => void)[] = [];
    const batcher = new CommitBatcher<number, number>(async (items) => {
      out += 1;
      most = Math.max(most, out);
      sizes.push(items.length);
      await new Promise<void>((resolve) => release.push(resolve));
      out -= 1;
      return items.map((n) => ({ ok: true as const, value: n }));
    }, policy);
    const answers = Promise.all(Array.from({ length: 30 }, (_, i) => batcher.submit(i)));
    const drain = setInterval(() => release.shift()?.(), 2);
    try {
      expect(await answers).toEqual(Array.from({ length: 30 }, (_, i) => i));
    } finally {
      clearInterval(drain);
    }
    expect(most).toBeLessThanOrEqual(2);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(4);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(30);
  });

  it('flush sends what waits without waiting out the window and resolves when no call is out', async () => {
    const calls: number[][] = [];
    const batcher = new CommitBatcher<number, number>(async (items) => {
      calls.push(items);
      return items.map((n) => ({ ok: true as const, value: n }));
    }, { windowMs: 10_000, maxItems: 64, maxInFlight: 1 });
    const pending = [batcher.submit(1), batcher.submit(2)];
    await batcher.flush();
    expect(calls).toEqual([[1, 2]]);
    expect(await Promise.all(pending)).toEqual([1, 2]);
    // After a flush the window applies again.
    const later = batcher.submit(3);
    await Promise.resolve();
    expect(calls.length).toBe(1);
    await batcher.flush();
    expect(await later).toBe(3);
  });
});
