import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../../dev/ports.js';
import { type PrivateCluster, startPrivateCluster } from '../../dev/postgres.js';
import { ensurePostgresBinDir } from '../../dev/tools.js';
import { getBalance, grantLot } from '../../ledger/credits.js';
import { createSql, type Sql } from '../../ledger/db.js';
import { migrate } from '../../ledger/migrate.js';
import { createTestClock } from '../../ledger/test-clocks.js';
import { createWorkspace } from '../../ledger/workspaces.js';
import { eventually } from '../helpers/temporal.js';
import { availableFromLots, between, lotsOffTheirJournal, prng, seedFromEnv } from './helpers.js';

/**
 * Resilience: Postgres is stopped and started again (same data directory, same port, a durable cluster
 * of the test's own) in the middle of a spend load over HTTP: concurrent clients run estimate → creation →
 * complete (or fail) in a loop, every POST with an `Idempotency-Key`, retrying the same request with
 * the same key whenever it was not answered (network error, 5xx, 429, key still in use). The API runs in
 * a process of its own and must live through the outage. Afterwards: every acknowledged completion is
 * captured exactly once, nothing is captured that was not acknowledged, every hold is journaled once,
 * every flow ended, the balance equals the lots and every lot equals its journal.
 */

const WORKSPACES = 4;
const CLIENTS_PER_WORKSPACE = 2;
/** The load runs at least this long, and at least AFTER_RESTART_MS past the restart (a busy machine may be slow to get there). */
const LOAD_MS = 20_000;
const AFTER_RESTART_MS = 6_000;
/** Postgres stops once the load is under way: this many flows acknowledged (then 0–2 s more, at random). */
const ACKNOWLEDGED_BEFORE_RESTART = 20;
const OUTAGE_MS = 3_000;
/**
 * A request not answered definitively within this long is given up (and fails the test). Longer than the
 * API's in-flight lease of an Idempotency-Key, after which a retry takes over a key whose first request
 * could not record its outcome (see api/idempotency.ts).
 */
const REQUEST_DEADLINE_MS = 120_000;
const ADMIN_KEY = 'resilience-operator-key-0123456789';
const CLOCK = '2026-01-01T00:00:00Z';

interface Answer { status: number; body: any }
interface Attempted { answer: Answer | null; attempts: number; failures: string[]; gaveUp: boolean }

const isRoot = process.getuid?.() === 0;

/** pg_ctl as the cluster's user, without blocking this process (the API and the clients live in it). */
async function pgCtl(args: string[]): Promise<void> {
  const binary = join(await ensurePostgresBinDir(), 'pg_ctl');
  const [cmd, argv] = isRoot ? ['runuser', ['-u', 'postgres', '--', binary, ...args]] : [binary, args];
  await new Promise<void>((resolve, reject) => {
    const child = spawn(cmd, argv, { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`pg_ctl ${args.join(' ')} exited with ${code}`))));
  });
}

