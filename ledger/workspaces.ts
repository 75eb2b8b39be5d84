import { createHash, randomBytes } from 'node:crypto';
import type { Sql } from './db.js';

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

/** Creates a workspace and its first API key; the key is returned once and only its hash is kept. */
export async function createWorkspace(
  sql: Sql,
  input: { name: string; testClockId: string | null },
): Promise<{ id: string; apiKey: string }> {
  const id = newId('ws');
  const apiKey = `sk_ws_${randomBytes(24).toString('base64url')}`;
  await sql.begin(async (tx) => {
    await tx`INSERT INTO workspaces (id, name, test_clock_id) VALUES (${id}, ${input.name}, ${input.testClockId})`;
    await tx`INSERT INTO api_keys (key_hash, workspace_id) VALUES (${hashKey(apiKey)}, ${id})`;
  });
  return { id, apiKey };
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
