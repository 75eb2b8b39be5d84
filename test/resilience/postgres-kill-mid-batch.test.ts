import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../../dev/ports.js';
import { type PrivateCluster, startPrivateCluster } from '../../dev/postgres.js';
import { Refusal } from '../../domain/refusals.js';
import { configureLedgerBatching, ledgerBatchStats } from '../../ledger/batching.js';
import { getBalance, grantLot } from '../../ledger/credits.js';
import { createSql, type Sql } from '../../ledger/db.js';
import { migrate } from '../../ledger/migrate.js';
import { createQuote, endCreation, holdForQuote, LedgerItemError } from '../../ledger/spend.js';
import { createTestClock } from '../../ledger/test-clocks.js';
import { createWorkspace } from '../../ledger/workspaces.js';
import { eventually } from '../helpers/temporal.js';
import { availableFromLots, between, lotsOffTheirJournal, prng, seedFromEnv } from './helpers.js';

/**
 * Resilience of batched ledger commits (issue 15): Postgres dies (SIGKILL of the postmaster and its backends, as a
 * crash would) while a ledger_batch call is inside its transaction, then starts again on the same data directory
 * (crash recovery). Nothing of that batch may survive, since it never committed and none of its callers was
 * answered; retried with the same keys (the hold's quote, the completion's creation and amount), each item lands
 * exactly once. Two scenarios: a batch held at a chosen point (a workspace it needs is locked by another
 * connection, so the items of the workspaces before it have already written their rows), and a kill at a random
 * instant of a spend load, where every acknowledged hold and capture must be in the journal exactly once.
 */

const CLOCK = '2026-01-01T00:00:00Z';
const GRANT = 1_000_000;

/** Kills the cluster the hard way: the postmaster and every backend it started (all this test's own processes). */
function crash(dataDir: string): void {
  const postmaster = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const children = execFileSync('ps', ['-o', 'pid=', '--ppid', String(postmaster)], { encoding: 'utf8' })
    .split('\n').map((s) => Number(s.trim())).filter((pid) => pid > 0);
  for (const pid of [postmaster, ...children]) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
  }
}

/** A call answered definitively: a value or a refusal; anything else (the connection died) is retried as is. */
async function untilAnswered<T>(call: () => Promise<T>, deadlineMs = 120_000): Promise<{ value?: T; refusal?: Refusal; attempts: number }> {
  const deadline = Date.now() + deadlineMs;
  for (let attempts = 1, backoff = 20; ; attempts += 1, backoff = Math.min(backoff * 2, 500)) {
    try {
      return { value: await call(), attempts };
    } catch (error) {
      if (error instanceof Refusal) return { refusal: error, attempts };
      if (error instanceof LedgerItemError || Date.now() > deadline) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, backoff));
  }
}

