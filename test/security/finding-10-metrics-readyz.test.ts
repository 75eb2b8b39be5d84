import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../runtime/config.js';
import { startLightApp } from './light-app.js';

/**
 * Issue 16, finding 10: /metrics was public, the worker's metrics listened on 0.0.0.0:9464, /readyz echoed
 * dependency errors. Now /metrics wants `Bearer <METRICS_TOKEN>` (or, unset, a loopback client), the worker
 * binds its metrics to WORKER_METRICS_HOST (127.0.0.1 by default), /readyz says ok/unavailable only.
 */
describe('finding 10: metrics and readiness reveal nothing to strangers', () => {
  const TOKEN = 'metrics-token-0123456789abcdef';
  let open: Awaited<ReturnType<typeof startLightApp>>;
  let guarded: Awaited<ReturnType<typeof startLightApp>>;
  beforeAll(async () => {
    [open, guarded] = await Promise.all([startLightApp({}, { hostname: '0.0.0.0' }), startLightApp({ metricsToken: TOKEN })]);
  });
  afterAll(async () => {
    await open?.stop();
    await guarded?.stop();
  });

  it('without METRICS_TOKEN, /metrics answers loopback clients and refuses others (403)', async () => {
    const port = new URL(open.baseUrl).port;
    expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(200);
    // No peer address at all (not a socket of ours): refused.
    expect((await open.app.request('/metrics')).status).toBe(403);
    // A client on this machine's non-loopback address, when it has one.
    const external = Object.values(networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal);
    if (external) {
      const refused = await fetch(`http://${external.address}:${port}/metrics`);
      expect([refused.status, (await refused.json()).code]).toEqual([403, 'forbidden']);
    }
  });

  it('with METRICS_TOKEN, /metrics needs the bearer token, even from loopback', async () => {
    const get = (authorization?: string) => fetch(`${guarded.baseUrl}/metrics`, { headers: authorization ? { authorization } : {} });
    const none = await get();
    expect([none.status, none.headers.get('www-authenticate')]).toEqual([401, 'Bearer realm="metrics"']);
    expect((await get('Bearer wrong-token-0123456789abcdef')).status).toBe(401);
    expect((await get(`Basic ${TOKEN}`)).status).toBe(401);
    const ok = await get(`Bearer ${TOKEN}`);
    expect([ok.status, (await ok.text()).includes('http_requests_total')]).toEqual([200, true]);
  });

  it('/readyz says which dependency is unavailable, without its error text', async () => {
    // The light app's Temporal address answers nothing (127.0.0.1:1).
    const response = await fetch(`${guarded.baseUrl}/readyz`);
    const text = await response.text();
    expect(response.status).toBe(503);
    expect(JSON.parse(text)).toEqual({ status: 'unavailable', postgres: 'ok', temporal: 'unavailable' });
    expect(text).not.toMatch(/127\.0\.0\.1|ECONNREFUSED|deadline|error/i);
  });

  it("the worker's metrics listen on 127.0.0.1 unless WORKER_METRICS_HOST says otherwise", () => {
    expect(loadConfig({ DATABASE_URL: 'postgres://x@localhost/db' }).WORKER_METRICS_HOST).toBe('127.0.0.1');
    expect(loadConfig({ DATABASE_URL: 'postgres://x@localhost/db', WORKER_METRICS_HOST: '0.0.0.0' }).WORKER_METRICS_HOST).toBe('0.0.0.0');
    const main = readFileSync(new URL('../../worker/main.ts', import.meta.url), 'utf8');
    expect(main).toContain('const metricsAddress = `${config.WORKER_METRICS_HOST}:${config.WORKER_METRICS_PORT}`;');
    expect(main).toContain('prometheus: { bindAddress: metricsAddress }');
    expect(main).not.toContain('0.0.0.0');
  });
});
