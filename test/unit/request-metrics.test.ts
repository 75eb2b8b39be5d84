import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { DURATION_BUCKETS, RequestMetrics } from '../../api/request-metrics.js';

/**
 * api/request-metrics.ts keeps request counts and durations in plain numbers: GET /metrics must read exactly as
 * prom-client's own Histogram and Counter would for the same requests (the names, labels, buckets, sums and
 * counts dashboards already use).
 */
describe('request metrics', () => {
  const requests: [string, string, number, number][] = [
    ['GET', '/v1/credits', 200, 0.0007], ['GET', '/v1/credits', 200, 0.004], ['GET', '/v1/credits', 200, 3],
    ['GET', '/v1/credits', 401, 0.001], ['POST', '/v1/creations', 201, 0.0125], ['POST', '/v1/creations', 402, 0.25],
    ['GET', '/v1/plans', 200, 0.0025], ['GET', '/metrics', 200, 0.02],
  ];

  it('exposes the same text as prom-client Histogram + Counter for the same requests', async () => {
    const ours = new Registry();
    const metrics = new RequestMetrics();
    metrics.register(ours);
    const theirs = new Registry();
    const duration = new Histogram({
      name: 'http_request_duration_seconds', help: 'HTTP request duration', registers: [theirs],
      labelNames: ['method', 'route', 'status'], buckets: [...DURATION_BUCKETS],
    });
    const counter = new Counter({ name: 'http_requests_total', help: 'HTTP requests', labelNames: ['method', 'route', 'status'], registers: [theirs] });
    for (const [method, route, status, seconds] of requests) {
      metrics.observe(method, route, status, seconds);
      duration.observe({ method, route, status: String(status) }, seconds);
      counter.inc({ method, route, status: String(status) });
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(await ours.metrics()).toContain('http_requests_total{method="GET",route="/v1/credits",status="200"} 3');
    expect(await ours.metrics()).toContain('http_request_duration_seconds_bucket{le="0.005",method="GET",route="/v1/credits",status="200"} 2');
  });

  it('starts again from nothing when the registry resets its metrics', async () => {
    const registry = new Registry();
    const metrics = new RequestMetrics();
    metrics.register(registry);
    metrics.observe('GET', '/v1/credits', 200, 0.001);
    registry.resetMetrics();
    metrics.observe('GET', '/v1/plans', 200, 0.001);
    const text = await registry.metrics();
    expect(text).not.toContain('/v1/credits');
    expect(text).toContain('http_requests_total{method="GET",route="/v1/plans",status="200"} 1');
  });
});
