import { hash } from 'node:crypto';
import type { Sql } from '../ledger/db.js';
import { operatorKeyByKey } from '../ledger/operator-keys.js';
import { type WorkspaceIdentity, workspaceAndKeyIdByKey } from '../ledger/workspaces.js';

/**
 * What the cache is keyed by: the key's SHA-256 (the process keeps no key in the clear), through Node's one-shot
 * crypto.hash, about twice as fast as a Hash object (createHash), which a cache hit would otherwise build per request.
 */
const cacheKey = (apiKey: string): string => hash('sha256', apiKey, 'base64');

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

  /**
   * Bumped by forgetAll (a revocation). A lookup that started under an older generation may have read the key
   * before it was revoked: it never fills the cache, and it reads again (issue 16, finding 7).
   */
  private generation = 0;
  private static readonly MAX_READS = 3;

  constructor(private readonly now: () => number = Date.now) {}

  async lookup(sql: Sql, apiKey: string): Promise<WorkspaceIdentity | undefined> {
    return (await this.lookupKey(sql, apiKey))?.workspace;
  }

  /** The workspace a key opens and the key's id (`key_…`: creations record which key made them, SPEC §11). */
  async lookupKey(sql: Sql, apiKey: string): Promise<{ workspace: WorkspaceIdentity; keyId: string } | undefined> {
    const key = cacheKey(apiKey);
    const cached = this.entries.get(key);
    if (cached && cached.until > this.now()) return cached;
    const [found, generation] = await this.readSettled(() => workspaceAndKeyIdByKey(sql, apiKey));
    if (generation !== this.generation) return found && { workspace: pickIdentity(found.workspace), keyId: found.keyId };
    if (!found) {
      this.entries.delete(key);
      return undefined;
    }
    if (this.entries.size >= ApiKeyCache.MAX_ENTRIES) this.entries.clear();
    const { id, name, test_clock_id } = found.workspace;
    const entry = { workspace: { id, name, test_clock_id }, keyId: found.keyId, until: this.now() + ApiKeyCache.TTL_MS };
    this.entries.set(key, entry);
    return entry;
  }

  /** The unrevoked stored operator key with this secret (SPEC §10), remembered like workspace keys. */
  async lookupOperator(sql: Sql, apiKey: string): Promise<{ id: string; name: string } | undefined> {
    const key = cacheKey(apiKey);
    const cached = this.operators.get(key);
    if (cached && cached.until > this.now()) return cached.operator;
    const [operator, generation] = await this.readSettled(() => operatorKeyByKey(sql, apiKey));
    if (generation !== this.generation) return operator;
    if (!operator) {
      this.operators.delete(key);
      return undefined;
    }
    if (this.operators.size >= ApiKeyCache.MAX_ENTRIES) this.operators.clear();
    this.operators.set(key, { operator, until: this.now() + ApiKeyCache.TTL_MS });
    return operator;
  }

  /**
   * Reads until no revocation happened during the read (at most MAX_READS times, the last read answering even if
   * one did, as the database stood then), with the generation the answer was read under.
   */
  private async readSettled<T>(read: () => Promise<T>): Promise<[T, number]> {
    for (let attempt = 1; ; attempt++) {
      const generation = this.generation;
      const value = await read();
      if (generation === this.generation || attempt >= ApiKeyCache.MAX_READS) return [value, generation];
    }
  }

  /** After a revocation (workspace or operator key): every key is looked up again; lookups in flight cache nothing. */
  forgetAll(): void {
    this.generation += 1;
    this.entries.clear();
    this.operators.clear();
  }
}

/** The fixed identity a cached entry keeps (nothing a request can change). */
function pickIdentity(workspace: WorkspaceIdentity): WorkspaceIdentity {
  return { id: workspace.id, name: workspace.name, test_clock_id: workspace.test_clock_id };
}
