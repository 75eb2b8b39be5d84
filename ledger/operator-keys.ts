import { randomBytes } from 'node:crypto';
import type { Sql } from './db.js';
import { hashKey, newId } from './workspaces.js';

/** The id of the operator key from the environment (ADMIN_API_KEY): the first operator key, never stored, never revocable. */
export const ROOT_OPERATOR_KEY_ID = 'opk_root';
/** Prefix of stored operator keys (workspace keys start with `sk_ws_`). */
export const OPERATOR_KEY_PREFIX = 'sk_op_';

export interface OperatorKeyView {
  id: string;
  name: string;
  /** The key's last four characters. */
  hint: string;
  /** ISO instant (real time); null for the root key, which comes from the environment. */
  created_at: string | null;
  revoked_at: string | null;
}

interface OperatorKeyRow { id: string; name: string; hint: string; created_at: Date; revoked_at: Date | null }

const view = (r: OperatorKeyRow): OperatorKeyView => ({
  id: r.id, name: r.name, hint: r.hint, created_at: r.created_at.toISOString(), revoked_at: r.revoked_at?.toISOString() ?? null,
});

/** A new named operator key (SPEC §10); the key is returned once and only its hash is kept. */
export async function createOperatorKey(sql: Sql, name: string): Promise<OperatorKeyView & { api_key: string }> {
  const apiKey = `${OPERATOR_KEY_PREFIX}${randomBytes(24).toString('base64url')}`;
  const [row] = await sql<OperatorKeyRow[]>`
    INSERT INTO operator_keys (id, name, key_hash, hint) VALUES (${newId('opk')}, ${name}, ${hashKey(apiKey)}, ${apiKey.slice(-4)})
    RETURNING id, name, hint, created_at, revoked_at`;
  return { ...view(row!), api_key: apiKey };
}

/** Stored operator keys, newest first (never the secret). */
export async function listOperatorKeys(sql: Sql): Promise<OperatorKeyView[]> {
  const rows = await sql<OperatorKeyRow[]>`SELECT id, name, hint, created_at, revoked_at FROM operator_keys ORDER BY created_at DESC, id`;
  return rows.map(view);
}

/** Revokes a stored operator key (idempotent); undefined when there is no such key. */
export async function revokeOperatorKey(sql: Sql, id: string): Promise<OperatorKeyView | undefined> {
  await sql`UPDATE operator_keys SET revoked_at = now() WHERE id = ${id} AND revoked_at IS NULL`;
  const [row] = await sql<OperatorKeyRow[]>`SELECT id, name, hint, created_at, revoked_at FROM operator_keys WHERE id = ${id}`;
  return row ? view(row) : undefined;
}

/** The unrevoked operator key with this secret, or undefined. */
export async function operatorKeyByKey(sql: Sql, apiKey: string): Promise<{ id: string; name: string } | undefined> {
  const [row] = await sql<{ id: string; name: string }[]>`
    SELECT id, name FROM operator_keys WHERE key_hash = ${hashKey(apiKey)} AND revoked_at IS NULL`;
  return row;
}
