/**
 * Renewal storm: n subscriptions on one test clock, all due at the same instant, one advance; against n
 * trivial one-activity workflows on the same Temporal server. And the history cost of a subscription-year.
 */
import type { ChildProcess } from 'node:child_process';
import { cpus } from 'node:os';
import { firstPaymentSettledUpdate } from '../workflows/messages.js';
import { startSubscription, workflowIdOf } from '../billing/subscriptions.js';
import { currentSubscription } from '../ledger/subscriptions.js';
import { setPaymentMethod, createWorkspace, getWorkspace } from '../ledger/workspaces.js';
import { clusterCpuMs, foreignShare, mark, perUnit, processCpuMs } from './cpu.js';
import { apiClient, type ApiClient, subscribedWorkspace } from './http.js';
import { log, pool, sleep, waitForQuiet } from './log.js';
import { type Stack, TASK_QUEUE } from './stack.js';
import { trivialWorkflow } from './trivial-workflow.js';

const DAY = 86_400_000;

export interface StormFigures {
  n: number;
  seconds: number;
  baseline_seconds: number;
  ratio: number;
  /** How long the advance request itself took (the API signals every subscription before answering). */
  advance_request_seconds: number;
  setup_seconds: number;
  /** Share of the CPUs used by programs outside the benchmark during the storm and during the baseline. */
  foreign_cpu: { storm: number; baseline: number };
  /**
   * CPU milliseconds per renewal (storm) and per trivial workflow (baseline) by process: the worker (the
   * trivial worker for the baseline), the Temporal dev server, the API, Postgres, the bench process itself.
   */
  cpu_ms: { storm: Record<string, number>; baseline: Record<string, number> };
  /** The product worker's sticky cache during the storm: hits and misses (a miss replays the history). */
  worker_cache: { hits: number; misses: number; forced_evictions: number; size_after: number };
  /** Retries during setup after a transient Temporal error (the server overloaded), and of the advance request (503). */
  setup_retries: number;
  advance_retries: number;
  /** Starts of the baseline's trivial workflows retried after a transient error. */
  baseline_retries: number;
}

/** Lanes of startSubscription during the storm's setup (BENCH_STORM_SETUP_LANES). */
const SETUP_LANES = Number(process.env.BENCH_STORM_SETUP_LANES ?? 16);

/** CPU time of every process of the benchmark's stack (plus `extra` processes). */
function ourCpuMs(stack: Stack, extra: (number | undefined)[] = []): number {
  return Object.values(cpuByProcess(stack)).reduce((a, b) => a + b, 0) + extra.reduce((sum: number, pid) => sum + processCpuMs(pid), 0);
}

/** CPU milliseconds so far by process of the stack; `worker` is `workerPid` when given (the trivial worker). */
function cpuByProcess(stack: Stack, workerPid?: number): Record<string, number> {
  return {
    worker: processCpuMs(workerPid ?? stack.pids.worker), temporal: processCpuMs(stack.pids.temporal), api: processCpuMs(stack.pids.api),
    postgres: clusterCpuMs(stack.pids.postmaster), bench: processCpuMs(process.pid),
  };
}

