import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import postgres from 'postgres';
import { describe, expect, inject, it } from 'vitest';
import { freePort } from '../../dev/ports.js';
import { startPrivateCluster } from '../../dev/postgres.js';

/**
 * dev/postgres.ts runs initdb and pg_ctl without blocking the event loop, so the first `npm start` keeps its other
 * phases (the Temporal CLI's download and boot) moving meanwhile; the cluster it starts answers, and a failing initdb
 * still throws `<binary> <args> failed: <its output>`. (Every test run's own cluster starts through it too:
 * test/setup/global.ts.)
 */
describe('the private Postgres cluster starts without blocking', () => {
  it('keeps timers running while initdb and pg_ctl work, and the cluster answers', async () => {
    const dir = join(inject('runDir'), `cluster-async-${process.pid}`);
    let last = Date.now();
    let longestGapMs = 0;
    const timer = setInterval(() => {
      longestGapMs = Math.max(longestGapMs, Date.now() - last);
      last = Date.now();
    }, 10);
    const started = Date.now();
    const cluster = await startPrivateCluster({ dir, port: await freePort(), durable: false }).finally(() => {
      clearInterval(timer);
      longestGapMs = Math.max(longestGapMs, Date.now() - last); // a loop blocked until the end shows its gap only here
    });
    const elapsedMs = Date.now() - started;
    try {
      const sql = postgres(cluster.url, { max: 1, onnotice: () => {} });
      expect((await sql<{ one: number }[]>`SELECT 1 AS one`)[0]!.one).toBe(1);
      await sql.end();
    } finally {
      cluster.stop();
      rmSync(dir, { recursive: true, force: true });
    }
    // Blocking, the longest gap would be initdb's whole run (most of the start); asynchronous, a timer tick's worth.
    console.log(`[private cluster] first start ${elapsedMs} ms, longest event-loop gap ${longestGapMs} ms`);
    expect(longestGapMs).toBeLessThan(Math.max(250, elapsedMs / 4));
  });

  it('throws the failing binary, its arguments and its output when initdb fails', async () => {
    const dir = join(inject('runDir'), `cluster-refused-${process.pid}`);
    // A data directory that is not empty and holds no cluster: initdb refuses it.
    mkdirSync(join(dir, 'pgdata'), { recursive: true });
    writeFileSync(join(dir, 'pgdata', 'not-a-cluster'), 'x');
    try {
      const failure = await startPrivateCluster({ dir, port: await freePort(), durable: false }).then(() => null, (error: Error) => error);
      expect(failure?.message).toMatch(/initdb -D \S+pgdata .* failed: \S/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
