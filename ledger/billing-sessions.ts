import { createHash, randomBytes } from 'node:crypto';
import type { Sql } from './db.js';
import { newId } from './workspaces.js';

/**
 * Billing sessions (SPEC §10, issue 12), like Stripe's Billing Portal sessions: a single-use URL that signs
 * one workspace's customer into /billing without their API key. The URL's token is 256 random bits; only its
 * SHA-256 is stored; it is consumed by one atomic UPDATE.
 */
export const BILLING_SESSION_TTL_MS = 5 * 60_000;

export interface BillingSessionRow {
  id: string;
  workspace_id: string;
  return_url: string | null;
  created_by: 'workspace' | 'operator';
  created_at: Date;
  expires_at: Date;
  used_at: Date | null;
}

const tokenHash = (token: string) => createHash('sha256').update(token).digest('hex');

/** Creates a billing session for the workspace; the token is returned once (for its URL), never stored. */
export async function createBillingSession(
  sql: Sql,
  input: { workspaceId: string; returnUrl: string | null; createdBy: 'workspace' | 'operator'; ttlMs?: number },
): Promise<{ session: BillingSessionRow; token: string }> {
  const token = randomBytes(32).toString('base64url');
  const [session] = await sql<BillingSessionRow[]>`
    INSERT INTO billing_sessions (id, token_hash, workspace_id, return_url, created_by, expires_at)
    VALUES (${newId('bps')}, ${tokenHash(token)}, ${input.workspaceId}, ${input.returnUrl}, ${input.createdBy},
            now() + ${input.ttlMs ?? BILLING_SESSION_TTL_MS} * interval '1 millisecond')
    RETURNING id, workspace_id, return_url, created_by, created_at, expires_at, used_at`;
  return { session: session!, token };
}

export type Consumed =
  | { status: 'consumed'; session: BillingSessionRow }
  /** Why the URL signs nobody in: never issued (or malformed), used already, or past its expiry. */
  | { status: 'unknown' | 'used' | 'expired' };

/**
 * Uses a billing session's token: succeeds for exactly one caller, however many use the URL at once (the
 * UPDATE … WHERE used_at IS NULL … RETURNING is the only write). Expiry is real time (never a test clock's).
 */
export async function consumeBillingSession(sql: Sql, token: string): Promise<Consumed> {
  if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return { status: 'unknown' };
  const hash = tokenHash(token);
  const [session] = await sql<BillingSessionRow[]>`
    UPDATE billing_sessions SET used_at = now()
    WHERE token_hash = ${hash} AND used_at IS NULL AND expires_at > now()
    RETURNING id, workspace_id, return_url, created_by, created_at, expires_at, used_at`;
  if (session) return { status: 'consumed', session };
  const [known] = await sql<{ used: boolean }[]>`SELECT used_at IS NOT NULL AS used FROM billing_sessions WHERE token_hash = ${hash}`;
  if (!known) return { status: 'unknown' };
  return { status: known.used ? 'used' : 'expired' };
}