/** The worker runtime's sticky-cache counters (Prometheus text; summed over label sets). */
async function workerCache(stack: Stack): Promise<{ hits: number; misses: number; forced_evictions: number; size: number }> {
  const text = await fetch(stack.workerMetricsUrl).then((r) => r.text(), () => '');
  const sum = (name: string) => text.split('\n').filter((line) => line.startsWith(`temporal_${name}{`) || line.startsWith(`temporal_${name} `))
    .reduce((total, line) => total + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
  return { hits: sum('sticky_cache_hit'), misses: sum('sticky_cache_miss'), forced_evictions: sum('sticky_cache_total_forced_eviction'),
    size: sum('sticky_cache_size') };
}

/**
 * A workspace named `name` on the clock, with `pm_card_visa`, subscribed to Plus monthly as POST /v1/subscription does. On a Temporal error (a dev server starved of
 * CPU times out its own persistence calls and fails the Update), waits for the first charge again on the
 * workflow already started, or starts over when none was; returns the retries used.
 */
export async function subscribeOnClock(stack: Stack, clockId: string, name: string): Promise<number> {
  const { id } = await createWorkspace(stack.sql, { name, testClockId: clockId });
  await setPaymentMethod(stack.sql, id, 'pm_card_visa');
  for (let attempt = 0; ; attempt++) {
    try {
      const existing = await currentSubscription(stack.sql, id);
      const view = existing
        ? await stack.temporal.workflow.getHandle(workflowIdOf(existing.id)).executeUpdate(firstPaymentSettledUpdate)
        : await startSubscription({ sql: stack.sql, temporal: stack.temporal, taskQueue: TASK_QUEUE },
          (await getWorkspace(stack.sql, id))!, { plan: 'plus', interval: 'month' });
      if (view.status !== 'active') throw new Error(`storm subscription ${view.id} is ${view.status}`);
      return attempt;
    } catch (error) {
      if (attempt >= 30 || !(error instanceof Error) || !/Update failed|deadline|Unavailable|FAILED_PRECONDITION/i.test(`${error.message} ${String(error.cause)}`)) throw error;
      log(`${name}: ${error.message}${error.cause ? ` (${String(error.cause)})` : ''}; retrying`);
      await sleep(Math.min(5000, 1000 * (attempt + 1)));
    }
  }
}

/** Waits until the sandbox's events are delivered and every stored webhook event is forwarded. */
export async function quiesce(stack: Stack, timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [row] = await stack.sql<{ pending: number }[]>`
      SELECT (SELECT count(*) FROM sandbox_outbox WHERE delivered_at IS NULL)
           + (SELECT count(*) FROM webhook_events WHERE forwarded_at IS NULL) AS pending`;
    if (row!.pending === 0) return;
    if (Date.now() > deadline) throw new Error(`${row!.pending} webhook events still pending`);
    await sleep(250);
  }
}

/**
 * POST /v1/test-clocks/{id}/advance, again on a 503: a signal that missed its deadline (a dev server starved of
 * CPU) fails the request after the clock moved, and the same advance again signals every subscription anew.
 */
export async function advanceClock(operator: ApiClient, clockId: string, to: string): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    try {
      await operator.post(`/v1/test-clocks/${clockId}/advance`, { frozen_time: to });
      return attempt;
    } catch (error) {
      if (attempt >= 10 || !String(error).includes(': 503 ')) throw error;
      log(`advance of ${clockId} to ${to}: 503 (a signal missed its deadline); advancing again`);
    }
  }
}

/** Polls GET /v1/test-clocks/{id} until the clock is ready. */
export async function clockReady(operator: ApiClient, clockId: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await operator.get<{ status: string }>(`/v1/test-clocks/${clockId}`)).status !== 'ready') {
    if (Date.now() > deadline) throw new Error(`clock ${clockId} not ready after ${timeoutMs} ms`);
    await sleep(100);
  }
}

