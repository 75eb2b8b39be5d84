/**
 * The /admin console's sessions (SPEC §10 "Operator console"): the same cookie and CSRF scheme as /billing
 * (browserSessions, kind `operator`, cookie `admin_session` on `/admin`), signed in with an operator key.
 */
import { timingSafeEqual } from 'node:crypto';
import type { Context } from 'hono';
import type { Sql } from '../../../ledger/db.js';
import { listOperatorKeys, OPERATOR_KEY_PREFIX, operatorKeyByKey, ROOT_OPERATOR_KEY_ID } from '../../../ledger/operator-keys.js';
import { type BrowserSession, browserSessions } from '../billing-session.js';

export const ADMIN_COOKIE = 'admin_session';
const ADMIN_PATH = '/admin';

/** A signed-in operator: `operatorKeyId` is what the audit log records (`opk_root` for ADMIN_API_KEY). */
export interface OperatorSession extends BrowserSession {
  operatorKeyId: string;
}

function sameSecret(a: string, b: string): boolean {
  const [x, y] = [Buffer.from(a), Buffer.from(b)];
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Operator sessions. Only an operator key signs in: ADMIN_API_KEY, or a stored `sk_op_…` key not revoked (a
 * workspace key never does). The key is checked then forgotten (its id is kept); revoking it ends the session.
 */
export function operatorSessions(deps: { sql: Sql; publicUrl: string; adminApiKey: string }) {
  const sessions = browserSessions(deps, { kind: 'operator', cookieName: ADMIN_COOKIE, cookiePath: ADMIN_PATH });
  const { signOut, tokenMatches, flash, takeFlash } = sessions;

  /** The operator key id a secret opens, or undefined (unknown, revoked, or a workspace key). */
  const operatorKeyIdOf = async (key: string): Promise<string | undefined> => {
    if (!key || key.length > 200) return undefined;
    if (sameSecret(key, deps.adminApiKey)) return ROOT_OPERATOR_KEY_ID;
    if (!key.startsWith(OPERATOR_KEY_PREFIX)) return undefined;
    return (await operatorKeyByKey(deps.sql, key))?.id;
  };

  /** Whether the key id is still usable: the root key always (it comes from the environment), stored keys until revoked. */
  const stillValid = async (keyId: string): Promise<boolean> =>
    keyId === ROOT_OPERATOR_KEY_ID || (await listOperatorKeys(deps.sql)).some((k) => k.id === keyId && k.revoked_at === null);

  return {
    signOut, tokenMatches, flash, takeFlash,

    /** Signs in with an operator key; false (nobody signed in) when the key is not an unrevoked operator key. */
    async signInWithKey(c: Context, key: string): Promise<boolean> {
      const keyId = await operatorKeyIdOf(key);
      if (!keyId) return false;
      await sessions.signIn(c, { principalId: keyId, signedInWith: keyId });
      return true;
    },

    /** The signed-in operator, or undefined (no session, or one whose key was revoked since). */
    async current(c: Context): Promise<OperatorSession | undefined> {
      const session = await sessions.current(c);
      if (!session || !(await stillValid(session.signedInWith))) return undefined;
      return { ...session, operatorKeyId: session.signedInWith };
    },
  };
}
