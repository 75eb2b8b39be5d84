import { createConfig, lintFromString } from '@redocly/openapi-core';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../api/app.js';
import { ERROR_CATALOGUE } from '../../api/error-catalogue.js';
import { INTERVALS, PACKS, PLAN_IDS } from '../../domain/catalog.js';
import { createSql } from '../../ledger/db.js';
import { createSandboxProvider } from '../../payments/sandbox.js';

/**
 * /openapi.json as an SDK generator needs it (issue 14), read from the app without a database or Temporal
 * (postgres.js connects on its first query and serving the document runs none; the Temporal connection is lazy).
 */

type Json = Record<string, unknown>;
interface Operation { operationId?: string; summary?: string; tags?: string[]; parameters?: Json[]; requestBody?: Json; responses: Record<string, Json> }
interface Document { paths: Record<string, Record<string, Operation>>; components: Record<string, Record<string, Json>>; servers?: Json[]; tags?: Json[] }

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch'];
let doc: Document;
const sql = createSql('postgres://unused@127.0.0.1:1/unused', { max: 1 });
const connection = Connection.lazy({ address: '127.0.0.1:1' });

beforeAll(async () => {
  const payments = createSandboxProvider({ publicUrl: 'http://localhost:3000', sql });
  const app = createApp({
    sql, temporal: new Client({ connection }), taskQueue: 'unused', adminApiKey: 'unused-operator-key-0000',
    payments, webhookSecret: 'unused', sandbox: payments, publicUrl: 'http://localhost:3000',
  });
  const response = await app.request('/openapi.json');
  expect(response.status).toBe(200);
  doc = await response.json() as Document;
});
afterAll(async () => {
  await connection.close();
  await sql.end({ timeout: 0 });
});

function operations(): { key: string; method: string; path: string; op: Operation }[] {
  return Object.entries(doc.paths).flatMap(([path, item]) => Object.entries(item)
    .filter(([method]) => HTTP_METHODS.includes(method))
    .map(([method, op]) => ({ key: `${method.toUpperCase()} ${path}`, method, path, op })));
}

