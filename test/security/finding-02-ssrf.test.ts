import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGuardedFetch, guardedFetch, webhookTargetProblem } from '../../runtime/outgoing-http.js';
import { deliverNotifications } from '../../worker/alerts.js';
import { startLightApp } from './light-app.js';

/**
 * Issue 16, finding 2 (SSRF through PUT /v1/alerts {webhook_url}): outgoing webhooks reach public
 * addresses only. The URL is checked at PUT (obvious private targets: 400 naming webhook_url) and, above
 * all, the addresses a name resolves to are checked when the worker connects (a DNS name for 127.0.0.1
 * is refused); redirects are never followed. ALLOW_PRIVATE_WEBHOOK_TARGETS opens private targets.
 */

/** Every form the attacker used, plus a few of their cousins. */
const PRIVATE_FORMS = [
  'http://127.0.0.1:18181/hook', 'http://localhost:18181/hook', 'http://169.254.169.254/latest/meta-data/',
  'http://metadata.google.internal/computeMetadata/v1/', 'http://2130706433:18181/hook', 'http://0x7f000001:18181/hook',
  'http://0', 'http://0177.0.0.1/', 'http://127.1/', 'http://10.0.0.8/hook', 'http://192.168.1.1/', 'http://[::1]:18181/',
  'http://[::ffff:127.0.0.1]/', 'http://[fe80::1]/', 'http://100.64.0.1/', 'http://printer.local/', 'http://intranet/',
];

/** A receiver on 127.0.0.1: `/hook` answers 200; `/moved` redirects (302) to `/hook`. */
async function startReceiver() {
  const hits: string[] = [];
  const server: Server = createServer((req, res) => {
    hits.push(req.url ?? '/');
    req.resume();
    if (req.url === '/moved') res.writeHead(302, { location: '/hook' }).end();
    else res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { port, hits, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe('finding 2: outgoing webhooks go to public addresses only', () => {
  let light: Awaited<ReturnType<typeof startLightApp>>;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  beforeAll(async () => {
    [light, receiver] = await Promise.all([startLightApp({ allowPrivateWebhookTargets: false }), startReceiver()]);
  });
  afterAll(async () => {
    await receiver?.close();
    await light?.stop();
  });

  it('PUT /v1/alerts refuses every private, loopback, link-local, metadata and numeric-IP form (400 naming webhook_url), and stores nothing', async () => {
    const ws = await light.workspace();
    const customer = light.api(ws.apiKey);
    for (const url of PRIVATE_FORMS) {
      const put = await customer.put('/v1/alerts', { webhook_url: url });
      expect([url, put.status, put.body.code]).toEqual([url, 400, 'invalid_request']);
      expect(put.body.errors.map((e: { field: string }) => e.field)).toContain('webhook_url');
    }
    expect((await customer.get('/v1/alerts')).body.webhook_url).toBeNull();
    // Credentials in the URL and other schemes are refused too.
    for (const url of ['https://user:pw@hooks.example.com/x', 'ftp://hooks.example.com/x', 'file:///etc/passwd']) {
      expect((await customer.put('/v1/alerts', { webhook_url: url })).status).toBe(400);
    }
    // A public name is accepted (its addresses are checked again at each connection).
    const ok = await customer.put('/v1/alerts', { webhook_url: 'https://hooks.example.com/credit-engine' });
    expect([ok.status, ok.body.webhook_url]).toEqual([200, 'https://hooks.example.com/credit-engine']);
  });

  it('the URL check follows ALLOW_PRIVATE_WEBHOOK_TARGETS: private targets pass only when it is on', () => {
    for (const url of PRIVATE_FORMS) {
      expect(webhookTargetProblem(url, { allowPrivateTargets: false }), url).not.toBeNull();
      expect(webhookTargetProblem(url, { allowPrivateTargets: true }), url).toBeNull();
    }
    expect(webhookTargetProblem('https://user@hooks.example.com/', { allowPrivateTargets: true })).toMatch(/credentials/);
    expect(webhookTargetProblem('https://8.8.8.8/hook', { allowPrivateTargets: false })).toBeNull();
  });

  it('refuses at connection time a DNS name that resolves to 127.0.0.1 (localhost), and reaches it when private targets are allowed', async () => {
    const closed = createGuardedFetch({ allowPrivateTargets: false });
    await expect(closed(`http://localhost:${receiver.port}/hook`, { method: 'POST', body: '{}' })).rejects.toThrow(/not allowed/);
    await expect(closed(`http://127.0.0.1:${receiver.port}/hook`)).rejects.toThrow(/not allowed/);
    expect(receiver.hits).toEqual([]);
    const open = createGuardedFetch({ allowPrivateTargets: true });
    const response = await open(`http://localhost:${receiver.port}/hook`, { method: 'POST', body: '{}' });
    expect([response.status, await response.text()]).toEqual([200, 'ok']);
    expect(receiver.hits).toEqual(['/hook']);
  });

  it('never follows a redirect: a 3xx is the answer (and a failed delivery), the target is not fetched', async () => {
    receiver.hits.length = 0;
    const open = createGuardedFetch({ allowPrivateTargets: true });
    const response = await open(`http://127.0.0.1:${receiver.port}/moved`, { method: 'POST', body: '{}' });
    expect([response.status, response.headers.get('location')]).toEqual([302, '/hook']);
    expect(receiver.hits).toEqual(['/moved']);
  });

  it("the worker's deliveries use the guarded client by default: with the setting off, an alert to a name for 127.0.0.1 is not sent", async () => {
    const ws = await light.workspace('delivery');
    // Stored as an earlier version would have let it in (the PUT now refuses it).
    await light.sql`UPDATE workspaces SET alert_webhook_url = ${`http://localhost:${receiver.port}/hook`}, alert_webhook_secret = 'whsec_test'
                    WHERE id = ${ws.id}`;
    await light.sql`INSERT INTO notifications (workspace_id, kind, dedupe_key, payload, at) VALUES (${ws.id}, 'low_balance', ${`ssrf-${ws.id}`}, '{}'::jsonb, now())`;
    receiver.hits.length = 0;
    const before = process.env.ALLOW_PRIVATE_WEBHOOK_TARGETS;
    process.env.ALLOW_PRIVATE_WEBHOOK_TARGETS = 'false';
    try {
      expect(await deliverNotifications({ sql: light.sql })).toEqual({ delivered: 0, failed: 1 });
    } finally {
      if (before === undefined) delete process.env.ALLOW_PRIVATE_WEBHOOK_TARGETS;
      else process.env.ALLOW_PRIVATE_WEBHOOK_TARGETS = before;
    }
    expect(receiver.hits).toEqual([]);
    const [row] = await light.sql<{ last_error: string }[]>`SELECT last_error FROM notifications WHERE workspace_id = ${ws.id}`;
    expect(row!.last_error).toMatch(/not allowed/);
    expect(guardedFetch).toBeTypeOf('function');
  });
});
