import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, apiClient, startStack } from '../helpers/stack.js';

/**
 * Workspaces with the studio's ids (SPEC §10, issue 12): external_id (unique when set; a duplicate is 409
 * external_id_taken) and metadata (string → string, Stripe's limits: ≤ 50 keys, key ≤ 40 characters, value
 * ≤ 500; otherwise 400 naming the field), at creation and by PATCH; operators find a workspace by id or
 * external_id; a workspace key reads only its own. Refused requests change nothing.
 */
describe('workspaces: external_id and metadata', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  const operator = () => stack.api(ADMIN_KEY);
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => stack?.stop());

  const snapshot = async () => [...await stack.sql`SELECT id, name, external_id, metadata FROM workspaces ORDER BY id`];
  const fields = (body: { errors?: { field: string }[] }) => (body.errors ?? []).map((e) => e.field);

  it('creates a workspace with external_id and metadata, finds it by either id, and refuses a duplicate external_id', async () => {
    const created = await operator().post('/v1/workspaces', { name: 'Acme', external_id: 'user_acme', metadata: { source: 'web', tier: 'gold' } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'Acme', external_id: 'user_acme', metadata: { source: 'web', tier: 'gold' }, test_clock_id: null });
    expect(created.body.api_key).toMatch(/^sk_ws_/);
    const { id } = created.body;

    const found = await operator().get('/v1/workspaces?external_id=user_acme');
    expect(found.body.data.map((w: { id: string }) => w.id)).toEqual([id]);
    expect((await operator().get('/v1/workspaces?external_id=nobody')).body.data).toEqual([]);
    expect((await operator().get(`/v1/workspaces/${id}`)).body).toMatchObject({ id, external_id: 'user_acme', metadata: { source: 'web', tier: 'gold' } });

    const before = await snapshot();
    const duplicate = await operator().post('/v1/workspaces', { name: 'Acme again', external_id: 'user_acme' });
    expect([duplicate.status, duplicate.contentType, duplicate.body.code]).toEqual([409, 'application/problem+json', 'external_id_taken']);
    expect(await snapshot()).toEqual(before);
  });

  it('a workspace key reads only its own workspace and cannot update or search', async () => {
    const a = await operator().post('/v1/workspaces', { name: 'A', external_id: 'user_a' });
    const b = await operator().post('/v1/workspaces', { name: 'B', external_id: 'user_b' });
    const asA = apiClient(stack.baseUrl, a.body.api_key);
    expect((await asA.get(`/v1/workspaces/${a.body.id}`)).body).toMatchObject({ id: a.body.id, external_id: 'user_a' });
    const other = await asA.get(`/v1/workspaces/${b.body.id}`);
    expect([other.status, other.body.code]).toEqual([404, 'not_found']);
    expect((await asA.get('/v1/workspaces?external_id=user_b')).status).toBe(403);
    const before = await snapshot();
    const patch = await stack.api(a.body.api_key).put(`/v1/workspaces/${a.body.id}`, { metadata: { x: 'y' } });
    expect(patch.status).toBe(404); // no PUT route
    const viaPatch = await fetch(`${stack.baseUrl}/v1/workspaces/${a.body.id}`, {
      method: 'PATCH', headers: { authorization: `Bearer ${a.body.api_key}`, 'content-type': 'application/json' }, body: JSON.stringify({ metadata: { x: 'y' } }),
    });
    expect(viaPatch.status).toBe(403);
    expect(await snapshot()).toEqual(before);
    expect((await operator().get('/v1/workspaces/ws_unknown')).status).toBe(404);
  });

  async function patch(id: string, body: unknown) {
    const response = await fetch(`${stack.baseUrl}/v1/workspaces/${id}`, {
      method: 'PATCH', headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: response.status, contentType: response.headers.get('content-type'), body: await response.json() };
  }

  it('PATCH sets and clears external_id and merges metadata (a string sets, null or "" removes)', async () => {
    const ws = await operator().post('/v1/workspaces', { name: 'Patchy', metadata: { keep: '1', drop: '2', empty: '3' } });
    const updated = await patch(ws.body.id, { external_id: 'user_patchy', metadata: { drop: null, empty: '', added: 'yes', keep: '1b' } });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ name: 'Patchy', external_id: 'user_patchy', metadata: { keep: '1b', added: 'yes' } });
    expect(Object.keys(updated.body.metadata).sort()).toEqual(['added', 'keep']);
    // Another workspace cannot take it (409, nothing changed) until it is cleared.
    const other = await operator().post('/v1/workspaces', { name: 'Other' });
    const before = await snapshot();
    const taken = await patch(other.body.id, { external_id: 'user_patchy', metadata: { would: 'change' } });
    expect([taken.status, taken.body.code]).toEqual([409, 'external_id_taken']);
    expect(await snapshot()).toEqual(before);
    expect((await patch(ws.body.id, { external_id: null })).body.external_id).toBeNull();
    expect((await patch(other.body.id, { external_id: 'user_patchy' })).body.external_id).toBe('user_patchy');
    expect((await patch('ws_unknown', { metadata: {} })).status).toBe(404);
  });

  it('refuses metadata over the limits or of the wrong shape with 400 naming the field, changing nothing', async () => {
    const ws = await operator().post('/v1/workspaces', { name: 'Limits', metadata: Object.fromEntries(Array.from({ length: 49 }, (_, i) => [`k${i}`, 'v'])) });
    expect(Object.keys(ws.body.metadata)).toHaveLength(49);
    const fiftyOne = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, 'v']));
    const bad: [string, unknown][] = [
      ['metadata', { metadata: fiftyOne }],
      ['metadata', { metadata: { ['k'.repeat(41)]: 'v' } }],
      ['metadata', { metadata: { long: 'v'.repeat(501) } }],
      ['metadata', { metadata: { nested: { a: 'b' } } }],
      ['metadata', { metadata: { n: 1 } }],
      ['metadata', { metadata: ['a'] }],
      ['external_id', { external_id: '' }],
      ['external_id', { external_id: 'x'.repeat(256) }],
      ['external_id', { external_id: 'tab\there' }],
      ['body', { surprise: 1 }],
    ];
    const before = await snapshot();
    for (const [field, body] of bad) {
      const created = await operator().post('/v1/workspaces', { name: 'Bad', ...(body as object) });
      expect([created.status, created.body.code], JSON.stringify(body).slice(0, 80)).toEqual([400, 'invalid_request']);
      expect(fields(created.body).join(' '), JSON.stringify(body).slice(0, 80)).toContain(field);
      const patched = await patch(ws.body.id, body);
      expect([patched.status, patched.contentType, patched.body.code], JSON.stringify(body).slice(0, 80)).toEqual([400, 'application/problem+json', 'invalid_request']);
      expect(fields(patched.body).join(' ')).toContain(field);
    }
    // Within limits on its own, over them once merged: 49 + 2 new keys is 51.
    const merged = await patch(ws.body.id, { metadata: { extra1: 'a', extra2: 'b' } });
    expect([merged.status, fields(merged.body)]).toEqual([400, ['metadata']]);
    expect((await patch(ws.body.id, '{not json')).status).toBe(400);
    expect(await snapshot()).toEqual(before);
    // Exactly 50 is fine.
    expect(Object.keys((await patch(ws.body.id, { metadata: { extra1: 'a' } })).body.metadata)).toHaveLength(50);
  });
});
