import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unstorableTextReason } from '../../api/schemas.js';
import { OPERATOR_KEY, startLightApp } from '../security/light-app.js';

/**
 * Text Postgres cannot store is refused at the edge (issue 15 follow-up): U+0000 and lone UTF-16 surrogates in any
 * text a request carries. Driven by /openapi.json, so a new route is covered without a change here: every operation,
 * every string it takes in its path, its query or its JSON body (nested objects, arrays, record values and record
 * keys) gets "\u0000" (a JSON body field also a lone "\ud800"), one field at a time. Each answer is the API's usual
 * 400 `invalid_request` naming that field, and nothing changed: every table is the same afterwards but the audit
 * log, which records every operator request, refused ones too (test/e2e/admin.test.ts).
 * A lone surrogate cannot travel in a URL (fetch sends U+FFFD for it), so paths and queries get only NUL.
 * The ledger's own backstop for what reaches it is tested directly (test/breaker/batch-poison-item.test.ts,
 * test/integration/batch-data-error.test.ts). Runs on the light app: validation answers before Temporal is needed.
 */

type Schema = {
  type?: string | string[]; $ref?: string; enum?: unknown[]; properties?: Record<string, Schema>;
  items?: Schema; additionalProperties?: Schema | boolean; anyOf?: Schema[]; oneOf?: Schema[];
};
interface Parameter { name: string; in: string; schema?: Schema }
interface OperationSpec { security?: Record<string, string[]>[]; parameters?: Parameter[]; requestBody?: { content?: Record<string, { schema?: Schema }> } }
interface Document { paths: Record<string, Record<string, OperationSpec>>; components: { schemas: Record<string, Schema> } }

/** Where a poisoned string goes, and the field the problem must name (a record key: any field under the record). */
interface Target { where: 'path' | 'query' | 'body'; field: string; fieldPrefix?: boolean; place(poison: string): { params?: Record<string, string>; query?: Record<string, string>; body?: unknown } }

const NUL = 'probe\u0000text';
const LONE_SURROGATE = 'probe\ud800text';

let light: Awaited<ReturnType<typeof startLightApp>>;
let doc: Document;
let workspaceKey: string;

beforeAll(async () => {
  light = await startLightApp();
  workspaceKey = (await light.workspace('unstorable text probe')).apiKey;
  doc = await (await fetch(`${light.baseUrl}/openapi.json`)).json() as Document;
});
afterAll(async () => light?.stop());

const resolve = (schema: Schema | undefined): Schema | undefined =>
  schema?.$ref ? doc.components.schemas[schema.$ref.split('/').pop()!] : schema;
const takesString = (schema: Schema | undefined): boolean => {
  const s = resolve(schema);
  if (!s) return false;
  return ([] as unknown[]).concat(s.type ?? []).includes('string') || [...(s.anyOf ?? []), ...(s.oneOf ?? [])].some(takesString);
};
/** The value at `path` (object keys; a number is an array index) inside otherwise empty objects. */
const nest = (path: (string | number)[], value: unknown): unknown => path.length === 0
  ? value
  : typeof path[0] === 'number' ? [nest(path.slice(1), value)] : { [path[0]!]: nest(path.slice(1), value) };

/** Every string a body schema takes, as targets. */
function bodyTargets(schema: Schema | undefined, path: (string | number)[] = []): Target[] {
  const s = resolve(schema);
  if (!s) return [];
  const field = path.join('.');
  if (takesString(s) && path.length > 0) return [{ where: 'body', field, place: (poison) => ({ body: nest(path, poison) }) }];
  const variants = [...(s.anyOf ?? []), ...(s.oneOf ?? [])].flatMap((part) => bodyTargets(part, path));
  const properties = Object.entries(s.properties ?? {}).flatMap(([name, prop]) => bodyTargets(prop, [...path, name]));
  const items = s.items ? bodyTargets(s.items, [...path, 0]) : [];
  const record = typeof s.additionalProperties === 'object' ? [
    ...bodyTargets(s.additionalProperties, [...path, 'probe_key']),
    { where: 'body' as const, field: `${field}.`, fieldPrefix: true, place: (poison: string) => ({ body: nest(path, { [poison]: 'value' }) }) },
  ] : [];
  return [...variants, ...properties, ...items, ...record];
}

function targetsOf(spec: OperationSpec): Target[] {
  const parameters = (spec.parameters ?? []).filter((p) => (p.in === 'path' || p.in === 'query') && takesString(p.schema));
  return [
    ...parameters.map((p): Target => ({
      where: p.in as 'path' | 'query', field: p.name,
      place: (poison) => (p.in === 'path' ? { params: { [p.name]: poison } } : { query: { [p.name]: poison } }),
    })),
    ...bodyTargets(spec.requestBody?.content?.['application/json']?.schema),
  ];
}

