import { type ChildProcess, spawn } from 'node:child_process';
import { openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TypedSearchAttributes } from '@temporalio/common';
import type { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { DevServer } from '../../dev/temporal-dev-server.js';
import { periodBounds } from '../../domain/calendar.js';
import { planById } from '../../domain/catalog.js';
import { getBalance } from '../../ledger/credits.js';
import { insertSubscription } from '../../ledger/subscriptions.js';
import { advanceTestClock, createTestClock } from '../../ledger/test-clocks.js';
import { createWorkspace, newId, setPaymentMethod } from '../../ledger/workspaces.js';
import { clockAdvancedSignal, firstPaymentSettledUpdate, stateQuery } from '../../workflows/messages.js';
import * as attrs from '../../workflows/search-attributes.js';
import { subscriptionLifecycleWorkflow } from '../../workflows/subscription.js';
import { freshDatabase } from '../helpers/database.js';
import { eventually, startTestDevServer } from '../helpers/temporal.js';
import { availableFromLots, between, duplicatedGrants, lotsOffTheirJournal, prng, seedFromEnv } from './helpers.js';

/**
 * Resilience: the worker (a real one, in a child process) is killed with SIGKILL at random points while
 * 25 monthly subscriptions on one test clock go through 4 renewals each (100 renewals), and restarted
 * every time. Kills come two ways: the process kills itself right after a random n-th activity call
 * (the side effect done, its result not yet reported to Temporal: the worst moment), and the test kills
 * it after a random delay (anywhere: mid-charge, mid-grant, idle). Afterwards: every renewal charged
 * and paid exactly once, exactly one grant per paid invoice, no provider charge repeated except an
 * idempotent retry (same key) by the next process after a kill, and every lot equal to its journal.
 */

const SUBSCRIPTIONS = 25;
const RENEWALS = 4;
const DAY = 86_400_000;
const START = Date.parse('2026-01-01T00:00:00Z');
const PLANS = ['plus', 'max', 'generative'] as const;

interface ChargeLine { phase: 'start' | 'done'; pid: number; key: string; status?: string }

describe('resilience: worker killed with SIGKILL at random points of 100 renewals', () => {
  let server: DevServer;
  let connection: Connection;
  let client: Client;
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  const scratch = join(inject('runDir'), `resilience-kill-${process.pid}`);
  const files = { calls: `${scratch}-calls.txt`, charges: `${scratch}-charges.jsonl`, crashes: `${scratch}-crashes.jsonl`,
    workerLog: `${scratch}-workers.log` };
  const seed = seedFromEnv();
  const random = prng(seed);
  const taskQueue = `resilience-kill-${process.pid}`;

  // ---- A supervisor that keeps one worker process alive, restarting it whenever it dies ------------
  interface Running { child: ChildProcess; ready: Promise<boolean> }
  let current: Running | undefined;
  let supervising = true;
  let arming = false;
  let selfKillBudget = 6;
  let spawned = 0;
  const killedByTest = new Set<number>();
  const exits: { pid: number; signal: string | null; code: number | null }[] = [];

  function spawnWorker(): Running {
    if (++spawned > 60) throw new Error('the worker was restarted more than 60 times');
    // While the budget lasts, each new worker kills itself after a random number of activity calls.
    const crashAfter = arming && selfKillBudget > 0 ? between(random, 1, 120) : 0;
    if (crashAfter > 0) selfKillBudget -= 1;
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/worker-process.ts'], {
      env: {
        ...process.env, DATABASE_URL: db.url, TEMPORAL_ADDRESS: server.address, TASK_QUEUE: taskQueue,
        WORKFLOW_BUNDLE: inject('workflowBundlePath'), CALLS_FILE: files.calls, CHARGE_LOG: files.charges, CRASH_LOG: files.crashes,
        ...(crashAfter > 0 ? { CRASH_AFTER_ACTIVITY_CALLS: String(crashAfter) } : {}),
      },
      stdio: ['ignore', 'pipe', openSync(files.workerLog, 'a')],
    });
    const ready = new Promise<boolean>((resolve) => {
      child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve(true));
      child.once('exit', () => resolve(false));
    });
    child.once('exit', (code, signal) => {
      exits.push({ pid: child.pid!, signal, code });
      // Restart at once: the test's own kills and the self-inflicted ones alike.
      if (supervising && current?.child === child) current = spawnWorker();
    });
    return { child, ready };
  }

  /** Waits for a ready worker (restarting as needed). */
  async function readyWorker(): Promise<Running> {
    for (;;) {
      const running = current!;
      if (await running.ready) return running;
      await eventually(async () => current, (c) => c !== running, 10_000);
    }
  }

  /** SIGKILLs the running worker (once it is ready) and waits until its replacement is ready. */
  async function killWorker(): Promise<void> {
    const running = await readyWorker();
    if (running.child.exitCode === null && running.child.signalCode === null) {
      killedByTest.add(running.child.pid!);
      const exited = new Promise((resolve) => running.child.once('exit', resolve));
      running.child.kill('SIGKILL');
      await exited;
    }
    await readyWorker();
  }

  beforeAll(async () => {
    let temporal: Awaited<ReturnType<typeof startTestDevServer>>;
    [temporal, db] = await Promise.all([startTestDevServer(), freshDatabase()]);
    ({ server, connection, client } = temporal);
    for (const file of Object.values(files)) writeFileSync(file, '');
    current = spawnWorker();
    await readyWorker();
  });
  afterAll(async () => {
    supervising = false;
    const child = current?.child;
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await connection?.close();
    await server?.stop();
    await db?.drop();
  });

  it('charges each renewal once and grants once per paid invoice, whatever the kills', { timeout: 420_000 }, async () => {
    console.log(`[worker-kill] seed ${seed} (RESILIENCE_SEED=${seed} to replay)`);
    const clock = await createTestClock(db.sql, new Date(START));
    const subs = await Promise.all(Array.from({ length: SUBSCRIPTIONS }, async (_, i) => {
      const plan = PLANS[i % PLANS.length]!;
      const ws = await createWorkspace(db.sql, { name: `kill ${i}`, testClockId: clock.id });
      await setPaymentMethod(db.sql, ws.id, 'pm_card_visa');
      const subscriptionId = newId('sub');
      const { end } = periodBounds(START, 'month', 0);
      await insertSubscription(db.sql, {
        id: subscriptionId, workspaceId: ws.id, plan, interval: 'month',
        periodStart: new Date(START), periodEnd: new Date(end), clockTime: new Date(START),
      });
      const handle = await client.workflow.start(subscriptionLifecycleWorkflow, {
        taskQueue, workflowId: `subscription-${subscriptionId}`,
        args: [{ subscriptionId, workspaceId: ws.id, plan, interval: 'month', startedAt: START, testClockId: clock.id }],
        typedSearchAttributes: new TypedSearchAttributes([{ key: attrs.WorkspaceId, value: ws.id }]),
      });
      return { workspaceId: ws.id, subscriptionId, plan, handle };
    }));
    const firsts = await Promise.all(subs.map((s) => s.handle.executeUpdate(firstPaymentSettledUpdate)));
    expect(firsts.every((f) => f.status === 'active')).toBe(true);

    const started = Date.now();
    const stepLog: string[] = [];
    for (let step = 1; step <= RENEWALS; step++) {
      const target = START + step * 30 * DAY;
      // Sometimes the idle worker dies too, just before the clock moves.
      const idleKill = random() < 0.5;
      if (idleKill) await killWorker();
      const result = await advanceTestClock(db.sql, clock.id, new Date(target));
      expect(result.ok).toBe(true);
      await Promise.all(subs.map((s) => s.handle.signal(clockAdvancedSignal, { frozenTimeMs: target })));
      // The test kills whatever worker runs after a random delay; from then on, every replacement is armed.
      const delay = between(random, 0, 6000);
      const timedKill = new Promise((resolve) => setTimeout(resolve, delay)).then(() => { arming = true; }).then(killWorker);
      const stepStarted = Date.now();
      await eventually(
        async () => (await db.sql<{ n: number }[]>`
          SELECT count(*)::int AS n FROM subscriptions WHERE id IN ${db.sql(subs.map((s) => s.subscriptionId))}
            AND clock_synced_to >= ${new Date(target)}`)[0]!.n,
        (n) => n === SUBSCRIPTIONS, 240_000,
      );
      await timedKill;
      stepLog.push(`renewal ${step}: ${idleKill ? 'idle kill, ' : ''}timed kill after ${delay} ms, synced in ${Date.now() - stepStarted} ms`);
    }
    supervising = false;

    const crashes = readFileSync(files.crashes, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { pid: number; after: string; call: number });
    const killedPids = new Set([...killedByTest, ...crashes.map((c) => c.pid)]);
    console.log(`[worker-kill] ${stepLog.join('; ')}; ${killedByTest.size} kills by the test, ${crashes.length} self-kills `
      + `(after ${crashes.map((c) => c.after).join(', ')}), ${exits.length} exits, ${Math.round((Date.now() - started) / 1000)} s`);
    // Every exit was a SIGKILL: no worker died of anything else.
    expect(exits.filter((e) => e.signal !== 'SIGKILL')).toEqual([]);
    expect(killedPids.size).toBeGreaterThanOrEqual(2 * RENEWALS);

    // ---- Charges: one invoice per period, every one paid, nothing else charged --------------------
    const keyOf = (sub: (typeof subs)[number], period: number) => `${sub.subscriptionId}:c0:${START}:period:${period}:subscription`;
    const expectedKeys = subs.flatMap((s) => Array.from({ length: RENEWALS + 1 }, (_, p) => keyOf(s, p)));
    const invoices = await db.sql<{ business_key: string; kind: string; status: string; workspace_id: string }[]>`
      SELECT business_key, kind, status, workspace_id FROM invoices`;
    expect(invoices).toHaveLength(SUBSCRIPTIONS * (RENEWALS + 1));
    expect(invoices.filter((i) => i.kind !== 'subscription' || i.status !== 'paid')).toEqual([]);
    expect(new Set(invoices.map((i) => i.business_key))).toEqual(new Set(expectedKeys));

    // The provider saw exactly these idempotency keys (no dunning retry, no second key for one period) ...
    const calls = readFileSync(files.calls, 'utf8').trim().split('\n');
    expect(new Set(calls)).toEqual(new Set(expectedKeys));
    // ... and a key was sent again only by a later process after the one that sent it was killed
    // (Temporal retrying the activity: the same key, so the provider answers with the first charge).
    const charges = readFileSync(files.charges, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as ChargeLine);
    expect(charges.filter((c) => c.phase === 'done' && c.status !== 'paid')).toEqual([]);
    const byKey = new Map<string, ChargeLine[]>();
    for (const c of charges.filter((line) => line.phase === 'start')) byKey.set(c.key, [...(byKey.get(c.key) ?? []), c]);
    const repeats = [...byKey.entries()].filter(([, starts]) => starts.length > 1);
    for (const [key, starts] of repeats) {
      for (let i = 1; i < starts.length; i++) {
        const previous = starts[i - 1]!;
        expect({ key, again: starts[i]!.pid !== previous.pid, previousKilled: killedPids.has(previous.pid) })
          .toEqual({ key, again: true, previousKilled: true });
      }
    }
    console.log(`[worker-kill] ${calls.length} provider calls for ${expectedKeys.length} charges; ${repeats.length} keys re-sent after a kill`);
    const outbox = await db.sql<{ event_id: string }[]>`SELECT event_id FROM sandbox_outbox WHERE payload->>'type' = 'invoice.paid'`;
    expect(outbox.map((e) => e.event_id).sort()).toEqual(expectedKeys.map((k) => `evt_sbx_${k}:paid`).sort());

    // ---- Grants: exactly one per paid invoice; lots equal their journal -------------------------------
    expect(await duplicatedGrants(db.sql)).toEqual([]);
    const grants = await db.sql<{ operation_key: string; amount: number; workspace_id: string; at: Date }[]>`
      SELECT operation_key, amount, workspace_id, at FROM ledger_entries WHERE kind = 'grant'`;
    expect(grants.map((g) => g.operation_key).sort()).toEqual(
      subs.flatMap((s) => Array.from({ length: RENEWALS + 1 }, (_, i) => `${s.subscriptionId}:c0:${START}:refresh:${i}:grant`)).sort());
    for (const s of subs) {
      const credits = planById(s.plan).monthlyCredits;
      const own = grants.filter((g) => g.workspace_id === s.workspaceId).sort((a, b) => a.at.getTime() - b.at.getTime());
      expect(own.map((g) => [g.amount, g.at.getTime()]))
        .toEqual(Array.from({ length: RENEWALS + 1 }, (_, i) => [credits, START + i * 30 * DAY]));
    }
    expect(await lotsOffTheirJournal(db.sql)).toEqual([]);
    const expiries = await db.sql<{ operation_key: string; n: number }[]>`
      SELECT operation_key, count(*)::int AS n FROM ledger_entries WHERE kind = 'expire' GROUP BY operation_key`;
    // Lots of refreshes 0..2 have expired (each 60 days after its grant), each exactly once.
    expect(expiries).toHaveLength(SUBSCRIPTIONS * (RENEWALS - 1));
    expect(expiries.every((e) => e.n === 1)).toBe(true);

    // ---- Every subscription is active in its fifth period with the two live lots spendable -----------
    const projections = await db.sql<{ id: string; status: string; current_period_start: Date; version: number; clock_synced_to: Date }[]>`
      SELECT id, status, current_period_start, version, clock_synced_to FROM subscriptions`;
    const stale = projections.filter((row) => row.status !== 'active' || row.current_period_start.getTime() !== START + RENEWALS * 30 * DAY);
    const states = await Promise.all(stale.map((row) => subs.find((s) => s.subscriptionId === row.id)!.handle.query(stateQuery)));
    expect(stale.map((row, i) => ({ ...row, workflow: states[i] })), 'projection rows behind their workflow').toEqual([]);
    for (const s of subs) {
      const balance = await getBalance(db.sql, s.workspaceId);
      expect(balance.available).toBe(2 * planById(s.plan).monthlyCredits);
      expect(await availableFromLots(db.sql, s.workspaceId)).toBe(balance.available);
    }
  });
});
