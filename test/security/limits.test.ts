import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_CUSTOM_MODELS } from '../../ledger/custom-models-crud.js';
import { startLightApp } from './light-app.js';

/**
 * Issue 16, limits beyond the spend path: every /v1 route has a per-API-key token bucket (429 with
 * Retry-After beyond it; another key is not slowed), and a workspace holds at most MAX_CUSTOM_MODELS
 * custom models (409 custom_model_cap_reached), checked before the plan's limit on active ones.
 */
describe('limits beyond the spend path', () => {
  let light: Awaited<ReturnType<typeof startLightApp>>;
  beforeAll(async () => {
    light = await startLightApp({ rateLimit: { perSecond: 0.5, burst: 3 } });
  });
  afterAll(async () => light?.stop());

  it('a key beyond its bucket gets 429 rate_limited with Retry-After on any route; another key and /v1/plans are not affected', async () => {
    const ws = await light.workspace();
    const customer = light.api(ws.apiKey);
    const statuses = [];
    for (const path of ['/v1/credits', '/v1/alerts', '/v1/api-keys']) statuses.push((await customer.get(path)).status);
    expect(statuses).toEqual([200, 200, 200]);
    const response = await fetch(`${light.baseUrl}/v1/custom-models`, { headers: { authorization: `Bearer ${ws.apiKey}` } });
    expect(response.status).toBe(429);
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await response.json()).toMatchObject({ status: 429, code: 'rate_limited' });
    // Another workspace's key has its own bucket; the catalog needs no key and has none.
    const other = await light.workspace('other');
    expect((await light.api(other.apiKey).get('/v1/credits')).status).toBe(200);
    for (let i = 0; i < 5; i++) expect((await fetch(`${light.baseUrl}/v1/plans`)).status).toBe(200);
  });

  it(`a workspace holds at most ${MAX_CUSTOM_MODELS} custom models (active or not): the next is 409 custom_model_cap_reached`, async () => {
    const ws = await light.workspace('models');
    const insert = async (n: number) => {
      for (let i = 0; i < n; i++) {
        await light.sql`INSERT INTO custom_models (id, workspace_id, name, active, last_used_at, created_at)
                        VALUES (${`cm_cap_${ws.id}_${i}_${n}`}, ${ws.id}, ${`model ${i}`}, false, now(), now())`;
      }
    };
    const { createCustomModel } = await import('../../ledger/custom-models-crud.js');
    await insert(MAX_CUSTOM_MODELS - 1);
    // Below the cap, the plan's limit decides (no subscription: none may be active).
    await expect(createCustomModel(light.sql, ws.id, 'one more')).rejects.toMatchObject({ code: 'custom_model_limit' });
    await insert(1);
    await expect(createCustomModel(light.sql, ws.id, 'one too many')).rejects.toMatchObject({ code: 'custom_model_cap_reached' });
    const refused = await light.api(ws.apiKey).post('/v1/custom-models', { name: 'through the API' });
    expect([refused.status, refused.body.code, refused.body.limit]).toEqual([409, 'custom_model_cap_reached', MAX_CUSTOM_MODELS]);
    const [row] = await light.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM custom_models WHERE workspace_id = ${ws.id}`;
    expect(row!.n).toBe(MAX_CUSTOM_MODELS);
  });
});
