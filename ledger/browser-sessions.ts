import { createHash } from 'node:crypto';
import type { Sql } from './db.js';

/** Who a browser session signs in: a workspace (/billing) or an operator key (/admin). */
export type PrincipalKind = 'workspace' | 'operator';

export interface BrowserSessionRow {
  principal_kind: PrincipalKind;
  principal_id: string;
  /** What signed the browser in: an API key id, a billing session id (bps_…), an operator key id. */
  signed_in_with: string;
  csrf_secret: string;
  return_url: string | null;
  created_at: Date;
  expires_at: Date;
}

/** Only the SHA-256 of a session's cookie value is stored: a copy of the table signs nobody in. */
export function sessionHash(cookieValue: string): string {
  return createHash('sha256').update(cookieValue).digest('hex');
}

/** Stores a new browser session (migration 0016); `ttlMs` of real time from now. */
export async function insertBrowserSession(
  sql: Sql,
  session: { cookieValue: string; kind: PrincipalKind; principalId: string; signedInWith: string; csrfSecret: string; returnUrl: string | null; ttlMs: number },
): Promise<void> {
  await sql`
    INSERT INTO browser_sessions (id_hash, principal_kind, principal_id, signed_in_with, csrf_secret, return_url, expires_at)
    VALUES (${sessionHash(session.cookieValue)}, ${session.kind}, ${session.principalId}, ${session.signedInWith},
            ${session.csrfSecret}, ${session.returnUrl}, now() + ${session.ttlMs} * interval '1 millisecond')`;
}

/** The unexpired session of this kind behind a cookie value, or undefined. Expiry is real time. */
export async function findBrowserSession(sql: Sql, cookieValue: string, kind: PrincipalKind): Promise<BrowserSessionRow | undefined> {
  const [row] = await sql<BrowserSessionRow[]>`
    SELECT principal_kind, principal_id, signed_in_with, csrf_secret, return_url, created_at, expires_at FROM browser_sessions
    WHERE id_hash = ${sessionHash(cookieValue)} AND principal_kind = ${kind} AND expires_at > now()`;
  return row;
}

/** Ends a session (sign-out); also sweeps sessions that expired over a day ago. Idempotent. */
export async function deleteBrowserSession(sql: Sql, cookieValue: string): Promise<void> {
  await sql`DELETE FROM browser_sessions WHERE id_hash = ${sessionHash(cookieValue)} OR expires_at < now() - interval '1 day'`;
}
