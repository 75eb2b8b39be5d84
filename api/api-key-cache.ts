import type { Sql } from '../ledger/db.js';
import { operatorKeyByKey } from '../ledger/operator-keys.js';
import { hashKey, type WorkspaceIdentity, workspaceAndKeyIdByKey } from '../ledger/workspaces.js';

/**
 * Remembers which workspace an API key belongs to (or which operator key it is) for a few seconds, so the spend path does not pay a
 * database round trip per request for it. Only the workspace's fixed identity is kept (nothing that a
 * request can change). A key revoked through this process stops working at once; through another API
 * process, within TTL_MS. Unknown keys are not remembered: a new key works at once.
 */
export class ApiKeyCache {
  static readonly TTL_MS = 5_000;
  private static readonly MAX_ENTRIES = 10_000;
  private readonly entries = new Map<string, { workspace: WorkspaceIdentity; keyId: string; until: number }>();
  private readonly operators = new Map<string, { operator: { id: string; name: string }; until: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  async lookup(sql: Sql, apiKey: string): Promise<WorkspaceIdentity | undefined> {
    return (await this.lookupKey(sql, apiKey))?.workspace;
  }

  /** The workspace a key opens and the key's id (`key_…`: creations record which key made them, SPEC §11). */
  async lookupKey(sql: Sql, apiKey: string): Promise<{ workspace: WorkspaceIdentity; keyId: string } | undefined> {
    const hash = hashKey(apiKey);
    const cached = this.entries.get(hash);
    if (cached && cached.until > this.now()) return cached;
    const found = await workspaceAndKeyIdByKey(sql, apiKey);
    if (!found) {
      this.entries.delete(hash);
      return undefined;
    }
    if (this.entries.size >= ApiKeyCache.MAX_ENTRIES) this.entries.clear();
    const { id, name, test_clock_id } = found.workspace;
    const entry = { workspace: { id, name, test_clock_id }, keyId: found.keyId, until: this.now() + ApiKeyCache.TTL_MS };
    this.entries.set(hash, entry);
    return entry;
  }

  /** The unrevoked stored operator key with this secret (SPEC §10), remembered like workspace keys. */
  async lookupOperator(sql: Sql, apiKey: string): Promise<{ id: string; name: string } | undefined> {
    const hash = hashKey(apiKey);
    const cached = this.operators.get(hash);
    if (cached && cached.until > this.now()) return cached.operator;
    const operator = await operatorKeyByKey(sql, apiKey);
    if (!operator) {
      this.operators.delete(hash);
      return undefined;
    }
    if (this.operators.size >= ApiKeyCache.MAX_ENTRIES) this.operators.clear();
    this.operators.set(hash, { operator, until: this.now() + ApiKeyCache.TTL_MS });
    return operator;
  }

  /** After a revocation (workspace or operator key): every key is looked up again. */
  forgetAll(): void {
    this.entries.clear();
    this.operators.clear();
  }
}
