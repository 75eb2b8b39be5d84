import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openResponse, sealResponse } from '../../api/idempotent-response-cipher.js';
import { ADMIN_KEY, startStack } from '../helpers/stack.js';

/**
 * Issue 16, finding 6: new API keys sat in plaintext in the idempotency store for 24 hours. Invariant: no
 * stored idempotent answer holds a usable secret in plaintext; a client retrying with the same Idempotency-Key
 * (after a timeout, never having seen the first answer) still gets that answer, secret included; an answer
 * that cannot be opened any more is a 409 idempotent_secret_not_replayable, never a second key.
 */
describe('idempotent answers that carry secrets (finding 6)', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => stack?.stop());

  /** A POST with an Idempotency-Key, answered as status, body and whether it was a replay. */
  async function post(key: string, path: string, body: unknown, idempotencyKey: string) {
    const response = await fetch(`${stack.baseUrl}${path}`, {
      method: 'POST', body: JSON.stringify(body),
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'idempotency-key': idempotencyKey },
    });
    return { status: response.status, body: await response.json(), replayed: response.headers.get('idempotent-replayed') === 'true' };
  }
  const storedRows = (idempotencyKey: string) => stack.sql<{ key: string; response_body: string | null }[]>`
    SELECT key, response_body FROM idempotency_keys WHERE key LIKE ${`%:${idempotencyKey}`}`;
  const keyCount = (workspaceId: string) => stack.sql`SELECT id FROM api_keys WHERE workspace_id = ${workspaceId}`.then((r) => r.length);

  it('stores POST /v1/workspaces and POST /v1/api-keys answers sealed, and replays the same secret to a retry', async () => {
    const first = await post(ADMIN_KEY, '/v1/workspaces', { name: 'sealed' }, 'create-ws-1');
    expect([first.status, first.replayed]).toEqual([201, false]);
    const workspaceKey = first.body.api_key as string;
    const created = await post(workspaceKey, '/v1/api-keys', {}, 'create-key-1');
    expect(created.status).toBe(201);

    for (const [idempotencyKey, secret] of [['create-ws-1', workspaceKey], ['create-key-1', created.body.api_key as string]] as const) {
      const [row] = await storedRows(idempotencyKey);
      expect(row!.response_body).toMatch(/^enc:v1:/);
      expect(row!.response_body).not.toContain(secret);
      expect(row!.response_body).not.toContain(secret.slice(-12));
      // Without the server secret the stored body opens to nothing.
      expect(openResponse('not-the-server-secret-0123', row!.key, row!.response_body!)).toBeUndefined();
    }

    const retriedWorkspace = await post(ADMIN_KEY, '/v1/workspaces', { name: 'sealed' }, 'create-ws-1');
    expect([retriedWorkspace.status, retriedWorkspace.replayed, retriedWorkspace.body]).toEqual([201, true, first.body]);
    const retriedKey = await post(workspaceKey, '/v1/api-keys', {}, 'create-key-1');
    expect([retriedKey.status, retriedKey.replayed, retriedKey.body]).toEqual([201, true, created.body]);
    expect(await keyCount(first.body.id)).toBe(2); // the workspace's first key and one more: the retry made none
  });

  it('answers 409 idempotent_secret_not_replayable, making nothing, when the stored answer cannot be opened', async () => {
    const ws = await post(ADMIN_KEY, '/v1/workspaces', { name: 'scrubbed' }, 'create-ws-2');
    const workspaceKey = ws.body.api_key as string;
    expect((await post(workspaceKey, '/v1/api-keys', {}, 'scrubbed-key')).status).toBe(201);
    expect((await post(workspaceKey, '/v1/api-keys', {}, 'moved-key')).status).toBe(201);
    const [[scrubbed], [moved]] = await Promise.all([storedRows('scrubbed-key'), storedRows('moved-key')]);

    // As migration 0023 leaves a plaintext answer stored before sealing: no body.
    await stack.sql`UPDATE idempotency_keys SET response_body = NULL WHERE key = ${scrubbed!.key}`;
    // Another row's sealed body (or one sealed under another server secret) does not open here.
    await stack.sql`UPDATE idempotency_keys SET response_body = ${sealResponse('another-server-secret-0123', moved!.key, '{"api_key":"x"}')}
      WHERE key = ${moved!.key}`;
    for (const idempotencyKey of ['scrubbed-key', 'moved-key']) {
      const retried = await post(workspaceKey, '/v1/api-keys', {}, idempotencyKey);
      expect([retried.status, retried.body.code]).toEqual([409, 'idempotent_secret_not_replayable']);
    }
    expect(await keyCount(ws.body.id)).toBe(3);
  });

  it('seals every stored answer, not only those with secrets (a refusal too)', async () => {
    const ws = await post(ADMIN_KEY, '/v1/workspaces', { name: 'refused' }, 'create-ws-3');
    const refused = await post(ws.body.api_key, '/v1/credit-packs', { size: 100 }, 'pack-without-subscription');
    expect(refused.status).toBe(409);
    const [row] = await storedRows('pack-without-subscription');
    expect(row!.response_body).toMatch(/^enc:v1:/);
    const replayed = await post(ws.body.api_key, '/v1/credit-packs', { size: 100 }, 'pack-without-subscription');
    expect([replayed.status, replayed.replayed, replayed.body]).toEqual([409, true, refused.body]);
  });
});
