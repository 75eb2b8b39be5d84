import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createCreditEngineClient, idempotencyKey, OPERATION_ROUTES } from '../../client/index.js';
import { GENERATE_COMMAND, generateClientFiles, HTTP_METHODS, operationRoutes } from '../../dev/client-generation.js';

/**
 * The typed client (client/) against the API it types: generated files current (the drift check CI runs as part
 * of npm test), and every documented operation reachable through the client.
 */
const root = fileURLToPath(new URL('../..', import.meta.url));
const snapshot = async () => JSON.parse(await readFile(`${root}client/openapi.json`, 'utf8')) as Record<string, unknown>;

describe('client/ drift', () => {
  it('client/ is what the routes generate now', async () => {
    const generated = await generateClientFiles();
    const stale: string[] = [];
    for (const [path, contents] of Object.entries(generated)) {
      if ((await readFile(root + path, 'utf8').catch(() => null)) !== contents) stale.push(path);
    }
    expect(stale, `client/ is out of date with the API's routes: run \`${GENERATE_COMMAND}\` and commit client/`).toEqual([]);
  });
});

describe('every documented operation is reachable through the typed client', () => {
  it('each (path, method) of client/openapi.json has an operationId, listed in OPERATION_ROUTES with that path and method', async () => {
    const doc = await snapshot();
    const documented = operationRoutes(doc);
    expect(documented.length).toBeGreaterThan(60);
    const paths = doc.paths as Record<string, Record<string, { operationId?: string }>>;
    const withoutId = Object.entries(paths).flatMap(([path, item]) => HTTP_METHODS
      .filter((method) => item[method] && !item[method]?.operationId).map((method) => `${method.toUpperCase()} ${path}`));
    expect(withoutId, 'operations without an operationId (api/operations.ts names them)').toEqual([]);
    const ids = documented.map(([id]) => id);
    expect(new Set(ids).size, 'operationIds are unique').toBe(ids.length);
    // The generated list (checked against the generated `paths` type by tsc) holds exactly these.
    expect(Object.entries(OPERATION_ROUTES).map(([id, route]) => [id, { ...route }])).toEqual(documented);
  });

  it('the client sends each operation to its method and path, with the key and an Idempotency-Key when asked', async () => {
    const sent: Request[] = [];
    const client = createCreditEngineClient({
      baseUrl: 'http://engine.test', apiKey: 'sk_test_placeholder',
      fetch: async (request) => {
        sent.push(request);
        return new Response('{}', { status: 200, headers: { 'content-type': 'application/json' } });
      },
    });
    for (const [id, { method, path }] of Object.entries(OPERATION_ROUTES)) {
      const names = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1] as string);
      const params = Object.fromEntries(names.map((name) => [name, `${name}_of_${id}`]));
      // Dynamic (method, path) pairs: the static check of each pair is tsc's, in client/operations.ts.
      const { response } = await (client.request as any)(method, path, { params: { path: params }, ...idempotencyKey(`key-${id}`) });
      expect(response.status).toBe(200);
      const request = sent.at(-1)!;
      const expectedPath = names.reduce((p, name) => p.replace(`{${name}}`, params[name]!), path);
      expect([request.method, new URL(request.url).pathname], id).toEqual([method.toUpperCase(), expectedPath]);
      expect(request.headers.get('authorization')).toBe('Bearer sk_test_placeholder');
      expect(request.headers.get('idempotency-key')).toBe(`key-${id}`);
    }
    expect(sent).toHaveLength(Object.keys(OPERATION_ROUTES).length);
  });
});
