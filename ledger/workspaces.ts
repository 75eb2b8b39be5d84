import { createHash, randomBytes } from 'node:crypto';
import { type Metadata, type MetadataPatch, mergeMetadata, metadataProblem } from '../domain/workspace-metadata.js';
import { Refusal } from '../domain/refusals.js';
import type { Sql } from './db.js';
import { type Page, page } from './history.js';
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

/** A workspace as the API shows it (SPEC §10): its identity, the studio's external id and metadata. */
export interface WorkspaceDetails {
  id: string;
  name: string;
  test_clock_id: string | null;
  /** The studio's own id for this customer; unique among workspaces when set. */
  external_id: string | null;
  metadata: Metadata;
  created_at: Date;
}

const EXTERNAL_ID_INDEX = 'workspaces_by_external_id';

function isExternalIdTaken(error: unknown): boolean {
  const e = error as { code?: string; constraint_name?: string };
  return e?.code === '23505' && e.constraint_name === EXTERNAL_ID_INDEX;
}

function externalIdTaken(externalId: string): Refusal {
  return new Refusal('external_id_taken', `another workspace has the external_id ${JSON.stringify(externalId)}`, { external_id: externalId });
}

/**
 * Creates a workspace and its first API key; the key is returned once and only its hash is kept.
 * Throws Refusal `external_id_taken` when another workspace has `externalId` (nothing is created).
 * `metadata` must be within domain/workspace-metadata.ts's limits (the API checks).
 */
export async function createWorkspace(
  sql: Sql,
  input: { name: string; testClockId: string | null; externalId?: string | null; metadata?: Metadata },
): Promise<{ id: string; apiKey: string }> {
  const id = newId('ws');
  let apiKey = '';
  const metadata = mergeMetadata({}, input.metadata ?? {});
  try {
    await sql.begin(async (tx) => {
      await tx`INSERT INTO workspaces (id, name, test_clock_id, external_id, metadata)
               VALUES (${id}, ${input.name}, ${input.testClockId}, ${input.externalId ?? null}, ${tx.json(metadata)})`;
      apiKey = (await insertApiKey(tx, id)).apiKey;
    });
  } catch (error) {
    if (isExternalIdTaken(error)) throw externalIdTaken(input.externalId!);
    throw error;
  }
  return { id, apiKey };
}

export async function workspaceDetails(sql: Sql, id: string): Promise<WorkspaceDetails | undefined> {
  const [row] = await sql<WorkspaceDetails[]>`
    SELECT id, name, test_clock_id, external_id, metadata, created_at FROM workspaces WHERE id = ${id}`;
  return row;
}

/** The workspace the studio knows by `externalId` (SPEC §10: operators look workspaces up by either id). */
export async function workspaceByExternalId(sql: Sql, externalId: string): Promise<WorkspaceDetails | undefined> {
  const [row] = await sql<WorkspaceDetails[]>`
    SELECT id, name, test_clock_id, external_id, metadata, created_at FROM workspaces WHERE external_id = ${externalId}`;
  return row;
}

export type WorkspaceUpdate =
  | { status: 'updated'; workspace: WorkspaceDetails }
  | { status: 'not_found' }
  /** The merged metadata is over the limits (e.g. more than 50 keys): nothing changed. */
  | { status: 'invalid_metadata'; reason: string };

/**
 * Sets a workspace's external_id (null clears it) and patches its metadata (a string sets a key, null or ''
 * removes it), under a row lock so concurrent patches merge. All or nothing: throws Refusal
 * `external_id_taken` when another workspace has that external_id. The name never changes (API key caches
 * remember it).
 */
export async function updateWorkspace(
  sql: Sql,
  id: string,
  update: { externalId?: string | null; metadata?: MetadataPatch },
): Promise<WorkspaceUpdate> {
  try {
    return await sql.begin(async (tx): Promise<WorkspaceUpdate> => {
      const [current] = await tx<WorkspaceDetails[]>`
        SELECT id, name, test_clock_id, external_id, metadata, created_at FROM workspaces WHERE id = ${id} FOR UPDATE`;
      if (!current) return { status: 'not_found' };
      const metadata = update.metadata ? mergeMetadata(current.metadata, update.metadata) : current.metadata;
      const reason = metadataProblem(metadata);
      if (reason) return { status: 'invalid_metadata', reason };
      const externalId = update.externalId === undefined ? current.external_id : update.externalId;
      const [row] = await tx<WorkspaceDetails[]>`
        UPDATE workspaces SET external_id = ${externalId}, metadata = ${tx.json(metadata)} WHERE id = ${id}
        RETURNING id, name, test_clock_id, external_id, metadata, created_at`;
      return { status: 'updated', workspace: row! };
    });
  } catch (error) {
    if (isExternalIdTaken(error)) throw externalIdTaken(update.externalId!);
    throw error;
  }
}