describe('resilience: Postgres killed in the middle of a ledger batch', () => {
  const dir = join(inject('runDir'), `pg-kill-batch-${process.pid}`);
  const dataDir = join(dir, 'pgdata');
  let port: number;
  let cluster: PrivateCluster;
  let url: string;
  let sql: Sql;

  beforeAll(async () => {
    port = await freePort();
    cluster = await startPrivateCluster({ dir, port, durable: true });
    const admin = createSql(cluster.url, { max: 1 });
    await admin.unsafe('CREATE DATABASE killbatch');
    await admin.end();
    url = cluster.url.replace(/\/postgres$/, '/killbatch');
    await migrate(url);
    sql = createSql(url);
    // A window long enough that concurrent submissions surely share a call.
    await configureLedgerBatching(sql, { windowMs: 5, maxItems: 64, maxInFlight: 4 });
  });
  afterAll(async () => {
    await sql?.end({ timeout: 5 });
    cluster?.stop();
  });

  async function restart(): Promise<void> {
    cluster = await startPrivateCluster({ dir, port, durable: true });
    await eventually(async () => sql`SELECT 1 AS one`.then(() => true, () => false), (ok) => ok, 60_000);
  }

  async function fundedWorkspaces(n: number) {
    const clock = await createTestClock(sql, new Date(CLOCK));
    const out = [];
    for (let i = 0; i < n; i += 1) {
      const ws = await createWorkspace(sql, { name: `kill ${i}`, testClockId: clock.id });
      await grantLot(sql, { key: `seed:${ws.id}`, workspaceId: ws.id, source: 'monthly', amount: GRANT,
        grantedAt: new Date(CLOCK), expiresAt: new Date('2026-03-01T00:00:00Z') });
      out.push(ws.id);
    }
    // In the order ledger_batch takes their locks.
    return out.sort((a, b) => (Buffer.from(a) < Buffer.from(b) ? -1 : a === b ? 0 : 1));
  }

  const journalOf = (key: string) =>
    sql<{ kind: string; amount: number }[]>`SELECT kind, amount FROM ledger_entries WHERE operation_key = ${key} ORDER BY id`;

  it('a batch stopped halfway leaves no trace; its items retried with the same keys land once', { timeout: 300_000 }, async () => {
    const workspaces = await fundedWorkspaces(4);
    const last = workspaces.at(-1)!;
    // One call out at a time, so all eight items below share one call (else they are split by workspace).
    await configureLedgerBatching(sql, { maxInFlight: 1 });
    // A creation on each workspace to complete inside the batch, and a quote each to hold.
    const running = [];
    for (const ws of workspaces) {
      const q = await createQuote(sql, ws, { model: 'imagen-3' }, 30);
      running.push({ ws, id: (await holdForQuote(sql, ws, q.quote_id)).creation.id });
    }
    const quotes = await Promise.all(workspaces.map((ws) => createQuote(sql, ws, { model: 'imagen-3' }, 20)));

    // Another connection holds the last workspace's row: the batch runs the items of the first three, then waits.
    const blocker = createSql(url, { max: 1 });
    const locked = new Promise<void>((resolveLocked) => {
      void blocker.begin(async (tx) => {
        await tx`SELECT id FROM workspaces WHERE id = ${last} FOR UPDATE`;
        resolveLocked();
        await new Promise(() => {}); // until the crash ends this connection
      }).catch(() => undefined);
    });
    await locked;
    const inFlight = [
      ...quotes.map((q, i) => holdForQuote(sql, workspaces[i]!, q.quote_id)),
      ...running.map((c) => endCreation(sql, c.ws, c.id, { status: 'succeeded', reported: 25 })),
    ].map((p) => p.then((value) => ({ ok: true as const, value }), (error: unknown) => ({ ok: false as const, error })));
    await eventually(async () => sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE '%SELECT ledger_batch(%' AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'`.then((r) => r[0]!.n),
    (n) => n === 1, 30_000);
    // Inside the batch's transaction: the first three workspaces' holds are written, not committed.
    crash(dataDir);
    const answers = await Promise.all(inFlight);
    // Nothing was acknowledged.
    expect(answers.filter((a) => a.ok)).toEqual([]);
    await blocker.end({ timeout: 1 }).catch(() => undefined);

    await restart();
    // No trace: no creation for the quotes, the running creations still running, no capture journaled.
    expect(await sql`SELECT id FROM creations WHERE quote_id IN ${sql(quotes.map((q) => q.quote_id))}`).toHaveLength(0);
    expect((await sql<{ status: string }[]>`SELECT status FROM creations WHERE id IN ${sql(running.map((c) => c.id))}`).map((r) => r.status))
      .toEqual(['running', 'running', 'running', 'running']);
    for (const c of running) expect(await journalOf(`capture:${c.id}`)).toEqual([]);
    for (const ws of workspaces) expect((await getBalance(sql, ws)).available).toBe(GRANT - 30);

    // Retried with the same keys: each lands once (together again: one batch).
    const retried = await Promise.all([
      ...quotes.map((q, i) => untilAnswered(() => holdForQuote(sql, workspaces[i]!, q.quote_id))),
      ...running.map((c) => untilAnswered(() => endCreation(sql, c.ws, c.id, { status: 'succeeded', reported: 25 }))),
    ]);
    expect(retried.every((r) => r.value !== undefined)).toBe(true);
    // And again (a client that did not hear the retry's answer): the same answers, nothing more journaled.
    const holdsAgain = await Promise.all(quotes.map((q, i) => holdForQuote(sql, workspaces[i]!, q.quote_id)));
    expect(holdsAgain.map((h) => h.replayed)).toEqual([true, true, true, true]);
    for (const [i, c] of running.entries()) {
      expect(await journalOf(`capture:${c.id}`)).toEqual([{ kind: 'capture', amount: -25 }]);
      const hold = (retried[i]!.value as { creation: { id: string } }).creation.id;
      expect(await journalOf(`hold:${hold}`)).toEqual([{ kind: 'hold', amount: -20 }]);
    }
    for (const ws of workspaces) expect((await getBalance(sql, ws)).available).toBe(GRANT - 25 - 20);
    expect(await lotsOffTheirJournal(sql, workspaces)).toEqual([]);
    await configureLedgerBatching(sql, { maxInFlight: 4 });
  });

  it('a kill at a random instant of a spend load: every acknowledged hold and capture journaled once, every flow finishes on retry', { timeout: 300_000 }, async () => {
    const seed = seedFromEnv();
    console.log(`[postgres-kill-mid-batch] seed ${seed} (RESILIENCE_SEED=${seed} to replay)`);
    const random = prng(seed);
    const workspaces = await fundedWorkspaces(4);
    const CLIENTS = 16;
    const acknowledged = { holds: new Map<string, { ws: string; quoted: number }>(), captures: new Map<string, number>() };
    let killed = false;
    let flowsAfter = 0;
    let retriedCalls = 0;
    const stopAt = { t: Infinity };

    async function client(n: number): Promise<void> {
      const rand = prng(seed + n + 1);
      const ws = workspaces[n % workspaces.length]!;
      while (Date.now() < stopAt.t) {
        const credits = between(rand, 1, 40);
        const quote = await untilAnswered(() => createQuote(sql, ws, { model: 'imagen-3' }, credits));
        const held = await untilAnswered(() => holdForQuote(sql, ws, quote.value!.quote_id));
        retriedCalls += held.attempts - 1;
        const creation = held.value!.creation;
        acknowledged.holds.set(creation.id, { ws, quoted: creation.quoted });
        const reported = between(rand, 0, credits);
        const done = await untilAnswered(() => endCreation(sql, ws, creation.id, { status: 'succeeded', reported }));
        retriedCalls += done.attempts - 1;
        acknowledged.captures.set(creation.id, done.value!.charged!);
        if (killed) flowsAfter += 1;
      }
    }

    async function killOnce(): Promise<void> {
      await eventually(async () => acknowledged.captures.size, (n) => n >= 50, 120_000);
      await new Promise((resolve) => setTimeout(resolve, between(random, 0, 500)));
      // Wait for a batch inside its transaction, then kill.
      const watcher = createSql(url, { max: 1 });
      await eventually(async () => watcher<{ n: number }[]>`
        SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE '%SELECT ledger_batch(%' AND pid <> pg_backend_pid() AND state = 'active'`.then((r) => r[0]!.n),
      (n) => n > 0, 30_000);
      crash(dataDir);
      killed = true;
      await watcher.end({ timeout: 1 }).catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 1_000)); // an outage the clients feel
      await restart();
      await eventually(async () => flowsAfter, (n) => n >= 50, 120_000);
      stopAt.t = Date.now();
    }

    await Promise.all([killOnce(), ...Array.from({ length: CLIENTS }, (_, n) => client(n))]);
    console.log(`[postgres-kill-mid-batch] ${acknowledged.captures.size} flows acknowledged (${flowsAfter} after the kill), `
      + `${retriedCalls} ledger calls retried; batcher ${JSON.stringify(ledgerBatchStats(sql))}`);
    expect(retriedCalls).toBeGreaterThan(0);

    // The journal against what the callers were told: every creation was acknowledged (a retried hold of one
    // quote never made a second), held once and captured once at the acknowledged amount.
    const creations = await sql<{ id: string; quoted: number; charged: number | null; status: string }[]>`
      SELECT id, quoted, charged, status FROM creations WHERE workspace_id IN ${sql(workspaces)}`;
    const flowCreations = creations.filter((c) => acknowledged.holds.has(c.id));
    expect(creations.length - flowCreations.length).toBe(0);
    expect(flowCreations.length).toBe(acknowledged.holds.size);
    const entries = await sql<{ kind: string; operation_key: string; n: number; amount: number }[]>`
      SELECT kind, operation_key, count(*)::int AS n, sum(amount)::int AS amount FROM ledger_entries
      WHERE workspace_id IN ${sql(workspaces)} AND kind IN ('hold', 'capture') GROUP BY kind, operation_key`;
    const byKey = new Map(entries.map((e) => [`${e.kind}:${e.operation_key}`, e]));
    const problems: string[] = [];
    for (const c of flowCreations) {
      const hold = byKey.get(`hold:hold:${c.id}`);
      if (!hold || hold.n !== 1 || hold.amount !== -c.quoted) problems.push(`${c.id}: hold ${JSON.stringify(hold)} for ${c.quoted}`);
      const charged = acknowledged.captures.get(c.id)!;
      const capture = byKey.get(`capture:capture:${c.id}`);
      if (c.status !== 'succeeded' || c.charged !== charged) problems.push(`${c.id}: ${c.status}/${c.charged}, acknowledged ${charged}`);
      if (charged > 0 && (!capture || capture.n !== 1 || capture.amount !== -charged)) problems.push(`${c.id}: capture ${JSON.stringify(capture)} for ${charged}`);
    }
    expect(problems).toEqual([]);
    expect(await lotsOffTheirJournal(sql, workspaces)).toEqual([]);
    for (const ws of workspaces) {
      const charged = [...acknowledged.captures.entries()].filter(([id]) => acknowledged.holds.get(id)!.ws === ws)
        .reduce((sum, [, n]) => sum + n, 0);
      expect(await availableFromLots(sql, ws)).toBe(GRANT - charged);
      expect((await getBalance(sql, ws)).available).toBe(GRANT - charged);
    }
  });
});
