import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { stateQuery } from '../../workflows/messages.js';
import { iso, subscribeOnClock } from '../helpers/clock-harness.js';
import { freshDatabase } from '../helpers/database.js';
import type { DevServer } from '../../dev/temporal-dev-server.js';
import { eventually, startTestDevServer } from '../helpers/temporal.js';

/**
 * Kill -9 the worker between a renewal's charge and its grant, restart it: one charge, one grant.
 * On the CLI dev server: a real server notices the dead worker (activity timeout, sticky queue expiry).
 */
describe('a worker killed in the middle of a renewal', () => {
  let server: DevServer;
  let connection: Connection;
  let client: Client;
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  const children: ChildProcess[] = [];
  const scratch = join(inject('runDir'), `crash-${process.pid}`);
  const callsFile = `${scratch}-calls.txt`;
  const marker = `${scratch}-crashed.txt`;

  beforeAll(async () => {
    let temporal: Awaited<ReturnType<typeof startTestDevServer>>;
    [temporal, db] = await Promise.all([startTestDevServer(), freshDatabase()]);
    ({ server, connection, client } = temporal);
    writeFileSync(callsFile, '');
  });
  afterAll(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await connection?.close();
    await server?.stop();
    await db?.drop();
  });

  function startWorkerProcess(taskQueue: string, crash: boolean): Promise<ChildProcess> {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/worker-process.ts'], {
      env: {
        ...process.env, DATABASE_URL: db.url, TEMPORAL_ADDRESS: server.address, TASK_QUEUE: taskQueue,
        WORKFLOW_BUNDLE: inject('workflowBundlePath'), CALLS_FILE: callsFile,
        ...(crash ? { CRASH_MARKER: marker, CRASH_PERIOD: '1' } : {}),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(child);
    return new Promise((resolve, reject) => {
      child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve(child));
      child.once('exit', (code, signal) => reject(new Error(`worker exited before it was ready (${signal ?? code})`)));
    });
  }

  it('charges once and grants once after a restart', { timeout: 180_000 }, async () => {
    const taskQueue = `crash-${process.pid}`;
    const first = await startWorkerProcess(taskQueue, true);
    const exited = new Promise<string | null>((resolve) => first.once('exit', (_code, signal) => resolve(signal)));
    const sub = await subscribeOnClock(client, db.sql, taskQueue, { plan: 'max', interval: 'month', start: '2026-01-01T00:00:00Z' });

    // The dead worker's charge is retried once the server times it out (20 s).
    const advanced = sub.advance('2026-01-31T00:00:00Z', 90_000);
    expect(await exited).toBe('SIGKILL');
    expect(existsSync(marker)).toBe(true);
    // The charge went through before the crash; the grant did not happen.
    expect((await sub.invoices()).map((i) => [iso(i.created_at), i.status])).toEqual([
      ['2026-01-01T00:00:00Z', 'paid'], ['2026-01-31T00:00:00Z', 'paid'],
    ]);
    expect(await sub.lots()).toHaveLength(1);

    await startWorkerProcess(taskQueue, false);
    await advanced;
    await eventually(() => sub.handle.query(stateQuery), (s) => s.current_period_start === '2026-01-31T00:00:00.000Z');

    const renewalKey = `${sub.subscriptionId}:c0:${Date.parse('2026-01-01T00:00:00Z')}:period:1:subscription`;
    const calls = readFileSync(callsFile, 'utf8').trim().split('\n');
    expect(calls.filter((key) => key === renewalKey)).toHaveLength(1);
    expect((await sub.invoices()).filter((i) => i.kind === 'subscription')).toHaveLength(2);
    const lots = await sub.lots();
    expect(lots.map((l) => [l.granted, iso(l.granted_at)])).toEqual([[400, '2026-01-01T00:00:00Z'], [400, '2026-01-31T00:00:00Z']]);
    const grants = await db.sql`SELECT count(*)::int AS n FROM ledger_entries WHERE workspace_id = ${sub.workspaceId} AND kind = 'grant'`;
    expect(grants[0]!.n).toBe(2);
  });
});