describe('the OpenAPI document', () => {
  it('names every operation: a unique camelCase operationId, a one-line summary and one declared tag', () => {
    const ops = operations();
    expect(ops.length).toBeGreaterThan(60);
    const declaredTags = new Set((doc.tags ?? []).map((tag) => tag.name));
    const unnamed = ops.filter(({ op }) => !op.operationId || !/^[a-z][a-zA-Z0-9]+$/.test(op.operationId)).map((o) => o.key);
    expect(unnamed).toEqual([]);
    const ids = ops.map(({ op }) => op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const { key, op } of ops) {
      expect(op.summary, key).toMatch(/^[^\n]{5,100}$/);
      expect(op.tags, key).toHaveLength(1);
      expect(declaredTags.has(op.tags![0]!), `${key}: tag ${op.tags![0]} is declared`).toBe(true);
    }
  });

  it('documents Idempotency-Key on every POST, Idempotent-Replayed on their successes, Retry-After on every 429 and 503', () => {
    expect(doc.components.parameters?.IdempotencyKey).toMatchObject({ name: 'Idempotency-Key', in: 'header' });
    for (const { key, method, op } of operations()) {
      const refs = (op.parameters ?? []).map((p) => p.$ref);
      if (method === 'post') {
        expect(refs, key).toContain('#/components/parameters/IdempotencyKey');
        for (const [status, response] of Object.entries(op.responses)) {
          if (status.startsWith('2')) expect(response.headers, `${key} ${status}`).toHaveProperty('Idempotent-Replayed');
        }
      } else {
        expect(refs, `${key}: only POSTs are idempotent by key (api/idempotency.ts)`).not.toContain('#/components/parameters/IdempotencyKey');
      }
      for (const status of ['429', '503']) {
        if (op.responses[status]) expect(op.responses[status].headers, `${key} ${status}`).toHaveProperty('Retry-After');
      }
      if (key !== 'GET /v1/plans' && key !== 'GET /') expect(op.responses['429'], `${key} is rate limited`).toBeDefined();
    }
  });

  it('names every request and response body: a $ref to a component schema, never an anonymous object', () => {
    const anonymous: string[] = [];
    for (const { key, op } of operations()) {
      const bodies = [
        ...Object.entries((op.requestBody?.content ?? {}) as Record<string, { schema?: Json }>).map(([type, media]) => [`request ${type}`, media.schema] as const),
        ...Object.entries(op.responses).flatMap(([status, response]) => Object.entries((response.content ?? {}) as Record<string, { schema?: Json }>)
          .map(([type, media]) => [`${status} ${type}`, media.schema] as const)),
      ];
      for (const [where, schema] of bodies) {
        // A CSV download is a string, not an object a generator would have to name.
        if (where.endsWith('text/csv') && schema?.type === 'string') continue;
        if (!schema || typeof schema.$ref !== 'string') anonymous.push(`${key} ${where}`);
      }
    }
    expect(anonymous).toEqual([]);
  });

  it('has no nullable component: a nullable use of a schema stays at the property (anyOf with null)', () => {
    const nullable = Object.entries(doc.components.schemas!).filter(([, schema]) => ([] as unknown[]).concat(schema.type).includes('null'));
    expect(nullable.map(([name]) => name)).toEqual([]);
  });

  it('pages every list alike: limit and starting_after in, {data, has_more, next_cursor} out', () => {
    const schemas = doc.components.schemas!;
    const resolve = (schema: Json | undefined) => (schema?.$ref ? schemas[String(schema.$ref).split('/').pop()!] : schema) as Json | undefined;
    const lists = operations().filter(({ op }) => {
      const body = resolve((op.responses['200']?.content as Record<string, { schema?: Json }> | undefined)?.['application/json']?.schema);
      return (body?.properties as Json | undefined)?.data !== undefined;
    });
    expect(lists.map((l) => l.op.operationId)).toEqual(expect.arrayContaining([
      'listInvoices', 'listApiKeys', 'listCustomModels', 'listCreations', 'listLedgerEntries', 'listNotifications', 'listWebhookDeliveries',
      'adminListWorkspaces', 'adminListAuditEvents', 'adminListOperatorKeys', 'listWorkspaces',
    ]));
    for (const { key, op } of lists) {
      const query = (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
      expect(query, key).toEqual(expect.arrayContaining(['limit', 'starting_after']));
      const limit = op.parameters!.find((p) => p.name === 'limit')!.schema as Json;
      expect(limit, `${key} limit`).toMatchObject({ minimum: 1, maximum: 100 });
      expect(limit.default, `${key} documents its default limit`).toBeTypeOf('number');
      const body = resolve((op.responses['200']!.content as Record<string, { schema: Json }>)['application/json']!.schema)!;
      expect(Object.keys(body.properties as Json), key).toEqual(expect.arrayContaining(['data', 'has_more', 'next_cursor']));
      // The old cursor name stays accepted where it existed, marked deprecated.
      const legacy = op.parameters!.find((p) => p.name === 'cursor');
      if (legacy) expect(legacy.deprecated ?? (legacy.schema as Json).deprecated, `${key} cursor`).toBe(true);
    }
  });

  it('writes every instant as date-time and takes enums from the domain', () => {
    const schemas = doc.components.schemas!;
    const loose: string[] = [];
    const walk = (schema: unknown, where: string) => {
      if (!schema || typeof schema !== 'object') return;
      const s = schema as Json;
      for (const [name, prop] of Object.entries((s.properties ?? {}) as Record<string, Json>)) {
        const types = ([] as unknown[]).concat(prop.type);
        const instantName = /(^at$|_at$|_time$|period_start$|period_end$)/.test(name);
        if (instantName && types.includes('string') && prop.format !== 'date-time') loose.push(`${where}.${name}`);
        walk(prop, `${where}.${name}`);
      }
      for (const key of ['items', 'anyOf', 'oneOf', 'allOf']) {
        for (const part of ([] as unknown[]).concat(s[key] ?? [])) walk(part, where);
      }
    };
    for (const [name, schema] of Object.entries(schemas)) walk(schema, name);
    expect(loose).toEqual([]);
    const props = (name: string) => (schemas[name]!.properties ?? {}) as Record<string, Json>;
    expect(props('SubscriptionCreateParams').plan!.enum).toEqual(PLAN_IDS);
    expect(props('SubscriptionCreateParams').interval!.enum).toEqual([...INTERVALS]);
    expect(props('PackPurchaseCreateParams').size!.enum).toEqual(PACKS.map((p) => p.credits));
    expect(props('Problem').code!.enum).toEqual(ERROR_CATALOGUE.map((e) => e.code));
  });

  /**
   * The whole document through Redocly's linter (@redocly/openapi-core, the engine of `redocly lint`, already the
   * bundler behind openapi-typescript) with its `recommended` rules: it checks what an SDK generator trips on (valid
   * 3.1 structure, resolvable $refs, unique operationIds, path parameters declared, security defined...), which a
   * hand-written walk would miss. Errors fail; warnings are allowed only as listed (why beside each).
   */
  it('passes Redocly\'s recommended lint rules', async () => {
    const config = await createConfig({ extends: ['recommended'] });
    const problems = await lintFromString({ source: JSON.stringify(doc), absoluteRef: 'openapi.json', config });
    const accepted = new Set([
      'info-license #/info', // a private API: no licence to name
      'operation-4xx-response #/paths/~1v1~1plans/get/responses', // the public catalogue takes no input, no key and no rate limit: no 4xx
      'operation-4xx-response #/paths/~1/get/responses', // the public index (GET /) likewise
    ]);
    const found = problems.map((p) => `${p.severity} ${p.ruleId} ${p.location[0]?.pointer ?? ''}: ${p.message}`);
    const unexpected = problems.filter((p) => p.severity === 'error' || !accepted.has(`${p.ruleId} ${p.location[0]?.pointer ?? ''}`));
    expect(unexpected.length, found.join('\n')).toBe(0);
  });

  it('has a server relative to its own origin, so the document is the same on every machine', () => {
    expect(doc.servers).toEqual([expect.objectContaining({ url: '/' })]);
    expect(JSON.stringify(doc)).not.toMatch(/localhost|127\.0\.0\.1/);
  });
});