/** At most this many unrevoked API keys per workspace (issue 16: caps). */
export const MAX_ACTIVE_API_KEYS = 100;

/** A key's name and daily budget (SPEC §11): name 1–100 characters, daily_credit_limit credits > 0; null: none. */
export interface ApiKeySettings {
  name?: string | null;
  dailyCreditLimit?: number | null;
}

/** Stores a new key (only its hash); the secret is returned once. No cap: see createApiKey. */
export async function insertApiKey(sql: Sql | Tx, workspaceId: string, settings: ApiKeySettings = {}): Promise<{ id: string; apiKey: string }> {
  const apiKey = `sk_ws_${randomBytes(24).toString('base64url')}`;
  const id = newId('key');
  await sql`INSERT INTO api_keys (key_hash, id, hint, workspace_id, name, daily_credit_limit)
    VALUES (${hashKey(apiKey)}, ${id}, ${apiKey.slice(-4)}, ${workspaceId}, ${settings.name ?? null}, ${settings.dailyCreditLimit ?? null})`;
  return { id, apiKey };
}

/**
 * A workspace's new API key with its name and daily budget, under the workspace lock so the cap holds under
 * concurrency. Throws Refusal `api_key_limit_reached` when it already has MAX_ACTIVE_API_KEYS unrevoked keys.
 */
export async function createApiKey(sql: Sql, workspaceId: string, settings: ApiKeySettings): Promise<{ id: string; apiKey: string }> {
  return sql.begin(async (tx) => {
    await tx`SELECT ledger_lock_workspace(${workspaceId})`;
    const [row] = await tx<{ active: number }[]>`
      SELECT count(*)::int AS active FROM api_keys WHERE workspace_id = ${workspaceId} AND revoked_at IS NULL`;
    if (row!.active >= MAX_ACTIVE_API_KEYS) {
      throw new Refusal('api_key_limit_reached', `a workspace holds at most ${MAX_ACTIVE_API_KEYS} active API keys; revoke one first`,
        { limit: MAX_ACTIVE_API_KEYS });
    }
    return insertApiKey(tx, workspaceId, settings);
  }) as Promise<{ id: string; apiKey: string }>;
}

export interface ApiKeyView {
  id: string;
  hint: string;
  name: string | null;
  /** Credits per UTC day of the workspace's time; null: no limit. */
  daily_credit_limit: number | null;
  /** Credits its holds made today (the workspace's UTC day) quoted, less what they released. */
  used: number;
  created_at: string;
  revoked_at: string | null;
}

type ApiKeyRow = { id: string; hint: string; name: string | null; daily_credit_limit: number | null; used: number; created_at: Date; revoked_at: Date | null };

const toApiKeyView = (r: ApiKeyRow): ApiKeyView => ({
  id: r.id, hint: r.hint, name: r.name, daily_credit_limit: r.daily_credit_limit, used: r.used,
  created_at: r.created_at.toISOString(), revoked_at: r.revoked_at?.toISOString() ?? null,
});

/** The workspace's keys, newest first (one of them when `keyId` is given), with today's use of each. */
export async function listApiKeys(sql: Sql, workspaceId: string, keyId?: string): Promise<ApiKeyView[]> {
  const rows = await sql<ApiKeyRow[]>`
    SELECT k.id, k.hint, k.name, k.daily_credit_limit, coalesce(s.used, 0)::int AS used, k.created_at, k.revoked_at
    FROM api_keys k
    LEFT JOIN api_key_daily_spend s ON s.api_key_id = k.id AND s.day = (workspace_now(${workspaceId}) AT TIME ZONE 'UTC')::date
    WHERE k.workspace_id = ${workspaceId} ${keyId === undefined ? sql`` : sql`AND k.id = ${keyId}`}
    ORDER BY k.created_at DESC, k.id`;
  return rows.map(toApiKeyView);
}

/**
 * A page of the workspace's keys (revoked ones too), newest first, with today's use of each; `after` is the id of
 * the last key of the previous page; null when it is not one of the workspace's keys.
 */
export async function pageApiKeys(sql: Sql, workspaceId: string, opts: { limit: number; after?: string }): Promise<Page<ApiKeyView> | null> {
  let cursor = sql``;
  if (opts.after !== undefined) {
    const [anchor] = await sql<{ created_at: Date }[]>`SELECT created_at FROM api_keys WHERE id = ${opts.after} AND workspace_id = ${workspaceId}`;
    if (!anchor) return null;
    cursor = sql`AND (k.created_at, k.id) < (${anchor.created_at}, ${opts.after})`;
  }
  const rows = await sql<ApiKeyRow[]>`
    SELECT k.id, k.hint, k.name, k.daily_credit_limit, coalesce(s.used, 0)::int AS used, k.created_at, k.revoked_at
    FROM api_keys k
    LEFT JOIN api_key_daily_spend s ON s.api_key_id = k.id AND s.day = (workspace_now(${workspaceId}) AT TIME ZONE 'UTC')::date
    WHERE k.workspace_id = ${workspaceId} ${cursor}
    ORDER BY k.created_at DESC, k.id DESC LIMIT ${opts.limit + 1}`;
  return page(rows.map(toApiKeyView), opts.limit);
}

