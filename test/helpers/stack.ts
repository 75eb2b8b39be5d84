import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { inject } from 'vitest';
import { createApp } from '../../api/app.js';
import { createCreditEngineClient } from '../../client/index.js';
import { startWebhookLoops } from '../../api/webhooks/loops.js';
import { freePort } from '../../dev/ports.js';
import { createSandboxProvider } from '../../payments/sandbox.js';
import { startDevServer } from '../../dev/temporal-dev-server.js';
import { freshDatabase } from './database.js';
import { saveSellerSettings } from '../../ledger/seller.js';
import type { SellerIdentity } from '../../runtime/config.js';
import { eventually, startTestWorker } from './temporal.js';

export const ADMIN_KEY = 'test-operator-key-0123456789';
export const WEBHOOK_SECRET = 'test-webhook-signing-secret';

export interface StackOptions {
  /**
   * Keep the Temporal dev server's state in a file of the run directory (instead of in memory), so that
   * `restartTemporal()` brings it back with its workflows.
   */
  temporalDbFile?: boolean;
  /** Per-workspace spend limit of the API (its default otherwise). */
  spendRateLimit?: { perSecond: number; burst: number };
  /** The seller on invoices (SELLER_* configuration): stored as the API does at start. */
  seller?: SellerIdentity;
  /** Per-API-key limit of every /v1 route (RATE_LIMIT_*; the API's default otherwise). */
  rateLimit?: { perSecond: number; burst: number };
  /** METRICS_TOKEN of the API (loopback-only /metrics otherwise). */
  metricsToken?: string;
  /**
   * ALLOW_PRIVATE_WEBHOOK_TARGETS of the API (default true: the tests' webhook receivers listen on 127.0.0.1).
   * The worker's deliveries in this process follow process.env, which startStack sets to true unless set.
   */
  allowPrivateWebhookTargets?: boolean;
}

/**
 * The whole product for end-to-end tests: the Temporal CLI dev server, a real worker, the API on a
 * real port and a fresh Postgres database.
 */
export async function startStack(options: StackOptions = {}) {
  const [db, temporalPort, apiPort] = await Promise.all([freshDatabase(), freePort(), freePort()]);
  // The rule: private webhook targets are allowed in tests and `npm start` (receivers on 127.0.0.1), nowhere else.
  process.env.ALLOW_PRIVATE_WEBHOOK_TARGETS ??= 'true';
  const dbFile = options.temporalDbFile ? join(inject('runDir'), `temporal-${temporalPort}.db`) : undefined;
  // The first start takes any free port (retried elsewhere if a parallel start wins it); a restart keeps it.
  const startTemporal = (port: number | 'any' = 'any') => startDevServer({
    cli: inject('temporalCliPath'), port, uiPort: null, ...(dbFile ? { dbFile } : {}),
    logFile: join(inject('runDir'), `temporal-${temporalPort}.log`),
  });
  let devServer = await startTemporal();
  const nativeConnection = await NativeConnection.connect({ address: devServer.address });
  const worker = await startTestWorker(nativeConnection, db.sql);
  const connection = await Connection.connect({ address: devServer.address });
  const temporal = new Client({ connection });
  const payments = createSandboxProvider({ publicUrl: `http://127.0.0.1:${apiPort}`, sql: db.sql });
  const app = createApp({
    sql: db.sql, temporal, taskQueue: worker.taskQueue, adminApiKey: ADMIN_KEY, payments, webhookSecret: WEBHOOK_SECRET, sandbox: payments,
    publicUrl: `http://127.0.0.1:${apiPort}`, spendRateLimit: options.spendRateLimit, seller: options.seller,
    rateLimit: options.rateLimit, metricsToken: options.metricsToken, allowPrivateWebhookTargets: options.allowPrivateWebhookTargets ?? true,
  });
  if (options.seller) await saveSellerSettings(db.sql, options.seller);
  const server = serve({ fetch: app.fetch, port: apiPort, hostname: '127.0.0.1' });
  const baseUrl = `http://127.0.0.1:${apiPort}`;
  const stopWebhookLoops = startWebhookLoops({
    sql: db.sql, temporal, payments, everyMs: 100, sandbox: { endpoint: `${baseUrl}/webhooks/stripe`, secret: WEBHOOK_SECRET },
  });

  return {
    baseUrl,
    sql: db.sql,
    temporal,
    payments,
    api: (key: string) => apiClient(baseUrl, key),
    /** The typed client (client/index.ts) authenticated with `key`: what a studio's own app uses. */
    client: (key: string) => createCreditEngineClient({ baseUrl, apiKey: key }),
    get devServer() {
      return devServer;
    },
    /**
     * Stops the dev server, runs `whileStopped` (if given), and starts it again on the same port with the
     * same state (needs `temporalDbFile`). The worker and the clients keep their connections' addresses.
     */
    async restartTemporal(whileStopped?: () => Promise<void>) {
      if (!dbFile) throw new Error('restartTemporal() needs startStack({ temporalDbFile: true })');
      await devServer.stop();
      try {
        await whileStopped?.();
      } finally {
        devServer = await startTemporal(devServer.port);
      }
    },
    async stop() {
      await stopWebhookLoops();
      server.close();
      await worker.stop();
      await nativeConnection.close();
      await connection.close();
      await devServer.stop();
      await db.drop();
    },
  };
}

export interface ApiResponse<T = any> {
  status: number;
  contentType: string | null;
  body: T;
}

export function apiClient(baseUrl: string, key: string) {
  async function call<T = any>(method: string, path: string, body?: unknown): Promise<ApiResponse<T>> {
    const response = await fetch(baseUrl + path, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, contentType: response.headers.get('content-type'), body: text ? JSON.parse(text) : null };
  }
  return {
    get: <T = any>(path: string) => call<T>('GET', path),
    post: <T = any>(path: string, body?: unknown) => call<T>('POST', path, body),
    put: <T = any>(path: string, body?: unknown) => call<T>('PUT', path, body),
    delete: <T = any>(path: string) => call<T>('DELETE', path),
  };
}

/** Advances a test clock and waits until every subscription on it has caught up. */
export async function advanceClock(operator: ReturnType<typeof apiClient>, clockId: string, to: string): Promise<void> {
  const advanced = await operator.post(`/v1/test-clocks/${clockId}/advance`, { frozen_time: to });
  if (advanced.status !== 200) throw new Error(`advance failed: ${advanced.status} ${JSON.stringify(advanced.body)}`);
  await eventually(() => operator.get(`/v1/test-clocks/${clockId}`), (r) => r.body.status === 'ready');
}