describe('resilience: Postgres restarted during a spend load', () => {
  const dir = join(inject('runDir'), `pg-resilience-${process.pid}`);
  const apiLog = join(inject('runDir'), `pg-resilience-${process.pid}-api.log`);
  let port: number;
  let cluster: PrivateCluster;
  let sql: Sql;
  let api: ChildProcess;
  let apiExit: { code: number | null; signal: string | null } | null = null;
  let baseUrl: string;

  beforeAll(async () => {
    port = await freePort();
    cluster = await startPrivateCluster({ dir, port, durable: true });
    const admin = createSql(cluster.url, { max: 1 });
    await admin.unsafe('CREATE DATABASE resilience');
    await admin.end();
    const url = cluster.url.replace(/\/postgres$/, '/resilience');
    await migrate(url);
    sql = createSql(url);
    // The API runs in a process of its own: the restart must not take it down.
    const apiPort = await freePort();
    baseUrl = `http://127.0.0.1:${apiPort}`;
    api = spawn(process.execPath, ['--import', 'tsx', 'test/resilience/api-process.ts'], {
      env: { ...process.env, DATABASE_URL: url, PORT: String(apiPort), ADMIN_API_KEY: ADMIN_KEY },
      stdio: ['ignore', 'pipe', openSync(apiLog, 'a')],
    });
    api.once('exit', (code, signal) => { apiExit = { code, signal }; });
    await new Promise<void>((resolve, reject) => {
      api.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve());
      api.once('exit', (code) => reject(new Error(`the API process exited with ${code} before it was ready; see ${apiLog}`)));
    });
  });
  afterAll(async () => {
    if (api && api.exitCode === null && api.signalCode === null) api.kill('SIGTERM');
    await sql?.end({ timeout: 5 });
    cluster?.stop();
  });

  /** The API process's last words, when it died. */
  const apiDeath = () => (apiExit ? { ...apiExit, stderr: readFileSync(apiLog, 'utf8').split('\n').filter(Boolean).slice(-8) } : null);

  /** One POST, retried with the same key and body until it is answered definitively (a 2xx or a 4xx). */
  async function post(key: string, apiKey: string, path: string, body: unknown): Promise<Attempted> {
    const deadline = Date.now() + REQUEST_DEADLINE_MS;
    const failures: string[] = [];
    let attempts = 0;
    for (let backoff = 50; ; backoff = Math.min(backoff * 2, 1000)) {
      attempts += 1;
      let answer: Answer | null = null;
      try {
        const response = await fetch(baseUrl + path, {
          method: 'POST',
          headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', 'idempotency-key': key },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(15_000),
        });
        const text = await response.text();
        answer = { status: response.status, body: text ? JSON.parse(text) : null };
      } catch (error) {
        failures.push(`network: ${(error as Error).message}`);
      }
      if (answer) {
        const retryable = answer.status >= 500 || answer.status === 429
          || (answer.status === 409 && answer.body?.code === 'idempotency_key_in_use');
        if (!retryable) return { answer, attempts, failures, gaveUp: false };
        failures.push(`${answer.status} ${answer.body?.code ?? ''}`);
      }
      // Nothing will answer once the API process is gone.
      if (Date.now() > deadline || apiExit) return { answer, attempts, failures, gaveUp: true };
      await new Promise((resolve) => setTimeout(resolve, backoff));
    }
  }

  it('captures every acknowledged completion exactly once and nothing else', { timeout: 360_000 }, async () => {
    const seed = seedFromEnv();
    console.log(`[postgres-restart] seed ${seed} (RESILIENCE_SEED=${seed} to replay)`);
    const random = prng(seed);
    const clock = await createTestClock(sql, new Date(CLOCK));
    // Two lots each: a small one expiring first (so holds span lots once it runs low) and a large one.
    const workspaces = await Promise.all(Array.from({ length: WORKSPACES }, async (_, i) => {
      const ws = await createWorkspace(sql, { name: `spend ${i}`, testClockId: clock.id });
      await grantLot(sql, { key: `seed:${ws.id}:small`, workspaceId: ws.id, source: 'monthly', amount: 150,
        grantedAt: new Date(CLOCK), expiresAt: new Date('2026-02-01T00:00:00Z') });
      await grantLot(sql, { key: `seed:${ws.id}:large`, workspaceId: ws.id, source: 'monthly', amount: 1_000_000,
        grantedAt: new Date(CLOCK), expiresAt: new Date('2026-03-02T00:00:00Z') });
      return { id: ws.id, apiKey: ws.apiKey };
    }));
    const granted = 150 + 1_000_000;

    const learned = new Map<string, { workspaceId: string; quoted: number }>();
    const completed = new Map<string, { workspaceId: string; charged: number; reported: number }>();
    const failedOnes = new Map<string, { workspaceId: string; released: number }>();
    const gaveUp: { step: string; key: string; failures: string[]; last: Answer | null }[] = [];
    const unexpected: { step: string; answer: Answer }[] = [];
    let unanswered = 0;
    let flows = 0;
    let restartedAt = 0;
    const flowsAfterRestart = { acknowledged: 0 };
    const stopAt = Date.now() + LOAD_MS;
    const loadRuns = () => Date.now() < stopAt || restartedAt === 0 || Date.now() < restartedAt + AFTER_RESTART_MS;

    async function client(ws: (typeof workspaces)[number], n: number): Promise<void> {
      const rand = prng(seed + n + 1);
      while (loadRuns() && !apiExit) {
        flows += 1;
        const flow = randomBytes(8).toString('hex');
        const track = (step: string, key: string, result: Attempted): Answer | null => {
          unanswered += result.failures.length;
          if (result.gaveUp) {
            gaveUp.push({ step, key, failures: result.failures.slice(-5), last: result.answer });
            return null;
          }
          return result.answer;
        };
        const estimateBody = between(rand, 0, 1) === 0
          ? { model: 'imagen-3', resolution: 'standard', count: between(rand, 1, 5) }
          : { model: 'kling-2', duration_s: between(rand, 1, 10) };
        const quote = track('estimate', `${flow}:estimate`, await post(`${flow}:estimate`, ws.apiKey, '/v1/credits/estimate', estimateBody));
        if (!quote) continue;
        if (quote.status !== 201) { unexpected.push({ step: 'estimate', answer: quote }); continue; }
        const creation = track('creation', `${flow}:creation`,
          await post(`${flow}:creation`, ws.apiKey, '/v1/creations', { quote_id: quote.body.quote_id }));
        if (!creation) continue;
        if (creation.status !== 201 && creation.status !== 200) { unexpected.push({ step: 'creation', answer: creation }); continue; }
        learned.set(creation.body.id, { workspaceId: ws.id, quoted: creation.body.quoted });
        const id = creation.body.id as string;
        if (rand() < 0.85) {
          // Sometimes more than quoted: the capture is capped at the quote.
          const reported = between(rand, 0, creation.body.quoted + 2);
          const done = track('complete', `${flow}:complete`,
            await post(`${flow}:complete`, ws.apiKey, `/v1/creations/${id}/complete`, { credits: reported }));
          if (!done) continue;
          if (done.status !== 200) { unexpected.push({ step: 'complete', answer: done }); continue; }
          completed.set(id, { workspaceId: ws.id, charged: done.body.charged, reported });
        } else {
          const done = track('fail', `${flow}:fail`, await post(`${flow}:fail`, ws.apiKey, `/v1/creations/${id}/fail`, {}));
          if (!done) continue;
          if (done.status !== 200) { unexpected.push({ step: 'fail', answer: done }); continue; }
          failedOnes.set(id, { workspaceId: ws.id, released: done.body.released });
        }
        if (restartedAt > 0) flowsAfterRestart.acknowledged += 1;
      }
    }

    async function restart(): Promise<void> {
      await eventually(async () => completed.size + failedOnes.size, (n) => n >= ACKNOWLEDGED_BEFORE_RESTART, 120_000);
      await new Promise((resolve) => setTimeout(resolve, between(random, 0, 2000)));
      const dataDir = join(dir, 'pgdata');
      await pgCtl(['-D', dataDir, '-m', 'fast', '-w', 'stop']);
      await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));
      cluster = await startPrivateCluster({ dir, port, durable: true });
      restartedAt = Date.now();
    }

    const started = Date.now();
    await Promise.all([
      restart(),
      ...workspaces.flatMap((ws, w) => Array.from({ length: CLIENTS_PER_WORKSPACE }, (_, c) => client(ws, w * CLIENTS_PER_WORKSPACE + c))),
    ]);
    console.log(`[postgres-restart] ${flows} flows in ${Date.now() - started} ms; ${completed.size} completions and ${failedOnes.size} `
      + `failures acknowledged (${flowsAfterRestart.acknowledged} after the restart); ${unanswered} unanswered attempts retried; `
      + `${gaveUp.length} requests given up`);

    // The API process lived through it, the outage was felt, and the API came back on its own.
    expect(apiDeath()).toBeNull();
    expect(restartedAt).toBeGreaterThan(0);
    expect(unanswered).toBeGreaterThan(0);
    expect(flowsAfterRestart.acknowledged).toBeGreaterThan(0);
    expect((await fetch(`${baseUrl}/healthz`)).status).toBe(200);
    // Every request was answered in the end, with what the flow expects.
    expect(gaveUp).toEqual([]);
    expect(unexpected).toEqual([]);

    // ---- The journal against what the clients were told -------------------------------------------
    const creations = await sql<{ id: string; workspace_id: string; status: string; quoted: number; charged: number | null }[]>`
      SELECT id, workspace_id, status, quoted, charged FROM creations`;
    // Every creation in the ledger is one a client learned about, and every flow ended it.
    expect(new Set(creations.map((c) => c.id))).toEqual(new Set(learned.keys()));
    expect(creations.filter((c) => c.status === 'running')).toEqual([]);
    const entries = await sql<{ kind: string; operation_key: string; lot_id: number; amount: number }[]>`
      SELECT kind, operation_key, lot_id, amount FROM ledger_entries WHERE kind IN ('hold', 'capture', 'release')`;
    const byKey = new Map<string, { lot_id: number; amount: number }[]>();
    for (const e of entries) byKey.set(`${e.kind}:${e.operation_key}`, [...(byKey.get(`${e.kind}:${e.operation_key}`) ?? []), e]);
    const sum = (key: string) => (byKey.get(key) ?? []).reduce((total, e) => total + e.amount, 0);
    const lotsOnce = (key: string) => {
      const lots = (byKey.get(key) ?? []).map((e) => e.lot_id);
      return new Set(lots).size === lots.length;
    };
    const portions = await sql<{ creation_id: string; n: number }[]>`SELECT creation_id, count(*)::int AS n FROM hold_portions GROUP BY creation_id`;
    const portionCount = new Map(portions.map((p) => [p.creation_id, p.n]));
    const problems: string[] = [];
    for (const c of creations) {
      const hold = `hold:hold:${c.id}`;
      if (sum(hold) !== -c.quoted || (byKey.get(hold) ?? []).length !== portionCount.get(c.id) || !lotsOnce(hold)) {
        problems.push(`${c.id}: hold journaled ${JSON.stringify(byKey.get(hold))} for ${c.quoted} in ${portionCount.get(c.id)} portions`);
      }
      const capture = `capture:capture:${c.id}`;
      const ack = completed.get(c.id);
      if (ack) {
        // Acknowledged: captured exactly once, what the response said, once per lot.
        if (c.status !== 'succeeded' || c.charged !== ack.charged || -sum(capture) !== ack.charged || !lotsOnce(capture)) {
          problems.push(`${c.id}: acknowledged charged ${ack.charged}, row ${c.status}/${c.charged}, captures ${JSON.stringify(byKey.get(capture))}`);
        }
        if (ack.charged !== Math.min(ack.reported, c.quoted)) problems.push(`${c.id}: reported ${ack.reported} of ${c.quoted}, charged ${ack.charged}`);
      } else if (byKey.has(capture)) {
        problems.push(`${c.id}: captured ${-sum(capture)} without an acknowledged completion`);
      }
      const failed = failedOnes.get(c.id);
      if (failed && (c.status !== 'failed' || failed.released !== c.quoted)) problems.push(`${c.id}: acknowledged failure, row ${c.status}`);
      if (!ack && !failed) problems.push(`${c.id}: ended (${c.status}) without an acknowledgement`);
      const released = sum(`release:release:${c.id}`);
      if (released !== c.quoted - (c.charged ?? 0) || !lotsOnce(`release:release:${c.id}`)) {
        problems.push(`${c.id}: released ${released} of ${c.quoted} − ${c.charged}`);
      }
    }
    expect(problems).toEqual([]);

    // ---- Balances: the API's answer = the lots = what was granted minus what was acknowledged ---------
    expect(await lotsOffTheirJournal(sql)).toEqual([]);
    for (const ws of workspaces) {
      const charged = [...completed.values()].filter((c) => c.workspaceId === ws.id).reduce((total, c) => total + c.charged, 0);
      const credits = await eventually(async () => {
        const response = await fetch(`${baseUrl}/v1/credits`, { headers: { authorization: `Bearer ${ws.apiKey}` } });
        return { status: response.status, body: await response.json() as { available: number; held: number } };
      }, (r) => r.status === 200);
      expect(credits.body).toMatchObject({ available: granted - charged, held: 0 });
      expect(await availableFromLots(sql, ws.id)).toBe(granted - charged);
      expect((await getBalance(sql, ws.id)).available).toBe(granted - charged);
    }
  });
});
