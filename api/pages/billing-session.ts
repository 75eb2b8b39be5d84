import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context } from 'hono';
import { deleteCookie, getCookie, getSignedCookie, setCookie, setSignedCookie } from 'hono/cookie';
import { consumeBillingSession } from '../../ledger/billing-sessions.js';
import {
  deleteBrowserSession, findBrowserSession, insertBrowserSession, type PrincipalKind,
} from '../../ledger/browser-sessions.js';
import type { Sql } from '../../ledger/db.js';
import { type WorkspaceRow, workspaceAndKeyIdByKey, workspaceOfSession } from '../../ledger/workspaces.js';

/**
 * Browser sessions of the pages (SPEC §10: /billing, and /admin with the same cookie and CSRF scheme).
 * The cookie (httpOnly, SameSite=Lax, scoped to the pages' path) holds 256 random bits; Postgres keeps only
 * their SHA-256, with the principal (kind + id), what signed it in, the expiry (real time) and a per-session
 * CSRF secret. No API key is ever kept in the browser or the table. Every form carries a CSRF token: the
 * HMAC of the cookie value under the session's secret, so it changes with each sign-in and cannot be made
 * without the (httpOnly) cookie. Signing out deletes the row: a copied cookie stops working at once.
 */
export interface BrowserSession {
  principal: { kind: PrincipalKind; id: string };
  /** API key id (`key_…`), billing session id (`bps_…`) or operator key id. */
  signedInWith: string;
  csrfToken: string;
  /** Where the pages' "back" link leads (a billing session's return_url), if anywhere. */
  returnUrl: string | null;
  expiresAt: Date;
}

export interface Notice {
  kind: 'ok' | 'error';
  text: string;
  link?: { href: string; label: string };
}

export interface BrowserSessionOptions {
  kind: PrincipalKind;
  /** e.g. `billing_session` on `/billing`, `admin_session` on `/admin`. */
  cookieName: string;
  cookiePath: string;
  /** How long a sign-in lasts, in ms of real time (default 8 hours). */
  ttlMs?: number;
}

const EIGHT_HOURS_MS = 8 * 60 * 60_000;

/** The signing secret of notices when no operator key is given: one per process (a lost notice is harmless). */
const PROCESS_SECRET = randomBytes(32).toString('base64url');

/**
 * The secret that signs notice cookies: derived from the operator key (ADMIN_API_KEY), so every API process
 * of a deployment shares it without another setting, and the key itself never leaves the server.
 */
export function noticeSecret(adminApiKey: string | undefined): string {
  return adminApiKey ? createHmac('sha256', adminApiKey).update('credit-engine notice cookies v1').digest('base64url') : PROCESS_SECRET;
}

/** Hosts a notice may link to besides our own pages: Stripe's hosted invoice and checkout pages. */
const STRIPE_HOST = /^([a-z0-9-]+\.)*stripe\.com$/;

/**
 * The link of a notice as it may be rendered, or undefined: a path of ours (`/…`, not `//…`), a URL on our
 * own origin (made a path), or an https page of Stripe's. Never `javascript:`, `data:` or another site.
 */
export function safeNoticeLink(link: unknown, publicUrl: string): Notice['link'] | undefined {
  if (typeof link !== 'object' || link === null) return undefined;
  const { href, label } = link as Record<string, unknown>;
  if (typeof href !== 'string' || typeof label !== 'string' || href.length > 2048 || label.length > 200) return undefined;
  const own = new URL(publicUrl);
  let url: URL;
  try {
    url = new URL(href, own);
  } catch {
    return undefined;
  }
  if (url.origin === own.origin) {
    return /^\/(?![/\\])/.test(url.pathname) ? { href: url.pathname + url.search + url.hash, label } : undefined;
  }
  return url.protocol === 'https:' && STRIPE_HOST.test(url.hostname) && !url.username && !url.password ? { href: url.href, label } : undefined;
}

