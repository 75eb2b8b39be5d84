import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { Sql } from '../../ledger/db.js';
import { type WorkspaceRow, workspaceByKey } from '../../ledger/workspaces.js';

/**
 * Browser sessions of the billing page. Signing in stores the workspace API key, behind a random
 * per-session nonce, in an httpOnly SameSite=Lax cookie scoped to /billing. Every form carries a
 * CSRF token: the HMAC of that cookie value under a server secret, so it changes with each sign-in
 * and cannot be forged without the (httpOnly) cookie.
 */
export const SESSION_COOKIE = 'billing_session';
const NOTICE_COOKIE = 'billing_notice';
const COOKIE_PATH = '/billing';
const SESSION_SECONDS = 8 * 60 * 60;

export interface BillingSession {
  key: string;
  workspace: WorkspaceRow;
  csrfToken: string;
}

export interface Notice {
  kind: 'ok' | 'error';
  text: string;
  link?: { href: string; label: string };
}

export function billingSessions(deps: { sql: Sql; adminApiKey: string; publicUrl: string }) {
  // Derived from the operator key (a secret every API instance shares), so tokens survive restarts and
  // hold across instances; the label keeps it distinct from any other use of that key.
  const secret = createHmac('sha256', deps.adminApiKey).update('billing-pages/csrf/v1').digest();
  const secure = new URL(deps.publicUrl).protocol === 'https:';
  const cookieOptions = { path: COOKIE_PATH, httpOnly: true, secure, sameSite: 'Lax' as const };

  const tokenOf = (cookieValue: string) => createHmac('sha256', secret).update(cookieValue).digest('base64url');

  return {
    signIn(c: Context, key: string): void {
      const value = `${randomBytes(16).toString('base64url')}.${key}`;
      setCookie(c, SESSION_COOKIE, value, { ...cookieOptions, maxAge: SESSION_SECONDS });
    },

    signOut(c: Context): void {
      deleteCookie(c, SESSION_COOKIE, cookieOptions);
    },

    /** The signed-in workspace, or undefined (no cookie, or a key that no longer resolves). */
    async current(c: Context): Promise<BillingSession | undefined> {
      const value = getCookie(c, SESSION_COOKIE);
      const dot = value?.indexOf('.') ?? -1;
      if (!value || dot < 1) return undefined;
      const key = value.slice(dot + 1);
      if (!key) return undefined;
      const workspace = await workspaceByKey(deps.sql, key);
      return workspace ? { key, workspace, csrfToken: tokenOf(value) } : undefined;
    },

    /** Whether a submitted form token is this session's (constant-time comparison). */
    tokenMatches(session: BillingSession, submitted: unknown): boolean {
      if (typeof submitted !== 'string') return false;
      const [a, b] = [Buffer.from(submitted), Buffer.from(session.csrfToken)];
      return a.length === b.length && timingSafeEqual(a, b);
    },

    /** A one-line notice for the next page view (set on a redirect, shown once). */
    flash(c: Context, notice: Notice): void {
      setCookie(c, NOTICE_COOKIE, JSON.stringify(notice), { ...cookieOptions, maxAge: 60 });
    },

    takeFlash(c: Context): Notice | undefined {
      const raw = getCookie(c, NOTICE_COOKIE);
      if (raw === undefined) return undefined;
      deleteCookie(c, NOTICE_COOKIE, cookieOptions);
      try {
        const notice = JSON.parse(raw) as Notice;
        return typeof notice.text === 'string' && (notice.kind === 'ok' || notice.kind === 'error') ? notice : undefined;
      } catch {
        return undefined;
      }
    },
  };
}
