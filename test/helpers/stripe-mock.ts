/**
 * stripe-mock (Stripe's official API mock, which validates every request against Stripe's OpenAPI spec)
 * for the Stripe provider's contract tests, plus a small recording proxy in front of it that keeps what
 * the SDK really sent over HTTP: method, path, headers and form parameters.
 */
import { spawn } from 'node:child_process';
import { createServer, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { freePort, waitForPort } from '../../dev/ports.js';
import { ensureStripeMock } from '../../dev/tools.js';

export interface StripeMock {
  /** e.g. `http://127.0.0.1:41234`, for the provider's `apiBase`. */
  apiBase: string;
  stop(): Promise<void>;
}

/** Starts the pinned stripe-mock on free loopback ports and resolves once it accepts connections. */
export async function startStripeMock(): Promise<StripeMock> {
  const binary = await ensureStripeMock();
  const httpPort = await freePort();
  const httpsPort = await freePort();
  // Both listeners are named: with only an HTTP address, stripe-mock also opens HTTPS on :12112 of every interface.
  const child = spawn(binary, ['-http-addr', `127.0.0.1:${httpPort}`, '-https-addr', `127.0.0.1:${httpsPort}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const spawnFailed = new Promise<never>((_, reject) => child.once('error', reject));
  try {
    await Promise.race([
      waitForPort(httpPort, 30_000),
      spawnFailed,
      exited.then((code) => {
        throw new Error(`stripe-mock exited with ${code} before listening:\n${output}`);
      }),
    ]);
  } catch (error) {
    child.kill('SIGTERM');
    throw error;
  }
  return {
    apiBase: `http://127.0.0.1:${httpPort}`,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}

export interface RecordedRequest {
  method: string;
  /** Path without the query string, e.g. `/v1/invoices/in_123/pay`. */
  path: string;
  idempotencyKey: string | undefined;
  stripeVersion: string | undefined;
  /** Form parameters as sent, flattened the way Stripe encodes them: `metadata[invoice_id]` → `in_…`. */
  params: Record<string, string>;
  /** The status the client received. */
  status: number;
}

/** Replaces the upstream answer to one request (to script outcomes stripe-mock cannot produce). */
export type ScriptedResponse = { status: number; body: unknown };

export interface RecordingProxy {
  apiBase: string;
  requests: RecordedRequest[];
  /** Consulted before forwarding; a returned response is sent instead of stripe-mock's. */
  script: ((request: Omit<RecordedRequest, 'status'>) => ScriptedResponse | undefined) | undefined;
  stop(): Promise<void>;
}

/** An HTTP proxy to `target` that records every request it forwards. */
export async function startRecordingProxy(target: string): Promise<RecordingProxy> {
  const upstream = new URL(target);
  const requests: RecordedRequest[] = [];
  const proxy: RecordingProxy = { apiBase: '', requests, script: undefined, stop: async () => {} };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const url = new URL(req.url ?? '/', 'http://proxy');
      const params: Record<string, string> = {};
      const form = req.method === 'GET' || req.method === 'DELETE' ? url.searchParams : new URLSearchParams(body.toString('utf8'));
      for (const [name, value] of form) params[name] = value;
      const seen = {
        method: req.method ?? 'GET',
        path: url.pathname,
        idempotencyKey: header(req.headers, 'idempotency-key'),
        stripeVersion: header(req.headers, 'stripe-version'),
        params,
      };
      const scripted = proxy.script?.(seen);
      if (scripted) {
        requests.push({ ...seen, status: scripted.status });
        res.writeHead(scripted.status, { 'content-type': 'application/json', 'request-id': 'req_scripted' });
        res.end(JSON.stringify(scripted.body));
        return;
      }
      const forward = httpRequest(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: upstream.host },
        },
        (answer) => {
          requests.push({ ...seen, status: answer.statusCode ?? 0 });
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      forward.on('error', (error) => {
        requests.push({ ...seen, status: 502 });
        res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { type: 'api_error', message: `proxy: ${error.message}` } }));
      });
      forward.end(body);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  proxy.apiBase = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.stop = () =>
    new Promise<void>((resolve, reject) => {
      server.closeAllConnections();
      server.close((error) => (error ? reject(error) : resolve()));
    });
  return proxy;
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * For a describe block: stripe-mock behind a recording proxy, started before its tests and stopped after
 * them; each test starts with an empty recording and no script. Read `proxy` inside hooks and tests.
 */
export function recordedStripeMock(): { readonly proxy: RecordingProxy } {
  let mock: StripeMock | undefined;
  let proxy: RecordingProxy | undefined;
  beforeAll(async () => {
    mock = await startStripeMock();
    proxy = await startRecordingProxy(mock.apiBase);
  });
  afterAll(async () => {
    await proxy?.stop();
    await mock?.stop();
  });
  beforeEach(() => {
    proxy!.requests.length = 0;
    proxy!.script = undefined;
  });
  return { get proxy() { return proxy!; } };
}
