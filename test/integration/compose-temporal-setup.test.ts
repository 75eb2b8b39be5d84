import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import proto from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse } from 'yaml';
import { ALL_SEARCH_ATTRIBUTES } from '../../workflows/search-attributes.js';
import { startTestDevServer } from '../helpers/temporal.js';

/**
 * docker-compose.yml's temporal-setup one-shot, run for real (issue 14): deploy/temporal/setup-namespace.sh with
 * the compose file's SEARCH_ATTRIBUTES, driving the same Temporal CLI as admin-tools' `temporal` (1.9.1) against
 * a Temporal 1.32 server (the CLI's dev server; no Docker engine here). A fresh namespace ends with our search
 * attributes, typed as workflows/search-attributes.ts says, and a second run changes nothing and succeeds.
 */
const run = promisify(execFile);
const IndexedValueType = proto.temporal.api.enums.v1.IndexedValueType;
const EXPECTED_TYPE: Record<string, number> = {
  KEYWORD: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  DATETIME: IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
  BOOL: IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
};

describe('temporal-setup one-shot (deploy/temporal/setup-namespace.sh) against Temporal 1.32', () => {
  let temporal: Awaited<ReturnType<typeof startTestDevServer>>;
  let bin: string;
  const namespace = `compose-${randomBytes(4).toString('hex')}`;
  const compose = parse(readFileSync('docker-compose.yml', 'utf8'), { merge: true }) as {
    services: Record<string, { environment: Record<string, string> }>;
  };
  const setupEnvironment = compose.services['temporal-setup']!.environment;

  beforeAll(async () => {
    temporal = await startTestDevServer();
    // admin-tools has the CLI on PATH as `temporal`; here it is the tool cache's binary under that name.
    bin = mkdtempSync(join(tmpdir(), 'temporal-cli-'));
    symlinkSync(inject('temporalCliPath'), join(bin, 'temporal'));
  });

  afterAll(async () => {
    await temporal?.connection.close();
    await temporal?.server.stop();
    if (bin) rmSync(bin, { recursive: true, force: true });
  });

  const setup = () => run('sh', ['deploy/temporal/setup-namespace.sh'], {
    env: {
      PATH: `${bin}:${process.env.PATH}`, HOME: process.env.HOME,
      ...setupEnvironment, TEMPORAL_ADDRESS: temporal.server.address, TEMPORAL_NAMESPACE: namespace, SETUP_ATTEMPTS: '30',
    },
    timeout: 90_000,
  });

  it('creates the namespace (30 days of retention) and registers every search attribute with its type', async () => {
    const { stdout } = await setup();
    expect(stdout).toContain(`namespace ${namespace} ready`);
    const described = await temporal.connection.workflowService.describeNamespace({ namespace });
    expect(Number(described.config?.workflowExecutionRetentionTtl?.seconds)).toBe(720 * 3600);
    const listed = await temporal.connection.operatorService.listSearchAttributes({ namespace });
    const registered = Object.fromEntries(ALL_SEARCH_ATTRIBUTES.map((key) => [key.name, listed.customAttributes?.[key.name]]));
    expect(registered).toEqual(Object.fromEntries(ALL_SEARCH_ATTRIBUTES.map((key) => [key.name, EXPECTED_TYPE[key.type]])));
  });

  it('runs again on the next `docker compose up` without failing or changing anything', async () => {
    const before = await temporal.connection.operatorService.listSearchAttributes({ namespace });
    await expect(setup()).resolves.toMatchObject({ stdout: expect.stringContaining('ready') });
    const after = await temporal.connection.operatorService.listSearchAttributes({ namespace });
    expect(after.customAttributes).toEqual(before.customAttributes);
  });
});
