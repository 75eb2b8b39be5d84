/**
 * The Temporal Web UI 2.54 of the pinned CLI's dev server (as `npm start` runs it, here in memory on free ports)
 * lists a subscription workflow and filters the list by our search attributes, in Debian's Chromium.
 * Screenshot: test-results/temporal-ui-workflows.png.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import { type Browser } from 'playwright-core';
import { launchChromium } from '../helpers/browser.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { freePort } from '../../dev/ports.js';
import { type DevServer, startDevServer } from '../../dev/temporal-dev-server.js';
import { PlanId, WorkspaceId } from '../../workflows/search-attributes.js';

const ARTIFACTS = join(process.cwd(), 'test-results');

describe('Temporal Web UI', () => {
  let server: DevServer;
  let browser: Browser;
  let connection: Connection;

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const uiPort = await freePort();
    [server, browser] = await Promise.all([
      startDevServer({ cli: inject('temporalCliPath'), port: 'any', uiPort, logFile: join(inject('runDir'), 'temporal-ui.log') }),
      launchChromium(),
    ]);
    connection = await Connection.connect({ address: server.address });
    const client = new Client({ connection });
    // No worker: the execution only has to exist (Running) for the UI to list it.
    for (const [id, workspace, plan] of [['subscription-sub_ui_1', 'ws_ui', 'max'], ['subscription-sub_ui_2', 'ws_other', 'plus']] as const) {
      await client.workflow.start('subscriptionWorkflow', {
        taskQueue: 'subscriptions', workflowId: id, args: [],
        typedSearchAttributes: new TypedSearchAttributes([{ key: WorkspaceId, value: workspace }, { key: PlanId, value: plan }]),
      });
    }
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await connection?.close();
    await server?.stop();
  });

  it('lists the workflows, and a WorkspaceId query shows only that workspace\'s', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 800 } });
    await page.goto(`${server.uiUrl}/namespaces/default/workflows`);
    await page.getByText('subscription-sub_ui_1').first().waitFor({ timeout: 60_000 });
    await page.getByText('subscription-sub_ui_2').first().waitFor({ timeout: 60_000 });
    await page.screenshot({ path: join(ARTIFACTS, 'temporal-ui-workflows.png'), fullPage: true });

    await page.goto(`${server.uiUrl}/namespaces/default/workflows?query=${encodeURIComponent(`WorkspaceId="ws_ui"`)}`);
    await page.getByText('subscription-sub_ui_1').first().waitFor({ timeout: 60_000 });
    expect(await page.getByText('subscription-sub_ui_2').count()).toBe(0);
    await page.close();
  }, 180_000);
});
