import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLightApp } from './light-app.js';

/**
 * Issue 16, headers: every page carries a Content-Security-Policy with `frame-ancestors 'none'` (no
 * clickjacking of the billing and console forms), `X-Content-Type-Options: nosniff` and a Referrer-Policy;
 * HSTS only when PUBLIC_URL is https. /docs serves Swagger UI from the API itself: 'self' only (issue 14).
 */
describe('security headers on pages', () => {
  let plain: Awaited<ReturnType<typeof startLightApp>>;
  let https: Awaited<ReturnType<typeof startLightApp>>;
  beforeAll(async () => {
    [plain, https] = await Promise.all([startLightApp(), startLightApp({ publicUrl: 'https://billing.studio.example' })]);
  });
  afterAll(async () => {
    await plain?.stop();
    await https?.stop();
  });

  it('pages forbid framing, sniffing and referrers, and allow no script', async () => {
    for (const path of ['/pricing', '/billing/sign-in', '/admin/sign-in']) {
      const response = await fetch(`${plain.baseUrl}${path}`);
      expect([path, response.status]).toEqual([path, 200]);
      const csp = response.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toContain("script-src 'none'");
      expect(csp).toContain("default-src 'self'");
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('referrer-policy')).toBeTruthy();
      expect(response.headers.get('x-frame-options')).toBe('DENY');
      expect(response.headers.get('strict-transport-security')).toBeNull(); // http PUBLIC_URL
    }
  });

  it('HSTS is sent when PUBLIC_URL is https', async () => {
    const response = await fetch(`${https.baseUrl}/pricing`);
    expect(response.headers.get('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
  });

  it('/docs (Swagger UI) loads its script and styles from the API only, and cannot be framed', async () => {
    const response = await fetch(`${plain.baseUrl}/docs`);
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(response.status).toBe(200);
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).not.toMatch(/https?:|'unsafe-inline'|'unsafe-eval'/);
    expect(csp).toContain("frame-ancestors 'none'");
    const html = await response.text();
    const sources = [...html.matchAll(/<(?:script src|link rel="stylesheet" href)="([^"]+)"/g)].map((match) => match[1]);
    expect(sources.length).toBe(3);
    for (const src of sources) expect(src).toMatch(/^\/docs\/assets\//);
  });

  it('JSON API answers are left as they were (no page headers on /v1)', async () => {
    const response = await fetch(`${plain.baseUrl}/v1/plans`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-security-policy')).toBeNull();
  });
});