/** Changes a key's name and daily budget (an absent field stays, null removes it); undefined when the workspace has no such key. */
export async function updateApiKey(sql: Sql, workspaceId: string, keyId: string, settings: ApiKeySettings): Promise<ApiKeyView | undefined> {
  const updated = await sql`
    UPDATE api_keys SET
      name = ${settings.name === undefined ? sql`name` : sql`${settings.name}`},
      daily_credit_limit = ${settings.dailyCreditLimit === undefined ? sql`daily_credit_limit` : sql`${settings.dailyCreditLimit}`}
    WHERE id = ${keyId} AND workspace_id = ${workspaceId}`;
  if (updated.count === 0) return undefined;
  return (await listApiKeys(sql, workspaceId, keyId))[0];
}

/** The daily budget of the key a request was made with (null: none; undefined: no such key). */
export async function apiKeyDailyLimit(sql: Sql, keyId: string): Promise<number | null | undefined> {
  const [row] = await sql<{ daily_credit_limit: number | null }[]>`SELECT daily_credit_limit FROM api_keys WHERE id = ${keyId}`;
  return row?.daily_credit_limit;
}

/** Revokes one of the workspace's keys; undefined when the workspace has no such key. Idempotent. */
export async function revokeApiKey(sql: Sql, workspaceId: string, keyId: string): Promise<ApiKeyView | undefined> {
  await sql`UPDATE api_keys SET revoked_at = now() WHERE id = ${keyId} AND workspace_id = ${workspaceId} AND revoked_at IS NULL`;
  return (await listApiKeys(sql, workspaceId, keyId))[0];
}

export async function workspaceByKey(sql: Sql, apiKey: string): Promise<WorkspaceRow | undefined> {
  const [row] = await sql<WorkspaceRow[]>`
    SELECT w.id, w.name, w.test_clock_id, w.payment_method, w.provider_customer_id FROM api_keys k JOIN workspaces w ON w.id = k.workspace_id
    WHERE k.key_hash = ${hashKey(apiKey)} AND k.revoked_at IS NULL`;
  return row;
}

/** The workspace an API key opens and the key's id (a browser signed in with it ends when it is revoked). */
export async function workspaceAndKeyIdByKey(sql: Sql, apiKey: string): Promise<{ workspace: WorkspaceRow; keyId: string } | undefined> {
  const [row] = await sql<(WorkspaceRow & { key_id: string })[]>`
    SELECT w.id, w.name, w.test_clock_id, w.payment_method, w.provider_customer_id, k.id AS key_id
    FROM api_keys k JOIN workspaces w ON w.id = k.workspace_id
    WHERE k.key_hash = ${hashKey(apiKey)} AND k.revoked_at IS NULL`;
  if (!row) return undefined;
  const { key_id: keyId, ...workspace } = row;
  return { workspace, keyId };
}

/**
 * The workspace of a browser session, or undefined when the session no longer holds: signed in with an API
 * key (`key_…`) that has since been revoked. A session from a billing session URL (`bps_…`) holds until it expires.
 */
export async function workspaceOfSession(sql: Sql, workspaceId: string, signedInWith: string): Promise<WorkspaceRow | undefined> {
  const [row] = await sql<WorkspaceRow[]>`
    SELECT w.id, w.name, w.test_clock_id, w.payment_method, w.provider_customer_id FROM workspaces w
    WHERE w.id = ${workspaceId}
      AND (${signedInWith} NOT LIKE 'key\_%'
           OR EXISTS (SELECT 1 FROM api_keys k WHERE k.id = ${signedInWith} AND k.workspace_id = w.id AND k.revoked_at IS NULL))`;
  return row;
}

export async function getWorkspace(sql: Sql, id: string): Promise<WorkspaceRow | undefined> {
  const [row] = await sql<WorkspaceRow[]>`SELECT id, name, test_clock_id, payment_method, provider_customer_id FROM workspaces WHERE id = ${id}`;
  return row;
}

export async function setPaymentMethod(sql: Sql, workspaceId: string, paymentMethod: string): Promise<void> {
  await sql`UPDATE workspaces SET payment_method = ${paymentMethod} WHERE id = ${workspaceId}`;
}
