import { createHash, randomBytes } from 'node:crypto';
import type { Sql } from './db.js';
import type { Tx } from './operations.js';

export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(12).toString('hex')}`;
}

export function hashKey(apiKey: string): string {
  return createHash('sha256').update(apiKey).digest('hex');
}

export async function workspaceNow(sql: Sql, workspaceId: string): Promise<Date> {
  const [row] = await sql<{ now: Date }[]>`SELECT workspace_now(${workspaceId}) AS now`;
  return row!.now;
}

export interface WorkspaceRow {
  id: string;
  name: string;
  test_clock_id: string | null;
  payment_method: string | null;
  provider_customer_id: string | null;
}

/** What never changes about a workspace once created: safe to remember (see api/api-key-cache.ts). */
export type WorkspaceIdentity = Pick<WorkspaceRow, 'id' | 'name' | 'test_clock_id'>;

/** Creates a workspace and its first API key; the key is returned once and only its hash is kept. */
export async function createWorkspace(
  sql: Sql,
  input: { name: string; testClockId: string | null },
): Promise<{ id: string; apiKey: string }> {
  const id = newId('ws');
  let apiKey = '';
  await sql.begin(async (tx) => {
    await tx`INSERT INTO workspaces (id, name, test_clock_id) VALUES (${id}, ${input.name}, ${input.testClockId})`;
    apiKey = (await insertApiKey(tx, id)).apiKey;
  });
  return { id, apiKey };
}

export async function insertApiKey(sql: Sql | Tx, workspaceId: string): Promise<{ id: string; apiKey: string }> {
  const apiKey = `sk_ws_${randomBytes(24).toString('base64url')}`;
  const id = newId('key');
  await sql`INSERT INTO api_keys (key_hash, id, hint, workspace_id) VALUES (${hashKey(apiKey)}, ${id}, ${apiKey.slice(-4)}, ${workspaceId})`;
  return { id, apiKey };
}

export interface ApiKeyView {
  id: string;
  hint: string;
  created_at: string;
  revoked_at: string | null;
}

export async function listApiKeys(sql: Sql, workspaceId: string): Promise<ApiKeyView[]> {
  const rows = await sql<{ id: string; hint: string; created_at: Date; revoked_at: Date | null }[]>`
    SELECT id, hint, created_at, revoked_at FROM api_keys WHERE workspace_id = ${workspaceId} ORDER BY created_at DESC, id`;
  return rows.map((r) => ({ id: r.id, hint: r.hint, created_at: r.created_at.toISOString(), revoked_at: r.revoked_at?.toISOString() ?? null }));
}

/** Revokes one of the workspace's keys; undefined when the workspace has no such key. Idempotent. */
export async function revokeApiKey(sql: Sql, workspaceId: string, keyId: string): Promise<ApiKeyView | undefined> {
  await sql`UPDATE api_keys SET revoked_at = now() WHERE id = ${keyId} AND workspace_id = ${workspaceId} AND revoked_at IS NULL`;
  return (await listApiKeys(sql, workspaceId)).find((k) => k.id === keyId);
}

export async function workspaceByKey(sql: Sql, apiKey: string): Promise<WorkspaceRow | undefined> {
  const [row] = await sql<WorkspaceRow[]>`
    SELECT w.id, w.name, w.test_clock_id, w.payment_method, w.provider_customer_id FROM api_keys k JOIN workspaces w ON w.id = k.workspace_id
    WHERE k.key_hash = ${hashKey(apiKey)} AND k.revoked_at IS NULL`;
  return row;
}

export async function getWorkspace(sql: Sql, id: string): Promise<WorkspaceRow | undefined> {
  const [row] = await sql<WorkspaceRow[]>`SELECT id, name, test_clock_id, payment_method, provider_customer_id FROM workspaces WHERE id = ${id}`;
  return row;
}

export async function setPaymentMethod(sql: Sql, workspaceId: string, paymentMethod: string): Promise<void> {
  await sql`UPDATE workspaces SET payment_method = ${paymentMethod} WHERE id = ${workspaceId}`;
}