/** The generic scheme: sign a principal in and out, read the session, check form tokens, one-shot notices. */
export function browserSessions(deps: { sql: Sql; publicUrl: string; adminApiKey?: string }, options: BrowserSessionOptions) {
  const secure = new URL(deps.publicUrl).protocol === 'https:';
  const cookieOptions = { path: options.cookiePath, httpOnly: true, secure, sameSite: 'Lax' as const };
  const noticeCookie = `${options.cookieName}_notice`;
  const ttlMs = options.ttlMs ?? EIGHT_HOURS_MS;
  const signingSecret = noticeSecret(deps.adminApiKey);
  const tokenOf = (csrfSecret: string, cookieValue: string) => createHmac('sha256', csrfSecret).update(cookieValue).digest('base64url');

  return {
    /**
     * Signs the browser in as `principalId` (replacing any session it had: no fixation). `signedInWith`
     * names the credential; `ttlMs` overrides the default lifetime.
     */
    async signIn(c: Context, input: { principalId: string; signedInWith: string; returnUrl?: string | null; ttlMs?: number }): Promise<void> {
      const previous = getCookie(c, options.cookieName);
      if (previous) await deleteBrowserSession(deps.sql, previous);
      const cookieValue = randomBytes(32).toString('base64url');
      const lifetime = input.ttlMs ?? ttlMs;
      await insertBrowserSession(deps.sql, {
        cookieValue, kind: options.kind, principalId: input.principalId, signedInWith: input.signedInWith,
        csrfSecret: randomBytes(32).toString('base64url'), returnUrl: input.returnUrl ?? null, ttlMs: lifetime,
      });
      setCookie(c, options.cookieName, cookieValue, { ...cookieOptions, maxAge: Math.floor(lifetime / 1000) });
    },

    /** Ends the session: the cookie is cleared at once, the row deleted. */
    async signOut(c: Context): Promise<void> {
      const value = getCookie(c, options.cookieName);
      deleteCookie(c, options.cookieName, cookieOptions);
      if (value) await deleteBrowserSession(deps.sql, value);
    },

    /** The signed-in session, or undefined (no cookie, unknown, expired, or another kind's). */
    async current(c: Context): Promise<BrowserSession | undefined> {
      const value = getCookie(c, options.cookieName);
      if (!value || value.length > 100) return undefined;
      const row = await findBrowserSession(deps.sql, value, options.kind);
      if (!row) return undefined;
      return {
        principal: { kind: row.principal_kind, id: row.principal_id }, signedInWith: row.signed_in_with,
        csrfToken: tokenOf(row.csrf_secret, value), returnUrl: row.return_url, expiresAt: row.expires_at,
      };
    },

    /** Whether a submitted form token is this session's (constant-time comparison). */
    tokenMatches(session: { csrfToken: string }, submitted: unknown): boolean {
      if (typeof submitted !== 'string') return false;
      const [a, b] = [Buffer.from(submitted), Buffer.from(session.csrfToken)];
      return a.length === b.length && timingSafeEqual(a, b);
    },

    /**
     * A one-line notice for the next page view (set on a redirect, shown once), in a cookie signed with
     * Hono's signed cookies (HMAC-SHA256 under noticeSecret): the browser can carry it, not write it.
     */
    async flash(c: Context, notice: Notice): Promise<void> {
      await setSignedCookie(c, noticeCookie, JSON.stringify(notice), signingSecret, { ...cookieOptions, maxAge: 60 });
    },

    /**
     * The notice set by the previous response, once; undefined when there is none or its signature does not
     * hold (a forged or edited cookie renders nothing). Its link survives only if safeNoticeLink keeps it.
     */
    async takeFlash(c: Context): Promise<Notice | undefined> {
      if (getCookie(c, noticeCookie) === undefined) return undefined;
      deleteCookie(c, noticeCookie, cookieOptions);
      const raw = await getSignedCookie(c, signingSecret, noticeCookie);
      if (typeof raw !== 'string') return undefined;
      try {
        const notice = JSON.parse(raw) as Notice;
        if (typeof notice.text !== 'string' || (notice.kind !== 'ok' && notice.kind !== 'error')) return undefined;
        const link = safeNoticeLink(notice.link, deps.publicUrl);
        return { kind: notice.kind, text: notice.text, ...(link ? { link } : {}) };
      } catch {
        return undefined;
      }
    },
  };
}

export const SESSION_COOKIE = 'billing_session';
const BILLING_PATH = '/billing';
/** A sign-in through a billing session URL lasts an hour (the studio's app makes a new URL when needed). */
const BILLING_SESSION_SIGN_IN_MS = 60 * 60_000;

/** A /billing session: the signed-in workspace. */
export interface BillingSession extends BrowserSession {
  workspace: WorkspaceRow;
}

/**
 * The /billing pages' sessions: a workspace signs in with its API key (the key is checked, then forgotten:
 * only its id is kept, and revoking the key ends the session) or with a billing session's single-use URL.
 */
export function billingSessions(deps: { sql: Sql; publicUrl: string; adminApiKey?: string }) {
  const sessions = browserSessions(deps, { kind: 'workspace', cookieName: SESSION_COOKIE, cookiePath: BILLING_PATH });
  // Not the generic signIn: a workspace signs in only through a credential checked here.
  const { signOut, tokenMatches, flash, takeFlash } = sessions;
  return {
    signOut, tokenMatches, flash, takeFlash,

    /** Signs in with a workspace API key; undefined (nobody signed in) when the key opens no workspace. */
    async signInWithKey(c: Context, key: string): Promise<WorkspaceRow | undefined> {
      const found = key && key.length <= 200 ? await workspaceAndKeyIdByKey(deps.sql, key) : undefined;
      if (!found) return undefined;
      await sessions.signIn(c, { principalId: found.workspace.id, signedInWith: found.keyId });
      return found.workspace;
    },

    /**
     * Signs in with a billing session URL's token (SPEC §10): once; a used, expired or unknown token signs
     * nobody in and says why.
     */
    async signInWithToken(c: Context, token: string): Promise<{ status: 'signed_in'; workspaceId: string } | { status: 'unknown' | 'used' | 'expired' }> {
      const consumed = await consumeBillingSession(deps.sql, token);
      if (consumed.status !== 'consumed') return consumed;
      const { session } = consumed;
      await sessions.signIn(c, { principalId: session.workspace_id, signedInWith: session.id, returnUrl: session.return_url, ttlMs: BILLING_SESSION_SIGN_IN_MS });
      return { status: 'signed_in', workspaceId: session.workspace_id };
    },

    /** The signed-in workspace, or undefined (no session, or one whose API key was revoked). */
    async current(c: Context): Promise<BillingSession | undefined> {
      const session = await sessions.current(c);
      if (!session) return undefined;
      const workspace = await workspaceOfSession(deps.sql, session.principal.id, session.signedInWith);
      return workspace ? { ...session, workspace } : undefined;
    },
  };
}
