import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLightApp } from '../security/light-app.js';

/**
 * `GET /` (a newcomer typing the bare URL used to get a 404): a small public JSON index, the name and version from
 * package.json and the paths to the reference, the error codes, the OpenAPI document, the plans, the pricing page
 * and readiness, each of which answers; listed in /openapi.json as a public operation. On the light app (no Temporal:
 * /readyz answers 503 there, which is still an answer).
 */
const packageJson = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { name: string; version: string };

describe('GET /', () => {
  let light: Awaited<ReturnType<typeof startLightApp>>;
  beforeAll(async () => {
    light = await startLightApp();
  });
  afterAll(async () => light?.stop());

  it('answers the name, the version and where to go, without a key; every link answers', async () => {
    const response = await fetch(`${light.baseUrl}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const index = await response.json() as { name: string; version: string; links: Record<string, string> };
    expect(index).toEqual({
      name: packageJson.name, version: packageJson.version,
      links: { docs: '/docs', errors: '/docs/errors', openapi: '/openapi.json', plans: '/v1/plans', pricing: '/pricing', readyz: '/readyz' },
    });
    const statuses = Object.fromEntries(await Promise.all(Object.entries(index.links)
      .map(async ([name, path]) => [name, (await fetch(light.baseUrl + path)).status] as const)));
    expect(statuses).toEqual({ docs: 200, errors: 200, openapi: 200, plans: 200, pricing: 200, readyz: 503 });
    // A key, even an unknown one, changes nothing: the index is public.
    expect((await fetch(`${light.baseUrl}/`, { headers: { authorization: 'Bearer sk_test_placeholder' } })).status).toBe(200);
  });

  it('is in the OpenAPI document: public, named, answering the ApiIndex schema', async () => {
    const doc = await (await fetch(`${light.baseUrl}/openapi.json`)).json() as {
      paths: Record<string, Record<string, { operationId?: string; security?: unknown[]; responses: Record<string, { content?: Record<string, { schema: { $ref?: string } }> }> }>>;
    };
    const index = doc.paths['/']?.get;
    expect(index).toMatchObject({ operationId: 'retrieveApiIndex', security: [] });
    expect(index!.responses['200']!.content!['application/json']!.schema.$ref).toBe('#/components/schemas/ApiIndex');
  });
});
