import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import type { HttpBindings } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context, Hono } from 'hono';
import { createMiddleware } from 'hono/factory';
import pino from 'pino';
import { ApiError, problem } from './errors.js';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { RequestMetrics } from './request-metrics.js';

/**
 * Structured JSON logs (pino), one line per request with its id; LOG_LEVEL=silent mutes them. Written to stdout
 * asynchronously (sonic-boom): a request appends its line to a buffer instead of waiting on a write(2); pino
 * flushes what is buffered when the process exits.
 */
export function createLogger(level = process.env.LOG_LEVEL ?? 'info') {
  if (level === 'silent') return pino({ level, base: { service: 'api' } }); // writes nothing: no stream to open
  return pino({ level, base: { service: 'api' } }, pino.destination({ dest: 1, sync: false }));
}

export type Logger = ReturnType<typeof createLogger>;

/** Whether the request came from this machine (127.0.0.0/8, ::1, or IPv4-mapped loopback); false when unknown. */
function fromLoopback(c: Context): boolean {
  try {
    const address = getConnInfo(c).remote.address ?? '';
    return address === '::1' || /^(::ffff:)?127\./.test(address);
  } catch {
    return false; // not served by @hono/node-server (app.request in tests): no peer to trust
  }
}

/** Constant-time check of `Authorization: Bearer <token>` (hashes first, so lengths leak nothing). */
function bearerMatches(c: Context, token: string): boolean {
  const given = /^Bearer (.+)$/i.exec(c.req.header('authorization') ?? '')?.[1] ?? '';
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(given), digest(token));
}

/**
 * `x-request-id` on the answer. Served by @hono/node-server, straight on Node's response (merged into its head
 * when it is written): through Hono's c.header() every JSON answer carried a WHATWG Headers object (undici's,
 * validated per call) that @hono/node-server then copies back into a plain object, ~7% of a balance read's CPU
 * (bench/api-cpu.ts). Elsewhere (app.request() in tests) through c.header(), before the handler makes its
 * response: a header set afterwards makes Hono rebuild the response around its body stream.
 */
function setRequestIdHeader(c: Context, requestId: string): void {
  const outgoing = (c.env as Partial<HttpBindings> | undefined)?.outgoing;
  if (outgoing && !outgoing.headersSent) outgoing.setHeader('x-request-id', requestId);
  else c.header('x-request-id', requestId);
}

export interface ObserveOptions {
  /**
   * METRICS_TOKEN: GET /metrics wants `Authorization: Bearer <token>`. Unset, only loopback clients are
   * answered (behind a reverse proxy on the same host, set a token or do not route /metrics).
   */
  metricsToken?: string;
}

/**
 * Request ids (taken from `x-request-id` or made), access logs and Prometheus metrics for every request,
 * labelled by the matched route pattern (not the raw path, which would explode the label space).
 * /metrics is not public (issue 16, finding 10): a bearer token, or loopback only (see ObserveOptions).
 */
export function observe(app: Hono<any>, logger: Logger, options: ObserveOptions = {}): void {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const metrics = new RequestMetrics();
  metrics.register(registry);
  // Decided once: with the level off (LOG_LEVEL=warn or silent) a request builds no log record at all.
  const logRequests = logger.isLevelEnabled('info');

  app.use('*', createMiddleware(async (c, next) => {
    const requestId = c.req.header('x-request-id') ?? randomUUID();
    const started = performance.now();
    setRequestIdHeader(c, requestId);
    await next();
    const ms = performance.now() - started;
    const status = c.res.status;
    metrics.observe(c.req.method, c.req.routePath, status, ms / 1000);
    if (logRequests) logger.info({ request_id: requestId, method: c.req.method, path: c.req.path, status, ms: Math.round(ms * 10) / 10 }, 'request');
  }));
  app.get('/metrics', async (c) => {
    const allowed = options.metricsToken ? bearerMatches(c, options.metricsToken) : fromLoopback(c);
    if (!allowed) {
      if (!options.metricsToken) return problem(c, new ApiError(403, 'forbidden', 'GET /metrics answers this machine only (or set METRICS_TOKEN)'));
      c.header('www-authenticate', 'Bearer realm="metrics"');
      return problem(c, new ApiError(401, 'unauthorized', 'GET /metrics needs Authorization: Bearer <METRICS_TOKEN>'));
    }
    return c.body(await registry.metrics(), 200, { 'content-type': registry.contentType });
  });
}
