import { Hono } from 'hono';
import type { Sql } from '../../ledger/db.js';
import { billingSessions } from './billing-session.js';
import { SitePage } from './site.js';

const WHY: Record<'unknown' | 'used' | 'expired', string> = {
  used: 'This sign-in link was already used. Each link signs in once.',
  expired: 'This sign-in link has expired. Links are valid for 5 minutes.',
  unknown: 'This sign-in link is not valid.',
};

/**
 * `GET /billing/session/{token}`: the URL of a billing session (POST /v1/billing-sessions, SPEC §10), like
 * Stripe's Billing Portal session URL. The first visit within its 5 minutes signs the browser into that
 * workspace's /billing and redirects there; any later, expired or unknown visit signs nobody in and says
 * why (410), with a way to sign in with an API key.
 */
export function billingSessionLinkPages(deps: { sql: Sql; publicUrl: string }) {
  const pages = new Hono();
  const sessions = billingSessions(deps);
  pages.get('/billing/session/:token', async (c) => {
    // The token is in the path: never send it on as a Referer, never cache the answer.
    c.header('referrer-policy', 'no-referrer');
    c.header('cache-control', 'no-store');
    const result = await sessions.signInWithToken(c, c.req.param('token'));
    if (result.status === 'signed_in') return c.redirect('/billing', 303);
    return c.html(
      <SitePage title="Sign-in link not valid" current="billing">
        <h1>This link does not sign you in</h1>
        <p class="notice error" role="alert" id="notice" data-reason={result.status}>{WHY[result.status]}</p>
        <p>Go back to the app you came from and open billing again for a new link, or <a href="/billing/sign-in">sign in with your workspace key</a>.</p>
      </SitePage>,
      410,
    );
  });
  return pages;
}
