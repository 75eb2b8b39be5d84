/**
 * Temporal connection settings through the SDK's loader (@temporalio/envconfig, runtime/temporal-connection.ts):
 * a temporal.toml profile, the SDK's variables over it, our earlier TLS variable names, and the defaults. Then the
 * real worker/main.ts and api/main.ts, configured only by environment variables, on a dev server in a namespace
 * other than `default`: the worker polls there, the search attributes are registered there, the API is ready.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import { afterAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { freePort } from '../../dev/ports.js';
import { type DevServer, startDevServer } from '../../dev/temporal-dev-server.js';
import { loadTemporalSettings } from '../../runtime/temporal-connection.js';
import { ALL_SEARCH_ATTRIBUTES } from '../../workflows/search-attributes.js';
import { freshDatabase } from '../helpers/database.js';
import { eventually } from '../helpers/temporal.js';

const dir = mkdtempSync(join(tmpdir(), 'temporal-envconfig-'));
const emptyHome = join(dir, 'home'); // no ~/.config/temporalio/temporal.toml of the machine's user leaks in
mkdirSync(emptyHome);
const file = (name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const certPath = file('client.pem', '-----BEGIN CERTIFICATE-----\nclient\n-----END CERTIFICATE-----\n');
const keyPath = file('client.key', '-----BEGIN PRIVATE KEY-----\nkey\n-----END PRIVATE KEY-----\n');
const otherCertPath = file('other.pem', 'other certificate');
const caPath = file('ca.pem', 'server ca');
const toml = file('temporal.toml', `
[profile.default]
address = "profile-default.example:7233"
namespace = "from-default-profile"

[profile.cloud]
address = "studio.a1b2c.tmprl.cloud:7233"
namespace = "studio.a1b2c"
api_key = "profile-api-key"

[profile.mtls]
address = "temporal.internal:7233"
namespace = "billing"
[profile.mtls.tls]
client_cert_path = "${certPath}"
client_key_path = "${keyPath}"
server_ca_cert_path = "${caPath}"
server_name = "temporal.internal"
`);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const load = (env: Record<string, string>) => loadTemporalSettings({ HOME: emptyHome, ...env });

describe('loadTemporalSettings', () => {
  it('defaults to localhost:7233, namespace default, no TLS, no API key', () => {
    expect(load({})).toEqual({
      address: 'localhost:7233', namespace: 'default', connectionOptions: { address: 'localhost:7233' },
    });
  });

  it('reads TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY (an API key turns TLS on)', () => {
    expect(load({ TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233', TEMPORAL_NAMESPACE: 'ns.acct', TEMPORAL_API_KEY: 'key-1' })).toEqual({
      address: 'ns.acct.tmprl.cloud:7233',
      namespace: 'ns.acct',
      connectionOptions: { address: 'ns.acct.tmprl.cloud:7233', apiKey: 'key-1', tls: true },
    });
  });

  it('takes the default profile of TEMPORAL_CONFIG_FILE when no profile is named', () => {
    const settings = load({ TEMPORAL_CONFIG_FILE: toml });
    expect(settings.address).toBe('profile-default.example:7233');
    expect(settings.namespace).toBe('from-default-profile');
  });

  it('takes the TEMPORAL_PROFILE profile, with the environment variables over it', () => {
    expect(load({ TEMPORAL_CONFIG_FILE: toml, TEMPORAL_PROFILE: 'cloud' })).toEqual({
      address: 'studio.a1b2c.tmprl.cloud:7233',
      namespace: 'studio.a1b2c',
      connectionOptions: { address: 'studio.a1b2c.tmprl.cloud:7233', apiKey: 'profile-api-key', tls: true },
    });
    const overridden = load({ TEMPORAL_CONFIG_FILE: toml, TEMPORAL_PROFILE: 'cloud', TEMPORAL_NAMESPACE: 'studio-staging', TEMPORAL_API_KEY: 'env-key' });
    expect(overridden.address).toBe('studio.a1b2c.tmprl.cloud:7233');
    expect(overridden.namespace).toBe('studio-staging');
    expect(overridden.connectionOptions.apiKey).toBe('env-key');
  });

  it('reads a profile with mTLS files, server CA and server name', () => {
    const settings = load({ TEMPORAL_CONFIG_FILE: toml, TEMPORAL_PROFILE: 'mtls' });
    expect(settings.namespace).toBe('billing');
    const tls = settings.connectionOptions.tls as { clientCertPair: { crt: Buffer; key: Buffer }; serverRootCACertificate: Buffer; serverNameOverride: string };
    expect(Buffer.isBuffer(tls.clientCertPair.crt) && Buffer.isBuffer(tls.serverRootCACertificate)).toBe(true);
    expect(tls.clientCertPair.crt.toString()).toContain('client');
    expect(tls.clientCertPair.key.toString()).toContain('PRIVATE KEY');
    expect(tls.serverRootCACertificate.toString()).toBe('server ca');
    expect(tls.serverNameOverride).toBe('temporal.internal');
    expect(settings.connectionOptions.apiKey).toBeUndefined();
  });

  it('still reads our earlier TEMPORAL_TLS_CERT_PATH / TEMPORAL_TLS_KEY_PATH; the SDK names win when both are set', () => {
    const legacy = load({ TEMPORAL_ADDRESS: 'temporal.internal:7233', TEMPORAL_TLS_CERT_PATH: certPath, TEMPORAL_TLS_KEY_PATH: keyPath });
    const pair = (legacy.connectionOptions.tls as { clientCertPair: { crt: Buffer; key: Buffer } }).clientCertPair;
    expect(Buffer.isBuffer(pair.crt) && Buffer.isBuffer(pair.key)).toBe(true);
    expect(pair.crt.toString()).toContain('client');
    expect(pair.key.toString()).toContain('PRIVATE KEY');
    const both = load({ TEMPORAL_TLS_CERT_PATH: certPath, TEMPORAL_TLS_KEY_PATH: keyPath, TEMPORAL_TLS_CLIENT_CERT_PATH: otherCertPath });
    expect((both.connectionOptions.tls as { clientCertPair: { crt: Buffer; key: Buffer } }).clientCertPair.crt.toString()).toBe('other certificate');
  });

  it('treats empty variables as unset (docker compose passes ${X:-} as an empty string)', () => {
    expect(load({ TEMPORAL_ADDRESS: '', TEMPORAL_NAMESPACE: '', TEMPORAL_API_KEY: '', TEMPORAL_TLS_CERT_PATH: '' })).toEqual({
      address: 'localhost:7233', namespace: 'default', connectionOptions: { address: 'localhost:7233' },
    });
  });

  it('refuses a named profile the file does not have', () => {
    expect(() => load({ TEMPORAL_CONFIG_FILE: toml, TEMPORAL_PROFILE: 'nope' })).toThrow(/Profile 'nope' not found/);
  });
});

describe('worker and API configured by the environment alone, on a dev server', () => {
  const children: ChildProcess[] = [];
  let server: DevServer | undefined;
  let connection: Connection | undefined;
  let dropDb: (() => Promise<void>) | undefined;
  afterAll(async () => {
    await Promise.all(children.map((child) => new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    })));
    await connection?.close();
    await server?.stop();
    await dropDb?.();
  });

  function run(entry: string, env: Record<string, string>): { child: ChildProcess; output: () => string } {
    let output = '';
    const child = spawn(process.execPath, ['--import', 'tsx', entry], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: emptyHome, LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    children.push(child);
    return { child, output: () => output };
  }

  it('the worker polls the configured namespace, where the search attributes are registered; the API is ready', async () => {
    const namespace = 'studio';
    server = await startDevServer({
      cli: inject('temporalCliPath'), port: 'any', uiPort: null, namespace, logFile: join(inject('runDir'), `temporal-envconfig.log`),
    });
    const db = await freshDatabase();
    dropDb = db.drop;
    const [apiPort, metricsPort] = [await freePort(), await freePort()];
    const common = { DATABASE_URL: db.url, TEMPORAL_ADDRESS: server.address, TEMPORAL_NAMESPACE: namespace, TEMPORAL_TASK_QUEUE: 'envconfig-test' };
    const worker = run('worker/main.ts', { ...common, WORKER_METRICS_PORT: String(metricsPort) });
    const api = run('api/main.ts', { ...common, PORT: String(apiPort), ADMIN_API_KEY: 'envconfig-operator-key-0123' });

    connection = await Connection.connect({ address: server.address });
    const listed = await connection.operatorService.listSearchAttributes({ namespace });
    for (const key of ALL_SEARCH_ATTRIBUTES) expect(Object.keys(listed.customAttributes ?? {})).toContain(key.name);

    await eventually(() => Promise.resolve(worker.output()), (out) => out.includes('worker polling'), 90_000)
      .catch((error: Error) => { throw new Error(`${error.message}\n${worker.output()}`); });
    expect(worker.output()).toContain(`on ${server.address} (namespace ${namespace})`);
    const pollers = await eventually(
      () => connection!.workflowService.describeTaskQueue({
        namespace, taskQueue: { name: 'envconfig-test' }, taskQueueType: proto.temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
      }),
      (answer) => (answer.pollers ?? []).length > 0,
      60_000,
    );
    expect(pollers.pollers!.length).toBeGreaterThan(0);

    const ready = await eventually(
      () => fetch(`http://127.0.0.1:${apiPort}/readyz`).then(async (r) => ({ status: r.status, body: await r.json() as unknown }), () => ({ status: 0, body: null })),
      (answer) => answer.status === 200,
      90_000,
    ).catch((error: Error) => { throw new Error(`${error.message}\n${api.output()}`); });
    expect(ready.body).toEqual({ status: 'ready', postgres: 'ok', temporal: 'ok' });
  }, 240_000);
});