export async function measureStorm(stack: Stack, n: number): Promise<StormFigures> {
  // BENCH_STORM_BASELINE_ONLY=1: only the n trivial workflows (the storm's other figures NaN), to pair a baseline
  // with a storm measured in an earlier run when a whole storm does not fit the time at hand.
  if (process.env.BENCH_STORM_BASELINE_ONLY === '1') {
    const baseline = await measureBaseline(stack, n);
    const none = { worker: NaN, temporal: NaN, api: NaN, postgres: NaN, bench: NaN };
    return { n, seconds: NaN, baseline_seconds: baseline.seconds, ratio: NaN, advance_request_seconds: NaN, setup_seconds: NaN,
      foreign_cpu: { storm: NaN, baseline: baseline.foreign }, cpu_ms: { storm: none, baseline: baseline.cpu },
      worker_cache: { hits: 0, misses: 0, forced_evictions: 0, size_after: 0 }, setup_retries: 0, advance_retries: 0,
      baseline_retries: baseline.retries };
  }
  const operator = apiClient(stack.apiUrl, stack.adminKey);
  const start = Date.parse('2026-03-01T00:00:00Z');
  const clock = await operator.post<{ id: string }>('/v1/test-clocks', { frozen_time: new Date(start).toISOString() });

  // Through the ledger and the Temporal client exactly as POST /v1/subscription does (the same function),
  // faster than n × 3 HTTP calls.
  log(`storm: ${n} workspaces with pm_card_visa, each subscribed to Plus monthly on one test clock`);
  const setupStarted = Date.now();
  let made = 0;
  let retries = 0;
  await pool(Array.from({ length: n }, (_, i) => i), SETUP_LANES, async (i) => {
    retries += await subscribeOnClock(stack, clock.id, `storm ${n} ${i}`);
    if (++made % 500 === 0) log(`storm: ${made}/${n} subscribed`);
  });
  // Waits that grow with n: 10,000 first charges and their webhook events take minutes even on a quiet machine.
  const patienceMs = Math.max(300_000, n * 60);
  await clockReady(operator, clock.id, patienceMs);
  await quiesce(stack, patienceMs);
  const setupSeconds = (Date.now() - setupStarted) / 1000;
  log(`storm: ${n} subscriptions ready in ${setupSeconds.toFixed(1)} s; advancing the clock by 30 days`);

  const due = new Date(start + 30 * DAY).toISOString();
  // Only the workspaces not seen renewed yet are checked, once a second: at n = 10,000 a check of every workspace
  // five times a second (two index scans each) cost the cluster a third of a core, taken from the storm it measures.
  const waiting = new Set((await stack.sql<{ id: string }[]>`SELECT id FROM workspaces WHERE test_clock_id = ${clock.id}`).map((w) => w.id));
  const settled = async () => {
    const renewed = await stack.sql<{ id: string }[]>`
      SELECT w.id FROM unnest(${[...waiting]}::text[]) AS w(id)
      WHERE (SELECT count(*) FROM invoices i WHERE i.workspace_id = w.id AND i.status = 'paid') = 2
        AND (SELECT count(*) FROM lots l WHERE l.workspace_id = w.id) = 2`;
    for (const { id } of renewed) waiting.delete(id);
    return n - waiting.size;
  };
  await waitForQuiet();
  const cache0 = await workerCache(stack);
  const c0 = cpuByProcess(stack);
  const m0 = mark(ourCpuMs(stack));
  const t0 = performance.now();
  const advanceRetries = await advanceClock(operator, clock.id, due);
  const advanceRequest = (performance.now() - t0) / 1000;
  log(`storm: advance answered after ${advanceRequest.toFixed(1)} s`);
  let lastLog = performance.now();
  for (;;) {
    const done = await settled();
    if (done === n && (await operator.get<{ status: string }>(`/v1/test-clocks/${clock.id}`)).status === 'ready') break;
    if (performance.now() - lastLog > 5000) {
      log(`storm: ${done}/${n} charged and granted`);
      lastLog = performance.now();
    }
    if (performance.now() - t0 > 2 * patienceMs) throw new Error(`storm: ${done}/${n} charged and granted, clock not ready after ${(2 * patienceMs) / 60_000} minutes`);
    await sleep(n > 2000 ? 1000 : 250);
  }
  const seconds = (performance.now() - t0) / 1000;
  const stormForeign = foreignShare(m0, mark(ourCpuMs(stack)), cpus().length);
  const stormCpu = perUnit(c0, cpuByProcess(stack), n);
  const cache1 = await workerCache(stack);
  const worker_cache = { hits: cache1.hits - cache0.hits, misses: cache1.misses - cache0.misses,
    forced_evictions: cache1.forced_evictions - cache0.forced_evictions, size_after: cache1.size };
  log(`storm: CPU ms per renewal ${JSON.stringify(stormCpu)}; worker cache ${JSON.stringify(worker_cache)}`);
  log(`storm: all ${n} renewed (2 paid invoices, 2 lots each) and the clock ready in ${seconds.toFixed(1)} s`);
  await quiesce(stack, patienceMs);

  const baseline = await measureBaseline(stack, n);
  const foreign_cpu = { storm: stormForeign, baseline: baseline.foreign };
  if (foreign_cpu.storm > 0.1 || foreign_cpu.baseline > 0.1) {
    log(`!! other programs used ${(foreign_cpu.storm * 100).toFixed(0)}% / ${(foreign_cpu.baseline * 100).toFixed(0)}%` +
      ' of the CPUs during the storm / the baseline: those figures are noisy');
  }
  return { n, seconds, baseline_seconds: baseline.seconds, ratio: baseline.seconds / seconds,
    advance_request_seconds: advanceRequest, setup_seconds: setupSeconds, foreign_cpu,
    cpu_ms: { storm: stormCpu, baseline: baseline.cpu }, worker_cache, setup_retries: retries,
    advance_retries: advanceRetries, baseline_retries: baseline.retries };
}