async function send(method: string, template: string, spec: OperationSpec, placed: ReturnType<Target['place']>) {
  const path = template.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(placed.params?.[name] ?? 'probe_id'));
  const query = placed.query ? `?${new URLSearchParams(placed.query)}` : '';
  const security = JSON.stringify(spec.security ?? []);
  const key = security.includes('operatorKey') ? OPERATOR_KEY : security.includes('bearerAuth') ? workspaceKey : undefined;
  const hasBody = Boolean(spec.requestBody);
  const response = await fetch(light.baseUrl + path + query, {
    method: method.toUpperCase(),
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(hasBody ? { 'content-type': 'application/json' } : {}) },
    body: hasBody ? JSON.stringify(placed.body ?? {}) : undefined,
  });
  const text = await response.text();
  return { status: response.status, contentType: response.headers.get('content-type') ?? '', body: text ? JSON.parse(text) : null, label: `${method.toUpperCase()} ${path}${query}` };
}

/** A checksum of every table but the audit log: what a refused request must leave as it was. */
async function everything(): Promise<Record<string, string>> {
  const tables = await light.sql<{ name: string }[]>`
    SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema() AND tablename <> 'audit_log' ORDER BY tablename`;
  const sums = await Promise.all(tables.map(({ name }) => light.sql<{ sum: string }[]>`
    SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) AS sum FROM ${light.sql(name)} t`));
  return Object.fromEntries(tables.map(({ name }, i) => [name, sums[i]![0]!.sum]));
}

describe('text the database cannot store', () => {
  it('is named by the reason the refinement gives, and what Postgres stores passes', () => {
    const line = { singleLine: true };
    expect(unstorableTextReason('a\u0000b', line)).toMatch(/U\+0000/);
    expect(unstorableTextReason('a\ud800b', line)).toMatch(/surrogate/);
    expect(unstorableTextReason('a\udfffb', { singleLine: false })).toMatch(/surrogate/);
    expect(unstorableTextReason('\ud83d\ude80 rocket', line)).toBeUndefined(); // a pair is one character
    expect(unstorableTextReason('bell\u0007', line)).toMatch(/control/);
    expect(unstorableTextReason('bell\u0007', { singleLine: false })).toBeUndefined();
    expect(unstorableTextReason('tab\tLF\nCR\r', line)).toBeUndefined();
    expect(unstorableTextReason('مرحبا e\u0301 \u202e\ufeff', line)).toBeUndefined();
  });

  it('is refused with a 400 naming the field, on every text field of every operation of the document, changing nothing', async () => {
    const before = await everything();
    const checked: string[] = [];
    const wrong: string[] = [];
    for (const [template, item] of Object.entries(doc.paths)) {
      for (const [method, spec] of Object.entries(item)) {
        for (const target of targetsOf(spec)) {
          for (const poison of target.where === 'body' ? [NUL, LONE_SURROGATE] : [NUL]) {
            const answer = await send(method, template, spec, target.place(poison));
            const fields: string[] = Array.isArray(answer.body?.errors) ? answer.body.errors.map((e: { field: string }) => e.field) : [];
            const named = fields.some((f) => (target.fieldPrefix ? f.startsWith(target.field) : f === target.field));
            checked.push(`${method} ${template} ${target.where}:${target.field}`);
            if (answer.status !== 400 || answer.body?.code !== 'invalid_request' || !answer.contentType.startsWith('application/problem+json') || !named) {
              wrong.push(`${answer.label} (${target.where} ${target.field} ← ${JSON.stringify(poison)}) → ${answer.status} ${JSON.stringify(answer.body)}`);
            }
          }
        }
      }
    }
    expect(wrong).toEqual([]);
    // The walk reached the fields that matter (a broken walk must not pass by checking nothing).
    expect(checked).toEqual(expect.arrayContaining([
      'post /v1/creations body:quote_id', 'post /v1/creations body:metadata.probe_key', 'post /v1/creations body:metadata.',
      'post /v1/creations/{id}/complete path:id', 'get /v1/creations query:external_id', 'post /v1/workspaces body:name',
      'patch /v1/workspaces/{id} body:metadata.probe_key', 'post /v1/admin/workspaces/{id}/credit-adjustments body:reason',
      'get /v1/admin/workspaces query:q', 'post /v1/api-keys body:name', 'put /v1/alerts body:webhook_url',
    ]));
    expect(new Set(checked).size).toBeGreaterThan(60);
    expect(await everything()).toEqual(before);
  });

  it('refuses an Idempotency-Key with a control character as the header check does (400 naming the header)', async () => {
    // fetch cannot send NUL, CR or LF in a header; other control characters reach the API (Node's parser refuses NUL itself).
    const response = await light.app.request('/v1/credits/estimate', {
      method: 'POST',
      headers: { authorization: `Bearer ${workspaceKey}`, 'content-type': 'application/json', 'idempotency-key': 'retry\u0007bell' },
      body: JSON.stringify({ model: 'imagen-3' }),
    });
    expect(response.status).toBe(400);
    const problem = await response.json() as { code: string; errors: { field: string; reason: string }[] };
    expect(problem.code).toBe('invalid_request');
    expect(problem.errors).toEqual([{ field: 'Idempotency-Key', reason: expect.stringMatching(/control/) }]);
    expect((await light.sql`SELECT 1 FROM idempotency_keys`).length).toBe(0);
    expect((await light.sql`SELECT 1 FROM quotes`).length).toBe(0);
  });
});
