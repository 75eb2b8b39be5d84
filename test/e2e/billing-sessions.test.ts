import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, apiClient, startStack } from '../helpers/stack.js';

/**
 * Billing sessions (SPEC §10, issue 12): POST /v1/billing-sessions returns a single-use URL, valid for
 * 5 minutes, that signs that workspace's customer into /billing without their API key (like Stripe's
 * Billing Portal sessions). The browser session it opens is server-side: the cookie holds a random id,
 * never a key.
 */
describe('billing sessions', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  const operator = () => stack.api(ADMIN_KEY);
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => stack?.stop());

  let counter = 0;
  async function workspace(externalId?: string) {
    counter += 1;
    const name = `Sessions ${counter}`;
    const created = await operator().post('/v1/workspaces', { name, ...(externalId ? { external_id: externalId } : {}) });
    expect(created.status).toBe(201);
    return { id: created.body.id as string, name, key: created.body.api_key as string, api: apiClient(stack.baseUrl, created.body.api_key) };
  }

  /** Visits a URL like a browser without following redirects: the status, the Location and the session cookie set. */
  async function visit(url: string, cookie?: string) {
    const response = await fetch(url, { redirect: 'manual', headers: cookie ? { cookie } : {} });
    const setCookie = response.headers.getSetCookie().find((c) => c.startsWith('billing_session='));
    return {
      status: response.status, location: response.headers.get('location'), body: await response.text(),
      cookie: setCookie?.split(';')[0], setCookie, referrerPolicy: response.headers.get('referrer-policy'),
    };
  }

  /** The workspace name /billing shows to this cookie, or null when it sends the browser to sign in. */
  async function billingPageWorkspace(cookie: string | undefined): Promise<string | null> {
    const page = await visit(`${stack.baseUrl}/billing`, cookie);
    if (page.status === 303) return null;
    expect(page.status).toBe(200);
    return /id="workspace-name">([^<]*)</.exec(page.body)?.[1] ?? null;
  }

  it('a workspace key makes a session for itself: the URL signs in once, a second use signs nobody in', async () => {
    const ws = await workspace();
    const made = await ws.api.post('/v1/billing-sessions', { return_url: 'https://studio.example/settings' });
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({ object: 'billing_session', workspace_id: ws.id, return_url: 'https://studio.example/settings' });
    expect(made.body.id).toMatch(/^bps_/);
    expect(made.body.url).toMatch(new RegExp(`^${stack.baseUrl}/billing/session/[A-Za-z0-9_-]{43}$`));
    const lifetimeMs = Date.parse(made.body.expires_at) - Date.parse(made.body.created_at);
    expect(lifetimeMs).toBe(5 * 60_000);

    const first = await visit(made.body.url);
    expect([first.status, first.location]).toEqual([303, '/billing']);
    expect(['no-referrer', 'same-origin']).toContain(first.referrerPolicy); // the token never leaves as a Referer
    expect(first.setCookie).toMatch(/HttpOnly/i);
    expect(first.setCookie).toMatch(/Path=\/billing/);
    expect(first.setCookie).toMatch(/SameSite=Lax/i);
    // The cookie is a random id, not the API key (nor anything containing it).
    expect(first.cookie).toBeDefined();
    expect(first.cookie).not.toContain(ws.key);
    expect(await billingPageWorkspace(first.cookie)).toBe(ws.name);
    // Only hashes are stored: neither the URL's token nor the cookie appears in the database.
    const token = made.body.url.split('/').pop();
    const stored = await stack.sql`SELECT token_hash, used_at FROM billing_sessions WHERE id = ${made.body.id}`;
    expect(stored[0]!.token_hash).not.toContain(token);
    expect(stored[0]!.used_at).not.toBeNull();
    const sessions = await stack.sql`SELECT id_hash, principal_kind, principal_id, signed_in_with, return_url FROM browser_sessions WHERE principal_id = ${ws.id}`;
    expect(sessions.map((s) => [s.principal_kind, s.principal_id, s.signed_in_with, s.return_url]))
      .toEqual([['workspace', ws.id, made.body.id, 'https://studio.example/settings']]);
    expect(sessions[0]!.id_hash).not.toBe(first.cookie!.split('=')[1]);

    const second = await visit(made.body.url);
    expect(second.status).toBe(410);
    expect(second.setCookie).toBeUndefined();
    expect(second.body).toContain('data-reason="used"');
    expect(second.body).toContain('already used');
  });

  it('uses a URL once even when two browsers open it at the same time', async () => {
    const ws = await workspace();
    const made = await ws.api.post('/v1/billing-sessions', {});
    const visits = await Promise.all(Array.from({ length: 8 }, () => visit(made.body.url)));
    expect(visits.map((v) => v.status).sort()).toEqual([303, 410, 410, 410, 410, 410, 410, 410]);
    expect(visits.filter((v) => v.cookie).length).toBe(1);
  });

  it('an expired URL signs nobody in', async () => {
    const ws = await workspace();
    const made = await ws.api.post('/v1/billing-sessions', {});
    // Five minutes of real time pass (the expiry is never a test clock's).
    await stack.sql`UPDATE billing_sessions SET expires_at = now() - interval '1 second' WHERE id = ${made.body.id}`;
    const late = await visit(made.body.url);
    expect(late.status).toBe(410);
    expect(late.setCookie).toBeUndefined();
    expect(late.body).toContain('data-reason="expired"');
    expect((await stack.sql`SELECT used_at FROM billing_sessions WHERE id = ${made.body.id}`)[0]!.used_at).toBeNull();
    const forged = await visit(`${stack.baseUrl}/billing/session/${'A'.repeat(43)}`);
    expect([forged.status, forged.body.includes('data-reason="unknown"')]).toEqual([410, true]);
  });

  it('the operator makes a session by external_id or workspace_id; it signs into that workspace only', async () => {
    const alice = await workspace('user_alice');
    const bob = await workspace('user_bob');
    const byExternal = await operator().post('/v1/billing-sessions', { external_id: 'user_alice' });
    expect([byExternal.status, byExternal.body.workspace_id]).toEqual([201, alice.id]);
    const byId = await operator().post('/v1/billing-sessions', { workspace_id: bob.id });
    expect([byId.status, byId.body.workspace_id]).toEqual([201, bob.id]);

    const asAlice = (await visit(byExternal.body.url)).cookie;
    expect(await billingPageWorkspace(asAlice)).toBe(alice.name);
    // Bob's sign-in in the same browser replaces Alice's session: the old cookie is dead.
    const asBob = (await visit(byId.body.url, asAlice)).cookie;
    expect(await billingPageWorkspace(asBob)).toBe(bob.name);
    expect(await billingPageWorkspace(asAlice)).toBeNull();

    // A workspace key cannot make a session for another workspace; the session cookie is no API credential.
    const forBob = await alice.api.post('/v1/billing-sessions', { workspace_id: bob.id });
    expect([forBob.status, forBob.body.code, forBob.body.errors?.[0]?.field]).toEqual([400, 'invalid_request', 'workspace_id']);
    const viaCookie = await fetch(`${stack.baseUrl}/v1/invoices`, { headers: { cookie: asBob! } });
    expect(viaCookie.status).toBe(401);
    // Signing out ends the session on the server: the copied cookie no longer opens /billing.
    const page = await visit(`${stack.baseUrl}/billing`, asBob);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page.body)![1]!;
    const out = await fetch(`${stack.baseUrl}/billing/sign-out`, {
      method: 'POST', redirect: 'manual', body: new URLSearchParams({ _csrf: csrf }),
      headers: { cookie: asBob!, origin: stack.baseUrl, 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(out.status).toBe(303);
    expect(await billingPageWorkspace(asBob)).toBeNull();
  });

  it('keeps key sign-in working, server-side, and ends it when the key is revoked', async () => {
    const ws = await workspace();
    const signIn = await fetch(`${stack.baseUrl}/billing/sign-in`, {
      method: 'POST', redirect: 'manual', body: new URLSearchParams({ key: ws.key }),
      headers: { origin: stack.baseUrl, 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(signIn.status).toBe(303);
    const cookie = signIn.headers.getSetCookie().find((c) => c.startsWith('billing_session='))!.split(';')[0]!;
    expect(cookie).not.toContain(ws.key);
    expect(await billingPageWorkspace(cookie)).toBe(ws.name);
    const keyId = (await ws.api.get('/v1/api-keys')).body.data[0].id;
    const spare = await ws.api.post('/v1/api-keys');
    expect((await apiClient(stack.baseUrl, spare.body.api_key).delete(`/v1/api-keys/${keyId}`)).status).toBe(200);
    expect(await billingPageWorkspace(cookie)).toBeNull();
  });

  it('refuses bad input with 400 naming the field, creating nothing', async () => {
    const ws = await workspace('user_carol');
    const count = async () => Number((await stack.sql`SELECT count(*) AS n FROM billing_sessions`)[0]!.n);
    const before = await count();
    const cases: [ReturnType<typeof apiClient>, unknown, string][] = [
      [ws.api, { return_url: 'javascript:alert(1)' }, 'return_url'],
      [ws.api, { return_url: 'not a url' }, 'return_url'],
      [ws.api, { return_url: `https://x.example/${'a'.repeat(2000)}` }, 'return_url'],
      [ws.api, { surprise: true }, 'body'],
      [ws.api, { external_id: 'user_carol' }, 'external_id'],
      [operator(), {}, 'workspace_id'],
      [operator(), { workspace_id: ws.id, external_id: 'user_carol' }, 'external_id'],
      [operator(), { workspace_id: 42 }, 'workspace_id'],
    ];
    for (const [client, body, field] of cases) {
      const refused = await client.post('/v1/billing-sessions', body);
      expect([refused.status, refused.contentType, refused.body.code], JSON.stringify(body)).toEqual([400, 'application/problem+json', 'invalid_request']);
      expect(refused.body.errors.map((e: { field: string }) => e.field).join(' '), JSON.stringify(body)).toContain(field);
    }
    const unknown = await operator().post('/v1/billing-sessions', { external_id: 'nobody' });
    expect([unknown.status, unknown.body.code]).toEqual([404, 'not_found']);
    expect(await count()).toBe(before);
  });
});
