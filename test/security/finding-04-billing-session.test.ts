import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionHash } from '../../ledger/browser-sessions.js';
import { startLightApp } from './light-app.js';

/**
 * Issue 16, finding 4: the /billing cookie was the raw workspace key (`<nonce>.<key>`): a hand-made cookie
 * worked and a cookie kept working after sign-out. Now: an opaque random value whose SHA-256 alone is
 * stored, expiring server-side, ended by sign-out and by revoking the API key it was signed in with.
 */
describe('finding 4: the billing session is opaque and server-side', () => {
  let light: Awaited<ReturnType<typeof startLightApp>>;
  beforeAll(async () => {
    light = await startLightApp();
  });
  afterAll(async () => light?.stop());

  /** Signs in with a key; the session cookie's value. */
  async function signIn(key: string): Promise<string> {
    const response = await fetch(`${light.baseUrl}/billing/sign-in`, {
      method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: light.baseUrl }, body: new URLSearchParams({ key }),
    });
    expect(response.status).toBe(303);
    const cookie = response.headers.getSetCookie().find((c) => c.startsWith('billing_session='));
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Lax/i);
    return decodeURIComponent(cookie!.split(';')[0]!.slice('billing_session='.length));
  }
  /** GET /billing with a cookie value: 200 when signed in, 303 to the sign-in page otherwise. */
  const billing = (value: string) => fetch(`${light.baseUrl}/billing`, { redirect: 'manual', headers: { cookie: `billing_session=${encodeURIComponent(value)}` } });
  const csrfOf = async (value: string) => /name="_csrf" value="([^"]+)"/.exec(await (await billing(value)).text())?.[1];

  it('the cookie holds no key, only its SHA-256 is stored, and a hand-made cookie (old format, or a guess) signs nobody in', async () => {
    const ws = await light.workspace();
    const value = await signIn(ws.apiKey);
    expect(value).not.toContain(ws.apiKey);
    expect(value).toMatch(/^[A-Za-z0-9_-]{43}$/); // 256 random bits
    const rows = await light.sql<{ id_hash: string }[]>`SELECT id_hash FROM browser_sessions WHERE principal_id = ${ws.id}`;
    expect(rows.map((r) => r.id_hash)).toEqual([sessionHash(value)]);
    expect(JSON.stringify(rows)).not.toContain(value);
    expect((await billing(value)).status).toBe(200);
    for (const forged of [`nonce.${ws.apiKey}`, ws.apiKey, sessionHash(value), 'A'.repeat(43)]) {
      const response = await billing(forged);
      expect([forged, response.status, response.headers.get('location')]).toEqual([forged, 303, '/billing/sign-in']);
    }
  });

  it('expires server-side: a session past its expires_at signs nobody in, whatever the cookie says', async () => {
    const ws = await light.workspace('expiring');
    const value = await signIn(ws.apiKey);
    expect((await billing(value)).status).toBe(200);
    await light.sql`UPDATE browser_sessions SET expires_at = now() - interval '1 second' WHERE id_hash = ${sessionHash(value)}`;
    expect((await billing(value)).status).toBe(303);
  });

  it('sign-out ends it: the same cookie replayed afterwards signs nobody in', async () => {
    const ws = await light.workspace('leaving');
    const value = await signIn(ws.apiKey);
    const csrf = await csrfOf(value);
    expect(csrf).toBeTruthy();
    const out = await fetch(`${light.baseUrl}/billing/sign-out`, {
      method: 'POST', redirect: 'manual',
      headers: { cookie: `billing_session=${encodeURIComponent(value)}`, 'content-type': 'application/x-www-form-urlencoded', origin: light.baseUrl },
      body: new URLSearchParams({ _csrf: csrf! }),
    });
    expect(out.status).toBe(303);
    expect((await billing(value)).status).toBe(303);
    expect((await light.sql`SELECT 1 FROM browser_sessions WHERE id_hash = ${sessionHash(value)}`).length).toBe(0);
  });

  it('revoking the API key a session was signed in with ends that session (and only that one)', async () => {
    const ws = await light.workspace('revoking');
    const customer = light.api(ws.apiKey);
    const second = await customer.post('/v1/api-keys', {});
    expect(second.status).toBe(201);
    const [byFirst, bySecond] = [await signIn(ws.apiKey), await signIn(second.body.api_key)];
    expect([(await billing(byFirst)).status, (await billing(bySecond)).status]).toEqual([200, 200]);
    expect((await customer.delete(`/v1/api-keys/${second.body.id}`)).status).toBe(200);
    expect([(await billing(byFirst)).status, (await billing(bySecond)).status]).toEqual([200, 303]);
  });
});
