/**
 * The Temporal CLI dev server as tests, the bench and `npm start` start it (dev/temporal-dev-server.ts), on the
 * pinned CLI 1.9.1 (server 1.32): parallel starts on free ports never collide, a start that loses its port is
 * retried and then reported with the server's own words, and our search attributes are registered and queryable
 * through visibility (what the Web UI's filters use).
 */
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { Client, Connection } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import { afterAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { type DevServer, startDevServer } from '../../dev/temporal-dev-server.js';
import { BillingInterval, NextDueAt, PlanId, WorkspaceId } from '../../workflows/search-attributes.js';
import { eventually } from '../helpers/temporal.js';

const servers: DevServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((server) => server.stop()));
});
const logFile = (name: string): string => join(inject('runDir'), `temporal-dev-server-${name}.log`);

describe('the Temporal dev server', () => {
  it('is the pinned CLI 1.9.1 (Temporal Server 1.32.0, UI 2.54.1)', () => {
    expect(execFileSync(inject('temporalCliPath'), ['--version'], { encoding: 'utf8' })).toContain('1.9.1 (Server 1.32.0, UI 2.54.1)');
  });

  it('starts three at once on free ports, each healthy on its own port', async () => {
    const started = await Promise.all(['a', 'b', 'c'].map((name) =>
      startDevServer({ cli: inject('temporalCliPath'), port: 'any', uiPort: null, logFile: logFile(name) })));
    servers.push(...started);
    expect(new Set(started.map((server) => server.port)).size).toBe(3);
    for (const server of started) {
      const connection = await Connection.connect({ address: server.address });
      const info = await connection.workflowService.getSystemInfo({});
      expect(info.serverVersion).toBe('1.32.0');
      await connection.close();
    }
  }, 180_000);

  it('retries a start whose port is taken, then fails with the server\'s reason', async () => {
    const blocker: Server = createServer();
    const port = await new Promise<number>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve((blocker.address() as { port: number }).port)));
    try {
      const failed = startDevServer({ cli: inject('temporalCliPath'), port, uiPort: null, logFile: logFile('taken'), attempts: 2 });
      await expect(failed).rejects.toThrow(/exited with 1 \(attempt 2\)[\s\S]*address already in use/);
    } finally {
      blocker.close();
    }
  }, 60_000);

  it('registers our search attributes, and visibility queries filter by them', async () => {
    const server = servers[0]!;
    const connection = await Connection.connect({ address: server.address });
    try {
      const listed = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
      expect(Object.keys(listed.customAttributes ?? {})).toEqual(expect.arrayContaining(
        ['WorkspaceId', 'PlanId', 'BillingInterval', 'SubscriptionStatus', 'NextDueAt', 'CancelAtPeriodEnd']));
      const client = new Client({ connection });
      // No worker polls this queue: the executions only need to exist for visibility.
      const start = (id: string, workspace: string, plan: string, due: string) => client.workflow.start('subscriptionWorkflow', {
        taskQueue: 'nobody-polls', workflowId: id, args: [],
        typedSearchAttributes: new TypedSearchAttributes([
          { key: WorkspaceId, value: workspace }, { key: PlanId, value: plan },
          { key: BillingInterval, value: 'month' }, { key: NextDueAt, value: new Date(due) },
        ]),
      });
      await start('sa-1', 'ws_a', 'plus', '2030-01-15T00:00:00Z');
      await start('sa-2', 'ws_a', 'max', '2030-03-15T00:00:00Z');
      await start('sa-3', 'ws_b', 'plus', '2030-01-20T00:00:00Z');
      const ids = async (query: string) => {
        const found: string[] = [];
        for await (const execution of client.workflow.list({ query })) found.push(execution.workflowId);
        return found.sort();
      };
      expect(await eventually(() => ids(`WorkspaceId = 'ws_a'`), (found) => found.length === 2)).toEqual(['sa-1', 'sa-2']);
      expect(await ids(`PlanId = 'plus' AND BillingInterval = 'month'`)).toEqual(['sa-1', 'sa-3']);
      expect(await ids(`NextDueAt < '2030-02-01T00:00:00Z'`)).toEqual(['sa-1', 'sa-3']);
    } finally {
      await connection.close();
    }
  }, 60_000);
});