/** n trivial one-activity workflows started at once on their own task queue and worker process. */
async function measureBaseline(stack: Stack, n: number): Promise<{ seconds: number; foreign: number; cpu: Record<string, number>; retries: number }> {
  const taskQueue = 'bench-trivial';
  const worker: ChildProcess = await stack.child('trivial-worker', 'bench/trivial-worker.ts', { TEMPORAL_ADDRESS: stack.temporalAddress, TASK_QUEUE: taskQueue });
  await new Promise<void>((resolve, reject) => {
    worker.stdout!.on('data', (chunk: Buffer) => { if (chunk.toString().includes('ready')) resolve(); });
    worker.once('exit', (code) => reject(new Error(`trivial worker exited with ${code}`)));
  });
  // One workflow first, so bundling and connection warm-up are not timed.
  await stack.temporal.workflow.execute(trivialWorkflow, { taskQueue, workflowId: `bench-trivial-warmup-${n}`, args: [0] });
  await waitForQuiet();
  log(`baseline: ${n} trivial one-activity workflows started at once`);
  const c0 = cpuByProcess(stack, worker.pid);
  const m0 = mark(ourCpuMs(stack, [worker.pid]));
  let retries = 0;
  const t0 = performance.now();
  // Started 64 at a time, as the clock's advance signals the subscriptions (billing/clock-fan-out.ts): 10,000
  // starts at once fail with "Failed to start Workflow" on the dev server. Each start is retried on a transient
  // error; the results are awaited 256 at a time (a completed workflow's result answers at once).
  const handles = await pool(Array.from({ length: n }, (_, i) => i), 64, async (i) => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await stack.temporal.workflow.start(trivialWorkflow, { taskQueue, workflowId: `bench-trivial-${n}-${i}`, args: [i] });
      } catch (error) {
        if (attempt >= 10 || !(error instanceof Error) || (error.name === 'WorkflowExecutionAlreadyStartedError')) throw error;
        retries += 1;
        log(`baseline: start ${i}: ${error.message}${error.cause ? ` (${String(error.cause)})` : ''}; retrying`);
        await sleep(500 * (attempt + 1));
      }
    }
  });
  await pool(handles, 256, (handle) => handle.result());
  const seconds = (performance.now() - t0) / 1000;
  const foreign = foreignShare(m0, mark(ourCpuMs(stack, [worker.pid])), cpus().length);
  const cpu = perUnit(c0, cpuByProcess(stack, worker.pid), n);
  log(`baseline: all ${n} completed in ${seconds.toFixed(1)} s (${retries} starts retried); CPU ms per workflow ${JSON.stringify(cpu)}`);
  await stack.stopChild(worker);
  return { seconds, foreign, cpu, retries };
}

/**
 * One monthly subscription for a year on its own test clock, advanced a month (30 days) at a time as a
 * real calendar would wake it, with the API's webhook loop running; the events of every run of its
 * continue-as-new chain are summed.
 */
export async function measureHistoryPerYear(stack: Stack): Promise<{ events: number; runs: number; advances: number }> {
  const operator = apiClient(stack.apiUrl, stack.adminKey);
  const start = Date.parse('2026-01-01T00:00:00Z');
  const clock = await operator.post<{ id: string }>('/v1/test-clocks', { frozen_time: new Date(start).toISOString() });
  const ws = await subscribedWorkspace(operator, stack.apiUrl, { name: 'history', clockId: clock.id, plan: 'max' });
  const sub = await apiClient(stack.apiUrl, ws.key).get<{ id: string }>('/v1/subscription');
  const workflowId = `subscription-${sub.id}`;
  const firstRunId = (await stack.temporal.workflow.getHandle(workflowId).describe()).runId;
  const yearLater = new Date(start);
  yearLater.setUTCFullYear(yearLater.getUTCFullYear() + 1);
  let advances = 0;
  for (let t = start + 30 * DAY; ; t = Math.min(t + 30 * DAY, yearLater.getTime())) {
    await operator.post(`/v1/test-clocks/${clock.id}/advance`, { frozen_time: new Date(t).toISOString() });
    await clockReady(operator, clock.id, 60_000);
    advances += 1;
    if (t >= yearLater.getTime()) break;
  }
  await quiesce(stack);
  await sleep(1000);
  let events = 0;
  let runs = 0;
  let runId: string | undefined = firstRunId;
  while (runId) {
    const history: { events?: { workflowExecutionContinuedAsNewEventAttributes?: { newExecutionRunId?: string | null } | null }[] | null } =
      await stack.temporal.workflow.getHandle(workflowId, runId).fetchHistory();
    const list = history.events ?? [];
    events += list.length;
    runs += 1;
    runId = list.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  }
  log(`history: ${events} events over ${runs} run(s) and ${advances} monthly advances`);
  return { events, runs, advances };
}
