import { serializeSigned } from 'hono/utils/cookie';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { noticeSecret, safeNoticeLink } from '../../api/pages/billing-session.js';
import { OPERATOR_KEY, startLightApp } from './light-app.js';

/**
 * Issue 16, finding 5: the flash-message cookie was unsigned and trusted, so its text and a `javascript:`
 * link rendered on /billing. Now it is a Hono signed cookie (HMAC-SHA256 under a secret derived from
 * ADMIN_API_KEY) and its link is kept only when it leads to our own pages (or Stripe's hosted pages).
 */
describe('finding 5: notices are signed and link only to our own pages', () => {
  let light: Awaited<ReturnType<typeof startLightApp>>;
  beforeAll(async () => {
    light = await startLightApp();
  });
  afterAll(async () => light?.stop());

  const NOTICE_COOKIE = 'billing_session_notice';
  /** The sign-in page's HTML as a browser carrying `cookie` (a whole `name=value` pair) sees it. */
  const signInPage = async (cookie: string) => (await fetch(`${light.baseUrl}/billing/sign-in`, { headers: { cookie } })).text();
  const evil = { kind: 'ok', text: 'Your card expired: pay here', link: { href: 'javascript:alert(document.cookie)', label: 'Pay now' } };

  it('a notice our server set is signed and shown once', async () => {
    const ws = await light.workspace();
    const signedIn = await fetch(`${light.baseUrl}/billing/sign-in`, {
      method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: light.baseUrl },
      body: new URLSearchParams({ key: ws.apiKey }),
    });
    const session = signedIn.headers.getSetCookie().find((c) => c.startsWith('billing_session='))!.split(';')[0]!;
    const page = await (await fetch(`${light.baseUrl}/billing`, { headers: { cookie: session } })).text();
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page)![1]!;
    const out = await fetch(`${light.baseUrl}/billing/sign-out`, {
      method: 'POST', redirect: 'manual', headers: { cookie: session, 'content-type': 'application/x-www-form-urlencoded', origin: light.baseUrl },
      body: new URLSearchParams({ _csrf: csrf }),
    });
    const notice = out.headers.getSetCookie().find((c) => c.startsWith(`${NOTICE_COOKIE}=`))!.split(';')[0]!;
    // Hono's signed cookie: `<value>.<base64 HMAC>`, URL-encoded.
    expect(decodeURIComponent(notice)).toMatch(/\}\.[A-Za-z0-9+/]{43}=$/);
    expect(await signInPage(notice)).toContain('You are signed out.');
  });

  it('a hand-made (unsigned) notice cookie renders nothing: neither its text nor its javascript: link', async () => {
    const html = await signInPage(`${NOTICE_COOKIE}=${encodeURIComponent(JSON.stringify(evil))}`);
    expect(html).not.toContain('pay here');
    expect(html).not.toContain('javascript:');
    expect(html).not.toContain('id="notice"');
  });

  it('a notice signed with another secret renders nothing', async () => {
    const forged = await serializeSigned(NOTICE_COOKIE, JSON.stringify(evil), 'not-the-server-secret');
    const html = await signInPage(forged.split(';')[0]!);
    expect(html).not.toContain('pay here');
    expect(html).not.toContain('id="notice"');
  });

  it('even a validly signed notice never renders a javascript: or foreign link (its text stays, escaped)', async () => {
    const signed = await serializeSigned(NOTICE_COOKIE, JSON.stringify({ ...evil, text: '<b>bold</b> notice' }), noticeSecret(OPERATOR_KEY));
    const html = await signInPage(signed.split(';')[0]!);
    expect(html).toContain('&lt;b&gt;bold&lt;/b&gt; notice');
    expect(html).not.toContain('javascript:');
    expect(html).not.toContain('Pay now');
  });

  it('links are kept only to our own paths or Stripe hosted pages', () => {
    const own = 'https://billing.studio.example';
    const keep = (href: string) => safeNoticeLink({ href, label: 'go' }, own)?.href;
    expect(keep('/sandbox/invoices/in_1')).toBe('/sandbox/invoices/in_1');
    expect(keep('https://billing.studio.example/billing?x=1')).toBe('/billing?x=1');
    expect(keep('https://invoice.stripe.com/i/acct_1/test_x')).toBe('https://invoice.stripe.com/i/acct_1/test_x');
    for (const href of ['javascript:alert(1)', 'JaVaScRiPt:alert(1)', ' javascript:alert(1)', 'data:text/html,<script>1</script>',
      '//evil.example/x', '/\\evil.example', 'https://evil.example/', 'http://invoice.stripe.com/x', 'https://stripe.com.evil.example/',
      'https://user:pw@invoice.stripe.com/']) {
      expect([href, keep(href)]).toEqual([href, undefined]);
    }
    expect(safeNoticeLink({ href: 1, label: 'x' }, own)).toBeUndefined();
    expect(safeNoticeLink('javascript:1', own)).toBeUndefined();
  });
});
