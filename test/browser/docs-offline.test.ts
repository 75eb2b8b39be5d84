import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser } from 'playwright-core';
import { launchChromium } from '../helpers/browser.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLightApp } from '../security/light-app.js';

/**
 * /docs renders the API's operations in Debian's Chromium with every request beyond the API's own host
 * refused and recorded (issue 14): Swagger UI comes from the pinned swagger-ui-dist package through the
 * API, not from a CDN. The real API over Postgres (startLightApp: /docs and /openapi.json need no Temporal).
 * Screenshot: test-results/docs.png.
 */
const ARTIFACTS = join(process.cwd(), 'test-results');
const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

describe('/docs without internet, in headless Chromium', () => {
  let stack: Awaited<ReturnType<typeof startLightApp>>;
  let browser: Browser;

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    [stack, browser] = await Promise.all([
      startLightApp(),
      launchChromium(),
    ]);
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it('renders the operations from local assets only, with no request beyond localhost and no CSP violation', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
    const page = await context.newPage();
    const outside: string[] = [];
    const local: string[] = [];
    await context.route('**', async (route) => {
      const url = new URL(route.request().url());
      const isLocal = (url.protocol === 'http:' || url.protocol === 'https:') && LOCAL_HOSTS.has(url.hostname);
      if (url.protocol === 'data:' || url.protocol === 'blob:') return route.continue();
      if (!isLocal) {
        outside.push(url.href);
        return route.abort('blockedbyclient');
      }
      local.push(url.pathname);
      return route.continue();
    });
    // Any inline script, eval or foreign source the page tried would show as a violation of its 'self'-only CSP.
    const violations: string[] = [];
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) violations.push(message.text());
    });
    const failed: string[] = [];
    page.on('requestfailed', (request) => failed.push(`${request.url()} ${request.failure()?.errorText ?? ''}`));

    const response = await page.goto(`${stack.baseUrl}/docs`);
    expect(response?.status()).toBe(200);
    const csp = response?.headers()['content-security-policy'] ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/https?:\/\//); // no CDN allowed

    const operations = page.locator('.opblock');
    await operations.first().waitFor({ state: 'visible', timeout: 30_000 });
    expect(await operations.count()).toBeGreaterThan(20);
    // Two stable paths (another change names the operations; their paths stay).
    await expect(page.locator('.opblock-summary-path', { hasText: /^\/v1\/credits$/ }).first().isVisible()).resolves.toBe(true);
    await expect(page.locator('.opblock-summary-path', { hasText: /^\/v1\/workspaces$/ }).first().isVisible()).resolves.toBe(true);
    await expect(page.locator('.info .title').innerText()).resolves.toContain('Credit engine API');
    await page.screenshot({ path: join(ARTIFACTS, 'docs.png'), fullPage: false });

    expect(outside).toEqual([]);
    expect(violations).toEqual([]);
    expect(failed).toEqual([]);
    expect(local).toContain('/openapi.json');
    expect(local.some((path) => /^\/docs\/assets\/\d+\.\d+\.\d+\/swagger-ui-bundle\.js$/.test(path))).toBe(true);
    await context.close();
  });

  it('serves the assets with a year of cache under a versioned path, gzipped on request; other files are 404', async () => {
    const page = await (await fetch(`${stack.baseUrl}/docs`)).text();
    const bundle = /src="(\/docs\/assets\/[^"]+\/swagger-ui-bundle\.js)"/.exec(page)?.[1];
    expect(bundle).toBeDefined();
    const gzipped = await fetch(`${stack.baseUrl}${bundle}`, { headers: { 'accept-encoding': 'gzip' } });
    expect(gzipped.status).toBe(200);
    expect(gzipped.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(gzipped.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(gzipped.headers.get('content-encoding')).toBe('gzip');
    expect((await gzipped.text()).length).toBeGreaterThan(1_000_000); // fetch inflates: the whole bundle arrived
    const stylesheet = await fetch(`${stack.baseUrl}${bundle!.replace('swagger-ui-bundle.js', 'swagger-ui.css')}`);
    expect(stylesheet.headers.get('content-type')).toBe('text/css; charset=utf-8');
    const other = await fetch(`${stack.baseUrl}${bundle!.replace('swagger-ui-bundle.js', 'index.html')}`);
    expect(other.status).toBe(404);
  });
});
