import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, apiClient, startStack } from '../helpers/stack.js';
import { eventually } from '../helpers/temporal.js';
import type { Sql } from '../../ledger/db.js';
import { deliverNotifications } from '../../worker/alerts.js';

/**
 * SPEC §8 contract test: walks /openapi.json and checks that every documented operation answers as
 * documented, for valid requests (made on real state built through the API) and for invalid ones.
 * For every request: the status is one of the operation's documented response codes, the content type
 * is the one documented for that code, and the JSON body validates against the documented schema
 * (`$ref`s resolved against `components.schemas`; undocumented properties count as a mismatch).
 * An operation in /openapi.json without a fixture here fails the test, and so does a fixture for an
 * operation the document lacks.
 */

// ---- The OpenAPI document, as far as this test reads it ----------------------------------------

type JsonSchema = Record<string, unknown>;
interface MediaType { schema?: JsonSchema }
interface ResponseObject { description?: string; content?: Record<string, MediaType> }
interface Parameter { name: string; in: 'path' | 'query' | 'header' | 'cookie'; required?: boolean; schema?: JsonSchema }
interface OperationObject {
  security?: Record<string, string[]>[];
  parameters?: Parameter[];
  requestBody?: { required?: boolean; content?: Record<string, MediaType> };
  responses: Record<string, ResponseObject>;
}
interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, OperationObject>>;
  components?: { schemas?: Record<string, JsonSchema> };
}
interface Operation { key: string; method: string; path: string; spec: OperationObject }

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'];

function operationsOf(doc: OpenApiDocument): Map<string, Operation> {
  const operations = new Map<string, Operation>();
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, spec] of Object.entries(item)) {
      if (!HTTP_METHODS.includes(method)) continue;
      const key = `${method.toUpperCase()} ${path}`;
      operations.set(key, { key, method: method.toUpperCase(), path, spec });
    }
  }
  return operations;
}

/** The documented response for a status: exact code first, then a range (`4XX`), then `default`. */
function documentedResponse(op: Operation, status: number): ResponseObject | undefined {
  const { responses } = op.spec;
  return responses[String(status)] ?? responses[`${String(status)[0]}XX`] ?? responses.default;
}

function describeResponses(op: Operation): string {
  return Object.entries(op.spec.responses)
    .map(([code, r]) => `${code}${r.content ? ` (${Object.keys(r.content).join(', ')})` : ' (no body)'}`).join(', ');
}

/**
 * A copy of a schema in which every object that lists its properties and says nothing about others
 * allows no others: a body carrying properties the document does not mention is a mismatch.
 */
/**
 * An `allOf` of object schemas (what zod-openapi writes for `.extend()` of a registered schema) as one object
 * schema, so closing it does not close each part against the others' properties.
 */
function mergedAllOf(schema: Record<string, unknown>, components: Record<string, unknown>): Record<string, unknown> {
  const members = (schema.allOf as Record<string, unknown>[]).map((m) => {
    const ref = typeof m.$ref === 'string' ? /^#\/components\/schemas\/(.+)$/.exec(m.$ref) : null;
    return ref ? (components.schemas as Record<string, Record<string, unknown>>)[ref[1]!]! : m;
  });
  if (!members.every((m) => m && typeof m === 'object' && 'properties' in m && !('allOf' in m))) return schema;
  const rest = { ...schema };
  delete rest.allOf;
  return {
    ...rest, type: 'object',
    properties: Object.assign({}, ...members.map((m) => m.properties)),
    required: [...new Set(members.flatMap((m) => (m.required as string[] | undefined) ?? []))],
  };
}

function closed(schema: unknown, components: Record<string, unknown> = {}): unknown {
  if (Array.isArray(schema)) return schema.map((s) => closed(s, components));
  if (!schema || typeof schema !== 'object') return schema;
  const source = 'allOf' in schema ? mergedAllOf(schema as Record<string, unknown>, components) : schema;
  const copy: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(source)) copy[k] = closed(v, components);
  if ('properties' in copy && !('additionalProperties' in copy) && !('unevaluatedProperties' in copy)) copy.additionalProperties = false;
  return copy;
}

function schemaChecker(doc: OpenApiDocument) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  ajv.addFormat('date-time', { type: 'string', validate: (s: string) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i.test(s) && !Number.isNaN(Date.parse(s)) });
  ajv.addFormat('uri', { type: 'string', validate: (s: string) => URL.canParse(s) });
  const cache = new Map<JsonSchema, ValidateFunction>();
  const components = closed(doc.components ?? {}, (doc.components ?? {}) as Record<string, unknown>);
  /** Errors of `value` against `schema` (`$ref`s into #/components resolve against the document), or []. */
  return (schema: JsonSchema, value: unknown, { closedObjects }: { closedObjects: boolean }): string[] => {
    let validate = closedObjects ? cache.get(schema) : undefined;
    if (!validate) {
      try {
        validate = ajv.compile(closedObjects ? { ...(closed(schema, (doc.components ?? {}) as Record<string, unknown>) as JsonSchema), components } : { ...schema, components: doc.components ?? {} });
      } catch (error) {
        return [`the documented schema does not compile: ${(error as Error).message}`];
      }
      if (closedObjects) cache.set(schema, validate);
    }
    if (validate(value)) return [];
    return (validate.errors ?? []).map((e) => {
      const extra = e.keyword === 'additionalProperties' ? ` (undocumented property "${String((e.params as { additionalProperty: string }).additionalProperty)}")` : '';
      return `${e.instancePath || '/'} ${e.message ?? e.keyword}${extra}`;
    });
  };
}

// ---- Requests --------------------------------------------------------------------------------

type Who = 'operator' | 'workspace' | 'anonymous' | 'unknown-key';
interface Req {
  /** "METHOD /path" as /openapi.json spells it. */
  op: string;
  params?: Record<string, string>;
  query?: Record<string, string | number>;
  /** JSON-encoded unless a string (sent as is, e.g. malformed JSON). */
  body?: unknown;
  /** Whose key; default: the workspace's for operations with `security`, none otherwise. */
  as?: Who;
  /** Further request headers (e.g. Idempotency-Key). */
  headers?: Record<string, string>;
}
interface Res { status: number; contentType: string | null; text: string; body: any }

/** An invalid request and what it must answer: 400 naming `fields`, 401, 404. */
interface InvalidCase { why: string; request: Omit<Req, 'op'>; status: number; code: string; fields?: string[] }

interface Ctx {
  clockId: string;
  workspaceKey: string;
  quoteIds: string[];
  creationIds: string[];
  customModelId: string;
  apiKeyId: string;
  workspaceId: string;
  packInvoiceId: string;
  operatorKeyId: string;
  baseUrl: string;
  /** The stack's database (the webhook-delivery fixtures run a delivery pass as the worker would). */
  sql?: Sql;
}

type Send = (req: Req, expectedStatus: number) => Promise<Res>;

interface Fixture {
  /** Makes the valid request(s) for the operation (with `send`), after the fixtures before it built the state. */
  valid: (ctx: Ctx, send: Send) => Promise<void>;
  /** Invalid requests. Operations with a body or parameters need a 400 naming fields; path ids need a 404. */
  invalid: (ctx: Ctx) => InvalidCase[];
}

const UNKNOWN_KEY = 'sk_ws_contract_test_unknown_key';
const T0 = '2026-01-01T00:00:00Z';
const T1 = '2026-01-02T00:00:00Z';
const bad = (why: string, request: Omit<Req, 'op'>, fields: string[]): InvalidCase => ({ why, request, status: 400, code: 'invalid_request', fields });
/** Every POST takes Idempotency-Key (api/idempotency.ts): over 255 characters it is a 400 naming it. */
const longIdempotencyKey = (request: Omit<Req, 'op'> = {}): InvalidCase =>
  bad('an Idempotency-Key over 255 characters', { ...request, headers: { 'idempotency-key': 'k'.repeat(256) } }, ['Idempotency-Key']);
const unknownId = (why: string, request: Omit<Req, 'op'>, code: string): InvalidCase => ({ why, request, status: 404, code });
const unknownKey = (request: Omit<Req, 'op'> = {}): InvalidCase => ({ why: 'an unknown bearer key', request: { ...request, as: 'unknown-key' }, status: 401, code: 'unauthorized' });

/** A sandbox dispute to close: a second workspace subscribes with `pm_card_createDispute` (paid, then disputed). */
async function disputedInvoiceOf(ctx: Ctx): Promise<string> {
  const operator = apiClient(ctx.baseUrl, ADMIN_KEY);
  const ws = await operator.post('/v1/workspaces', { name: 'Contract dispute', test_clock_id: ctx.clockId });
  const customer = apiClient(ctx.baseUrl, ws.body.api_key);
  expect((await customer.put('/v1/payment-method', { payment_method: 'pm_card_createDispute' })).status).toBe(200);
  expect((await customer.post('/v1/subscription', { plan: 'plus', interval: 'month' })).status).toBe(201);
  const invoices = await eventually(
    async () => (await customer.get<{ data: { dispute: { id: string } | null }[] }>('/v1/invoices')).body.data,
    (list) => list.some((i) => i.dispute !== null),
  );
  return invoices.find((i) => i.dispute !== null)!.dispute!.id;
}

/**
 * One fixture per documented operation, in the order the valid requests run: each builds on the
 * state the ones before it left (clock → workspace → card → Max monthly → quotes → creations → …),
 * reads come before the changes that would spoil them, and the subscription is canceled last.
 */
const fixtures: Record<string, Fixture> = {
  'GET /': {
    valid: async (_ctx, send) => {
      const index = await send({ op: 'GET /' }, 200);
      expect(index.body.links).toMatchObject({ openapi: '/openapi.json', plans: '/v1/plans' });
    },
    // Public and without input, like the catalogue: an unknown key is ignored.
    invalid: () => [{ why: 'an unknown bearer key on a public route (ignored)', request: { as: 'unknown-key' }, status: 200, code: '' }],
  },
  'GET /v1/plans': {
    valid: async (_ctx, send) => {
      const plans = await send({ op: 'GET /v1/plans' }, 200);
      expect(plans.body.plans.map((p: { id: string }) => p.id)).toContain('max');
    },
    // Public and without input: there is nothing to get wrong; an unknown key is ignored.
    invalid: () => [{ why: 'an unknown bearer key on a public route (ignored)', request: { as: 'unknown-key' }, status: 200, code: '' }],
  },
  'POST /v1/test-clocks': {
    valid: async (ctx, send) => {
      ctx.clockId = (await send({ op: 'POST /v1/test-clocks', as: 'operator', body: { frozen_time: T0 } }, 201)).body.id;
    },
    invalid: () => [
      bad('frozen_time of the wrong type', { as: 'operator', body: { frozen_time: 1767225600 } }, ['frozen_time']),
      bad('frozen_time missing', { as: 'operator', body: {} }, ['frozen_time']),
      { why: 'malformed JSON', request: { as: 'operator', body: '{"frozen_time": ' }, status: 400, code: 'invalid_request' },
    ],
  },
  'POST /v1/test-clocks/{id}/advance': {
    // Before any subscription is on the clock, so the clock is ready at once.
    valid: async (ctx, send) => {
      const clock = await send({ op: 'POST /v1/test-clocks/{id}/advance', as: 'operator', params: { id: ctx.clockId }, body: { frozen_time: T1 } }, 200);
      expect(clock.body.frozen_time).toMatch(/^2026-01-02T00:00:00/);
    },
    invalid: (ctx) => [
      bad('frozen_time not a date-time', { as: 'operator', params: { id: ctx.clockId }, body: { frozen_time: 'next tuesday' } }, ['frozen_time']),
      bad('frozen_time before the clock', { as: 'operator', params: { id: ctx.clockId }, body: { frozen_time: T0 } }, ['frozen_time']),
      unknownId('an unknown clock id', { as: 'operator', params: { id: 'clock_unknown' }, body: { frozen_time: '2027-01-01T00:00:00Z' } }, 'not_found'),
    ],
  },
  'GET /v1/test-clocks/{id}': {
    valid: async (ctx, send) => {
      expect((await send({ op: 'GET /v1/test-clocks/{id}', as: 'operator', params: { id: ctx.clockId } }, 200)).body.id).toBe(ctx.clockId);
    },
    invalid: () => [
      bad('an id longer than 64 characters', { as: 'operator', params: { id: 'c'.repeat(65) } }, ['id']),
      unknownId('an unknown clock id', { as: 'operator', params: { id: 'clock_unknown' } }, 'not_found'),
    ],
  },
  'POST /v1/workspaces': {
    valid: async (ctx, send) => {
      const created = (await send({ op: 'POST /v1/workspaces', as: 'operator', body: { name: 'Contract studio', test_clock_id: ctx.clockId } }, 201)).body;
      [ctx.workspaceKey, ctx.workspaceId] = [created.api_key, created.id];
    },
    invalid: () => [
      bad('name of the wrong type', { as: 'operator', body: { name: 42 } }, ['name']),
      bad('name missing', { as: 'operator', body: {} }, ['name']),
      bad('test_clock_id of the wrong type', { as: 'operator', body: { name: 'x', test_clock_id: 7 } }, ['test_clock_id']),
    ],
  },
  'PUT /v1/payment-method': {
    valid: async (_ctx, send) => {
      await send({ op: 'PUT /v1/payment-method', body: { payment_method: 'pm_card_visa' } }, 200);
    },
    invalid: () => [
      bad('payment_method of the wrong type', { body: { payment_method: 4242424242424242 } }, ['payment_method']),
      bad('payment_method missing', { body: {} }, ['payment_method']),
    ],
  },
  'POST /v1/subscription': {
    valid: async (_ctx, send) => {
      const subscription = await send({ op: 'POST /v1/subscription', body: { plan: 'max', interval: 'month' } }, 201);
      expect(subscription.body).toMatchObject({ status: 'active', plan: 'max', interval: 'month' });
    },
    invalid: () => [
      bad('interval missing', { body: { plan: 'max' } }, ['interval']),
      bad('plan of the wrong type', { body: { plan: 7, interval: 'month' } }, ['plan']),
    ],
  },
  'GET /v1/subscription': {
    valid: async (_ctx, send) => {
      expect((await send({ op: 'GET /v1/subscription' }, 200)).body.plan).toBe('max');
    },
    invalid: () => [],
  },
  'GET /v1/credits': {
    valid: async (_ctx, send) => {
      expect((await send({ op: 'GET /v1/credits' }, 200)).body.available).toBe(400);
    },
    invalid: () => [],
  },
  'POST /v1/credits/estimate': {
    valid: async (ctx, send) => {
      for (const body of [{ model: 'imagen-3', count: 2, resolution: 'standard' }, { model: 'veo-2', duration_s: 5 }]) {
        ctx.quoteIds.push((await send({ op: 'POST /v1/credits/estimate', body }, 201)).body.quote_id);
      }
    },
    invalid: () => [
      bad('count of the wrong type', { body: { model: 'imagen-3', count: 'two' } }, ['count']),
      bad('model missing', { body: { count: 1 } }, ['model']),
    ],
  },
  'POST /v1/creations': {
    valid: async (ctx, send) => {
      for (const quoteId of ctx.quoteIds) {
        ctx.creationIds.push((await send({ op: 'POST /v1/creations', body: { quote_id: quoteId } }, 201)).body.id);
      }
      // The same quote again: the creation it already started (documented 200).
      expect((await send({ op: 'POST /v1/creations', body: { quote_id: ctx.quoteIds[0] } }, 200)).body.id).toBe(ctx.creationIds[0]);
    },
    invalid: () => [
      bad('quote_id of the wrong type', { body: { quote_id: 12 } }, ['quote_id']),
      bad('quote_id missing', { body: {} }, ['quote_id']),
      unknownId('an unknown quote id', { body: { quote_id: 'quote_unknown' } }, 'quote_not_found'),
    ],
  },
  // SPEC §11: a running hold's expiry moves to now + extend_by_s (the clock stands still: exactly that).
  'POST /v1/creations/{id}/extend': {
    valid: async (ctx, send) => {
      const extended = await send({ op: 'POST /v1/creations/{id}/extend', params: { id: ctx.creationIds[0]! }, body: { extend_by_s: 7200 } }, 200);
      expect(extended.body).toMatchObject({ status: 'running', expires_at: '2026-01-02T02:00:00.000Z' });
    },
    invalid: (ctx) => [
      bad('extend_by_s of the wrong type', { params: { id: ctx.creationIds[0]! }, body: { extend_by_s: 'long' } }, ['extend_by_s']),
      bad('extend_by_s missing', { params: { id: ctx.creationIds[0]! }, body: {} }, ['extend_by_s']),
      unknownId('an unknown creation id', { params: { id: 'cre_unknown' }, body: { extend_by_s: 60 } }, 'creation_not_found'),
    ],
  },
  'POST /v1/creations/{id}/complete': {
    valid: async (ctx, send) => {
      const done = await send({ op: 'POST /v1/creations/{id}/complete', params: { id: ctx.creationIds[0]! }, body: { credits: 3 } }, 200);
      expect(done.body).toMatchObject({ status: 'succeeded', charged: 3 });
    },
    invalid: (ctx) => [
      bad('credits of the wrong type', { params: { id: ctx.creationIds[1]! }, body: { credits: 'all' } }, ['credits']),
      bad('credits missing', { params: { id: ctx.creationIds[1]! }, body: {} }, ['credits']),
      unknownId('an unknown creation id', { params: { id: 'cre_unknown' }, body: { credits: 1 } }, 'creation_not_found'),
    ],
  },
  'POST /v1/creations/{id}/fail': {
    valid: async (ctx, send) => {
      expect((await send({ op: 'POST /v1/creations/{id}/fail', params: { id: ctx.creationIds[1]! } }, 200)).body.status).toBe('failed');
    },
    invalid: () => [
      bad('an id longer than 64 characters', { params: { id: 'c'.repeat(65) } }, ['id']),
      unknownId('an unknown creation id', { params: { id: 'cre_unknown' } }, 'creation_not_found'),
    ],
  },
  'GET /v1/creations': {
    valid: async (_ctx, send) => {
      const page = await send({ op: 'GET /v1/creations', query: { limit: 1 } }, 200);
      expect(page.body.has_more).toBe(true);
      await send({ op: 'GET /v1/creations', query: { limit: 1, starting_after: page.body.next_cursor } }, 200);
    },
    invalid: () => [
      bad('limit below 1', { query: { limit: 0 } }, ['limit']),
      bad('limit not a number', { query: { limit: 'ten' } }, ['limit']),
      bad('an unknown cursor', { query: { starting_after: 'cre_unknown' } }, ['starting_after']),
    ],
  },
  'GET /v1/ledger': {
    valid: async (_ctx, send) => {
      const page = await send({ op: 'GET /v1/ledger', query: { limit: 2 } }, 200);
      expect(page.body.has_more).toBe(true);
      await send({ op: 'GET /v1/ledger', query: { limit: 100, starting_after: page.body.next_cursor } }, 200);
    },
    invalid: () => [
      bad('limit above 100', { query: { limit: 101 } }, ['limit']),
      bad('an unknown cursor', { query: { starting_after: 'led_unknown' } }, ['starting_after']),
    ],
  },
  'POST /v1/credit-packs': {
    valid: async (ctx, send) => {
      const purchase = await send({ op: 'POST /v1/credit-packs', body: { size: 100 } }, 201);
      expect(purchase.body.invoice).toMatchObject({ kind: 'pack', status: 'paid' });
      ctx.packInvoiceId = purchase.body.invoice.id;
    },
    invalid: () => [
      bad('size of the wrong type', { body: { size: '100' } }, ['size']),
      bad('size not a pack', { body: { size: 7 } }, ['size']),
    ],
  },
  'GET /v1/invoices': {
    valid: async (_ctx, send) => {
      expect((await send({ op: 'GET /v1/invoices' }, 200)).body.data.map((i: { kind: string }) => i.kind).sort()).toEqual(['pack', 'subscription']);
      const first = await send({ op: 'GET /v1/invoices', query: { limit: 1 } }, 200);
      expect(first.body).toMatchObject({ has_more: true, next_cursor: first.body.data[0].id });
      await send({ op: 'GET /v1/invoices', query: { limit: 1, starting_after: first.body.next_cursor } }, 200);
    },
    invalid: () => [
      bad('limit above 100', { query: { limit: 101 } }, ['limit']),
      bad('an unknown cursor', { query: { starting_after: 'in_unknown' } }, ['starting_after']),
    ],
  },
  'POST /v1/billing-portal': {
    valid: async (_ctx, send) => {
      await send({ op: 'POST /v1/billing-portal' }, 200);
    },
    invalid: () => [longIdempotencyKey()],
  },
  'POST /v1/payment-method/checkout': {
    // The test stack runs in sandbox mode, where the documented answer is 409.
    valid: async (_ctx, send) => {
      expect((await send({ op: 'POST /v1/payment-method/checkout' }, 409)).body.code).toBe('sandbox_mode');
    },
    invalid: () => [longIdempotencyKey()],
  },
  'POST /v1/api-keys': {
    valid: async (ctx, send) => {
      const created = await send({ op: 'POST /v1/api-keys' }, 201);
      expect(created.body.api_key).not.toBe(ctx.workspaceKey);
      ctx.apiKeyId = created.body.id;
    },
    invalid: () => [
      bad('daily_credit_limit of the wrong type', { body: { daily_credit_limit: 'ten' } }, ['daily_credit_limit']),
      bad('a name longer than 100 characters', { body: { name: 'n'.repeat(101) } }, ['name']),
    ],
  },
  // SPEC §11: names and daily budgets; null removes.
  'PATCH /v1/api-keys/{id}': {
    valid: async (ctx, send) => {
      const key = await send({ op: 'PATCH /v1/api-keys/{id}', params: { id: ctx.apiKeyId }, body: { name: 'Ana', daily_credit_limit: 50 } }, 200);
      expect(key.body).toMatchObject({ id: ctx.apiKeyId, name: 'Ana', daily_credit_limit: 50, used: 0 });
    },
    invalid: (ctx) => [
      bad('daily_credit_limit below 1', { params: { id: ctx.apiKeyId }, body: { daily_credit_limit: 0 } }, ['daily_credit_limit']),
      bad('an id longer than 64 characters', { params: { id: 'k'.repeat(65) }, body: {} }, ['id']),
      unknownId('an unknown key id', { params: { id: 'key_unknown' }, body: { name: 'x' } }, 'not_found'),
    ],
  },
  'GET /v1/api-keys': {
    valid: async (ctx, send) => {
      expect((await send({ op: 'GET /v1/api-keys' }, 200)).body.data.map((k: { id: string }) => k.id)).toContain(ctx.apiKeyId);
      expect((await send({ op: 'GET /v1/api-keys', query: { limit: 1 } }, 200)).body).toMatchObject({ has_more: true });
    },
    invalid: () => [
      bad('limit 0', { query: { limit: 0 } }, ['limit']),
      bad('an unknown cursor', { query: { starting_after: 'key_unknown' } }, ['starting_after']),
    ],
  },
  // Revokes the second key, never the one the workspace's requests use.
  'DELETE /v1/api-keys/{id}': {
    valid: async (ctx, send) => {
      expect((await send({ op: 'DELETE /v1/api-keys/{id}', params: { id: ctx.apiKeyId } }, 200)).body.revoked_at).toEqual(expect.any(String));
    },
    invalid: () => [
      bad('an id longer than 64 characters', { params: { id: 'k'.repeat(65) } }, ['id']),
      unknownId('an unknown key id', { params: { id: 'key_unknown' } }, 'not_found'),
    ],
  },
  'POST /v1/custom-models': {
    valid: async (ctx, send) => {
      ctx.customModelId = (await send({ op: 'POST /v1/custom-models', body: { name: 'Portraits' } }, 201)).body.id;
    },
    invalid: () => [
      bad('name of the wrong type', { body: { name: 3 } }, ['name']),
      bad('name missing', { body: {} }, ['name']),
    ],
  },
  'GET /v1/custom-models': {
    valid: async (ctx, send) => {
      expect((await send({ op: 'GET /v1/custom-models' }, 200)).body).toMatchObject({ data: [{ id: ctx.customModelId }], limit: 3, has_more: false, next_cursor: null });
    },
    invalid: () => [
      bad('limit above 100', { query: { limit: 101 } }, ['limit']),
      bad('an unknown cursor', { query: { starting_after: 'cm_unknown' } }, ['starting_after']),
    ],
  },
  'DELETE /v1/custom-models/{id}': {
    valid: async (ctx, send) => {
      expect((await send({ op: 'DELETE /v1/custom-models/{id}', params: { id: ctx.customModelId } }, 200)).body.active).toBe(false);
    },
    invalid: () => [
      bad('an id longer than 64 characters', { params: { id: 'm'.repeat(65) } }, ['id']),
      unknownId('an unknown model id', { params: { id: 'cm_unknown' } }, 'custom_model_not_found'),
    ],
  },
  'POST /v1/custom-models/{id}/activate': {
    valid: async (ctx, send) => {
      expect((await send({ op: 'POST /v1/custom-models/{id}/activate', params: { id: ctx.customModelId } }, 200)).body.active).toBe(true);
    },
    invalid: () => [
      bad('an id longer than 64 characters', { params: { id: 'm'.repeat(65) } }, ['id']),
      unknownId('an unknown model id', { params: { id: 'cm_unknown' } }, 'custom_model_not_found'),
    ],
  },
  'GET /v1/alerts': {
    valid: async (_ctx, send) => {
      await send({ op: 'GET /v1/alerts' }, 200);
    },
    invalid: () => [],
  },
  'PUT /v1/alerts': {
    valid: async (_ctx, send) => {
      expect((await send({ op: 'PUT /v1/alerts', body: { low_balance_threshold: 50 } }, 200)).body.low_balance_threshold).toBe(50);
    },
    invalid: () => [
      bad('low_balance_threshold of the wrong type', { body: { low_balance_threshold: 'low' } }, ['low_balance_threshold']),
      bad('webhook_url not a URL', { body: { webhook_url: 'not a url' } }, ['webhook_url']),
    ],
  },
  'GET /v1/auto-top-up': {
    valid: async (_ctx, send) => {
      expect((await send({ op: 'GET /v1/auto-top-up' }, 200)).body).toMatchObject({ configured: false, enabled: false, top_ups: [] });
    },
    invalid: () => [],
  },
  // Saved disabled: no top-up is bought during the fixtures that follow.
  'PUT /v1/auto-top-up': {
    valid: async (_ctx, send) => {
      const saved = await send({ op: 'PUT /v1/auto-top-up', body: { enabled: false, threshold: 10, pack: 100, monthly_limit_cents: 800 } }, 200);
      expect(saved.body).toMatchObject({ configured: true, enabled: false, threshold: 10, pack: 100, armed: true });
    },
    invalid: () => [
      bad('a monthly limit below one pack\'s price', { body: { enabled: true, threshold: 10, pack: 500, monthly_limit_cents: 800 } }, ['monthly_limit_cents']),
      bad('pack not a pack size', { body: { enabled: true, threshold: 10, pack: 7, monthly_limit_cents: 5000 } }, ['pack']),
      bad('threshold of the wrong type', { body: { enabled: true, threshold: 'low', pack: 100, monthly_limit_cents: 5000 } }, ['threshold']),
    ],
  },
  'GET /v1/notifications': {
    valid: async (_ctx, send) => {
      await send({ op: 'GET /v1/notifications', query: { limit: 5 } }, 200);
    },
    invalid: () => [
      bad('limit not a number', { query: { limit: 'five' } }, ['limit']),
      bad('an unknown cursor', { query: { starting_after: 'ntf_999999999' } }, ['starting_after']),
    ],
  },
  'GET /v1/webhook-events': {
    valid: async (_ctx, send) => {
      expect((await send({ op: 'GET /v1/webhook-events' }, 200)).body.enabled_events).toEqual([]);
    },
    invalid: () => [],
  },
  'PUT /v1/webhook-events': {
    // Every change from here on is an event (the delivery fixtures at the end send and retry them).
    valid: async (_ctx, send) => {
      expect((await send({ op: 'PUT /v1/webhook-events', body: { enabled_events: ['*'] } }, 200)).body.enabled_events).toEqual(['*']);
    },
    invalid: () => [
      bad('an unknown event type', { body: { enabled_events: ['invoice.created'] } }, ['enabled_events.0']),
      bad('enabled_events missing', { body: {} }, ['enabled_events']),
    ],
  },
  'GET /v1/usage': {
    valid: async (_ctx, send) => {
      const usage = await send({ op: 'GET /v1/usage', query: { group_by: 'model' } }, 200);
      expect(usage.body.reconciliation.closing_available - usage.body.reconciliation.opening_available).toBe(usage.body.reconciliation.net_change);
      await send({ op: 'GET /v1/usage', query: { from: '2026-01-01T00:00:00Z', to: '2026-01-03T00:00:00Z', group_by: 'api_key' } }, 200);
    },
    invalid: () => [
      bad('to before from', { query: { from: '2026-01-02T00:00:00Z', to: '2026-01-01T00:00:00Z' } }, ['to']),
      bad('a window over 400 days', { query: { from: '2025-01-01T00:00:00Z', to: '2026-03-01T00:00:00Z' } }, ['to']),
      bad('an unknown group_by', { query: { group_by: 'week' } }, ['group_by']),
      bad('from not an instant', { query: { from: 'yesterday' } }, ['from']),
    ],
  },
  'POST /v1/subscription/change': {
    valid: async (_ctx, send) => {
      expect((await send({ op: 'POST /v1/subscription/change', body: { plan: 'plus' } }, 200)).body.kind).toBe('downgrade');
    },
    invalid: () => [
      bad('plan of the wrong type', { body: { plan: 3 } }, ['plan']),
      bad('neither plan nor interval', { body: {} }, ['plan']),
      bad('an unknown interval', { body: { interval: 'week' } }, ['interval']),
    ],
  },
  'POST /v1/subscription/change/preview': {
    valid: async (_ctx, send) => {
      const preview = (await send({ op: 'POST /v1/subscription/change/preview', body: { plan: 'plus' } }, 200)).body;
      expect([preview.kind, preview.invoice]).toEqual(['downgrade', null]);
    },
    invalid: () => [
      bad('plan of the wrong type', { body: { plan: 3 } }, ['plan']),
      bad('neither plan nor interval', { body: {} }, ['plan']),
    ],
  },
  'GET /v1/invoices/upcoming': {
    valid: async (_ctx, send) => {
      // The downgrade to Plus scheduled above: the renewal is shown at Plus's price.
      expect((await send({ op: 'GET /v1/invoices/upcoming' }, 200)).body).toMatchObject({ reason: 'renewal', plan: 'plus', total_cents: 1200 });
    },
    invalid: () => [unknownKey()],
  },
  'DELETE /v1/subscription/scheduled-change': {
    valid: async (_ctx, send) => {
      expect((await send({ op: 'DELETE /v1/subscription/scheduled-change' }, 200)).body.scheduled_change).toBeNull();
    },
    invalid: () => [],
  },
  'POST /v1/subscription/pause': {
    valid: async (_ctx, send) => {
      expect((await send({ op: 'POST /v1/subscription/pause', body: { cycles: 1 } }, 200)).body.pause).toMatchObject({ cycles: 1 });
    },
    invalid: () => [
      bad('cycles of the wrong type', { body: { cycles: 'one' } }, ['cycles']),
      bad('cycles missing', { body: {} }, ['cycles']),
    ],
  },
  'POST /v1/subscription/resume': {
    valid: async (_ctx, send) => {
      expect((await send({ op: 'POST /v1/subscription/resume' }, 200)).body.pause).toBeNull();
    },
    invalid: () => [longIdempotencyKey()],
  },
  'POST /v1/subscription/cancel': {
    valid: async (_ctx, send) => {
      expect((await send({ op: 'POST /v1/subscription/cancel' }, 200)).body.cancel_at_period_end).toBe(true);
    },
    invalid: () => [longIdempotencyKey()],
  },
  // ---- Workspaces by the studio's id, billing sessions, one invoice (SPEC §10) ----
  'PATCH /v1/workspaces/{id}': {
    valid: async (ctx, send) => {
      const patched = await send({ op: 'PATCH /v1/workspaces/{id}', as: 'operator', params: { id: ctx.workspaceId }, body: { external_id: 'contract-user-1', metadata: { tier: 'gold' } } }, 200);
      expect(patched.body).toMatchObject({ external_id: 'contract-user-1', metadata: { tier: 'gold' } });
    },
    invalid: (ctx) => [
      bad('metadata value of the wrong type', { as: 'operator', params: { id: ctx.workspaceId }, body: { metadata: { tier: 3 } } }, ['metadata.tier']),
      unknownId('an unknown workspace', { as: 'operator', params: { id: 'ws_unknown' }, body: { metadata: { a: 'b' } } }, 'not_found'),
    ],
  },
  'GET /v1/workspaces': {
    valid: async (ctx, send) => {
      const found = await send({ op: 'GET /v1/workspaces', as: 'operator', query: { external_id: 'contract-user-1' } }, 200);
      expect(JSON.stringify(found.body)).toContain(ctx.workspaceId);
    },
    invalid: () => [bad('external_id missing', { as: 'operator' }, ['external_id'])],
  },
  'GET /v1/workspaces/{id}': {
    valid: async (ctx, send) => {
      expect((await send({ op: 'GET /v1/workspaces/{id}', as: 'operator', params: { id: ctx.workspaceId } }, 200)).body.id).toBe(ctx.workspaceId);
    },
    invalid: () => [bad('an id longer than 64 characters', { as: 'operator', params: { id: 'w'.repeat(65) } }, ['id']), unknownId('an unknown workspace', { as: 'operator', params: { id: 'ws_unknown' } }, 'not_found')],
  },
  'POST /v1/billing-sessions': {
    valid: async (_ctx, send) => {
      expect((await send({ op: 'POST /v1/billing-sessions', body: {} }, 201)).body.url).toContain('/billing');
    },
    invalid: () => [bad('return_url not a URL', { body: { return_url: 'not a url' } }, ['return_url'])],
  },
  'GET /v1/invoices/{id}': {
    valid: async (ctx, send) => {
      expect((await send({ op: 'GET /v1/invoices/{id}', params: { id: ctx.packInvoiceId } }, 200)).body).toMatchObject({ id: ctx.packInvoiceId, kind: 'pack' });
    },
    invalid: () => [bad('an id longer than 64 characters', { params: { id: 'i'.repeat(65) } }, ['id']), unknownId('an unknown invoice', { params: { id: 'in_unknown' } }, 'not_found')],
  },
  // ---- Operator views, adjustments, refunds, keys, audit (SPEC §10) ----
  'GET /v1/admin/workspaces': {
    valid: async (ctx, send) => {
      expect(JSON.stringify((await send({ op: 'GET /v1/admin/workspaces', as: 'operator', query: { q: 'Contract' } }, 200)).body)).toContain(ctx.workspaceId);
    },
    invalid: () => [bad('limit of the wrong type', { as: 'operator', query: { limit: 'many' } }, ['limit'])],
  },
  'GET /v1/admin/workspaces/{id}': {
    valid: async (ctx, send) => {
      expect((await send({ op: 'GET /v1/admin/workspaces/{id}', as: 'operator', params: { id: ctx.workspaceId } }, 200)).body).toHaveProperty('customer_balance_cents');
    },
    invalid: () => [bad('an id longer than 64 characters', { as: 'operator', params: { id: 'w'.repeat(65) } }, ['id']), unknownId('an unknown workspace', { as: 'operator', params: { id: 'ws_unknown' } }, 'not_found')],
  },
  'POST /v1/admin/workspaces/{id}/credit-adjustments': {
    valid: async (ctx, send) => {
      await send({ op: 'POST /v1/admin/workspaces/{id}/credit-adjustments', as: 'operator', params: { id: ctx.workspaceId }, body: { credits: 50, reason: 'goodwill' } }, 201);
    },
    invalid: (ctx) => [
      bad('credits of the wrong type', { as: 'operator', params: { id: ctx.workspaceId }, body: { credits: '50', reason: 'x' } }, ['credits']),
      bad('reason missing', { as: 'operator', params: { id: ctx.workspaceId }, body: { credits: 5 } }, ['reason']),
      unknownId('an unknown workspace', { as: 'operator', params: { id: 'ws_unknown' }, body: { credits: 5, reason: 'x' } }, 'not_found'),
    ],
  },
  'GET /v1/admin/workspaces/{id}/credits': {
    valid: async (ctx, send) => {
      expect((await send({ op: 'GET /v1/admin/workspaces/{id}/credits', as: 'operator', params: { id: ctx.workspaceId } }, 200)).body.lots.some((l: { source: string }) => l.source === 'adjustment')).toBe(true);
    },
    invalid: () => [bad('an id longer than 64 characters', { as: 'operator', params: { id: 'w'.repeat(65) } }, ['id']), unknownId('an unknown workspace', { as: 'operator', params: { id: 'ws_unknown' } }, 'not_found')],
  },
  'GET /v1/admin/workspaces/{id}/ledger': {
    valid: async (ctx, send) => {
      expect((await send({ op: 'GET /v1/admin/workspaces/{id}/ledger', as: 'operator', params: { id: ctx.workspaceId } }, 200)).body.data.some((e: { kind: string }) => e.kind === 'adjust')).toBe(true);
    },
    invalid: (ctx) => [
      bad('limit of the wrong type', { as: 'operator', params: { id: ctx.workspaceId }, query: { limit: 'all' } }, ['limit']),
      unknownId('an unknown workspace', { as: 'operator', params: { id: 'ws_unknown' } }, 'not_found'),
    ],
  },
  'GET /v1/admin/workspaces/{id}/ledger/export': {
    valid: async (ctx, send) => {
      expect((await send({ op: 'GET /v1/admin/workspaces/{id}/ledger/export', as: 'operator', params: { id: ctx.workspaceId } }, 200)).text).toContain('adjust');
    },
    invalid: () => [bad('an id longer than 64 characters', { as: 'operator', params: { id: 'w'.repeat(65) } }, ['id']), unknownId('an unknown workspace', { as: 'operator', params: { id: 'ws_unknown' } }, 'not_found')],
  },
  'GET /v1/admin/workspaces/{id}/invoices': {
    valid: async (ctx, send) => {
      expect((await send({ op: 'GET /v1/admin/workspaces/{id}/invoices', as: 'operator', params: { id: ctx.workspaceId } }, 200)).body.data.length).toBeGreaterThan(0);
    },
    invalid: () => [bad('an id longer than 64 characters', { as: 'operator', params: { id: 'w'.repeat(65) } }, ['id']), unknownId('an unknown workspace', { as: 'operator', params: { id: 'ws_unknown' } }, 'not_found')],
  },
  'GET /v1/admin/workspaces/{id}/creations': {
    valid: async (ctx, send) => {
      await send({ op: 'GET /v1/admin/workspaces/{id}/creations', as: 'operator', params: { id: ctx.workspaceId } }, 200);
    },
    invalid: (ctx) => [
      bad('limit of the wrong type', { as: 'operator', params: { id: ctx.workspaceId }, query: { limit: 'all' } }, ['limit']),
      unknownId('an unknown workspace', { as: 'operator', params: { id: 'ws_unknown' } }, 'not_found'),
    ],
  },
  'GET /v1/admin/workspaces/{id}/notifications': {
    valid: async (ctx, send) => {
      await send({ op: 'GET /v1/admin/workspaces/{id}/notifications', as: 'operator', params: { id: ctx.workspaceId } }, 200);
    },
    invalid: (ctx) => [
      bad('limit of the wrong type', { as: 'operator', params: { id: ctx.workspaceId }, query: { limit: 'all' } }, ['limit']),
      unknownId('an unknown workspace', { as: 'operator', params: { id: 'ws_unknown' } }, 'not_found'),
    ],
  },
  'POST /v1/admin/invoices/{id}/refund': {
    valid: async (ctx, send) => {
      expect((await send({ op: 'POST /v1/admin/invoices/{id}/refund', as: 'operator', params: { id: ctx.packInvoiceId }, body: { amount_cents: 100, reason: 'contract' } }, 201)).body)
        .toMatchObject({ invoice_id: ctx.packInvoiceId, amount_cents: 100 });
    },
    invalid: (ctx) => [
      bad('amount_cents of the wrong type', { as: 'operator', params: { id: ctx.packInvoiceId }, body: { amount_cents: '1', reason: 'x' } }, ['amount_cents']),
      bad('reason missing', { as: 'operator', params: { id: ctx.packInvoiceId }, body: {} }, ['reason']),
      unknownId('an unknown invoice', { as: 'operator', params: { id: 'in_unknown' }, body: { reason: 'x' } }, 'invoice_not_found'),
    ],
  },
  'POST /v1/admin/sandbox/disputes/{id}/close': {
    valid: async (ctx, send) => {
      const dispute = await disputedInvoiceOf(ctx);
      expect((await send({ op: 'POST /v1/admin/sandbox/disputes/{id}/close', as: 'operator', params: { id: dispute }, body: { outcome: 'won' } }, 200)).body).toBeTruthy();
    },
    invalid: () => [
      bad('outcome not won or lost', { as: 'operator', params: { id: 'dp_x' }, body: { outcome: 'maybe' } }, ['outcome']),
      unknownId('an unknown dispute', { as: 'operator', params: { id: 'dp_unknown' }, body: { outcome: 'won' } }, 'not_found'),
    ],
  },
  'POST /v1/admin/operator-keys': {
    valid: async (ctx, send) => {
      ctx.operatorKeyId = (await send({ op: 'POST /v1/admin/operator-keys', as: 'operator', body: { name: 'contract support' } }, 201)).body.id;
    },
    invalid: () => [bad('name missing', { as: 'operator', body: {} }, ['name'])],
  },
  'GET /v1/admin/operator-keys': {
    valid: async (ctx, send) => {
      expect(JSON.stringify((await send({ op: 'GET /v1/admin/operator-keys', as: 'operator' }, 200)).body)).toContain(ctx.operatorKeyId);
      const first = await send({ op: 'GET /v1/admin/operator-keys', as: 'operator', query: { limit: 1 } }, 200);
      expect(first.body).toMatchObject({ data: [{ id: 'opk_root' }], has_more: true, next_cursor: 'opk_root' });
    },
    invalid: () => [unknownKey(), bad('an unknown cursor', { as: 'operator', query: { starting_after: 'opk_unknown' } }, ['starting_after'])],
  },
  'DELETE /v1/admin/operator-keys/{id}': {
    valid: async (ctx, send) => {
      await send({ op: 'DELETE /v1/admin/operator-keys/{id}', as: 'operator', params: { id: ctx.operatorKeyId } }, 200);
    },
    invalid: () => [bad('an id longer than 64 characters', { as: 'operator', params: { id: 'k'.repeat(65) } }, ['id']), unknownId('an unknown key', { as: 'operator', params: { id: 'opk_unknown' } }, 'not_found')],
  },
  'GET /v1/admin/audit': {
    valid: async (ctx, send) => {
      expect(JSON.stringify((await send({ op: 'GET /v1/admin/audit', as: 'operator', query: { workspace_id: ctx.workspaceId } }, 200)).body)).toContain('credit-adjustments');
    },
    invalid: () => [bad('limit of the wrong type', { as: 'operator', query: { limit: 'all' } }, ['limit'])],
  },
  // ---- Acting on the customer's subscription (it is canceling at the period end here) ----
  'POST /v1/admin/workspaces/{id}/subscription/resume': {
    valid: async (ctx, send) => {
      expect((await send({ op: 'POST /v1/admin/workspaces/{id}/subscription/resume', as: 'operator', params: { id: ctx.workspaceId } }, 200)).body.cancel_at_period_end).toBe(false);
    },
    invalid: () => [bad('an id longer than 64 characters', { as: 'operator', params: { id: 'w'.repeat(65) } }, ['id']), unknownId('an unknown workspace', { as: 'operator', params: { id: 'ws_unknown' } }, 'not_found')],
  },
  'POST /v1/admin/workspaces/{id}/subscription/pause': {
    valid: async (ctx, send) => {
      expect((await send({ op: 'POST /v1/admin/workspaces/{id}/subscription/pause', as: 'operator', params: { id: ctx.workspaceId }, body: { cycles: 2 } }, 200)).body.pause).toMatchObject({ cycles: 2 });
    },
    invalid: (ctx) => [
      bad('cycles out of range', { as: 'operator', params: { id: ctx.workspaceId }, body: { cycles: 9 } }, ['cycles']),
      unknownId('an unknown workspace', { as: 'operator', params: { id: 'ws_unknown' }, body: { cycles: 1 } }, 'not_found'),
    ],
  },
  'POST /v1/admin/workspaces/{id}/subscription/retry-payment': {
    // Nothing is past due here: the documented refusal.
    valid: async (ctx, send) => {
      expect((await send({ op: 'POST /v1/admin/workspaces/{id}/subscription/retry-payment', as: 'operator', params: { id: ctx.workspaceId } }, 409)).body.code).toBe('nothing_to_retry');
    },
    invalid: () => [bad('an id longer than 64 characters', { as: 'operator', params: { id: 'w'.repeat(65) } }, ['id']), unknownId('an unknown workspace', { as: 'operator', params: { id: 'ws_unknown' } }, 'not_found')],
  },
  'POST /v1/admin/workspaces/{id}/subscription/cancel': {
    valid: async (ctx, send) => {
      expect((await send({ op: 'POST /v1/admin/workspaces/{id}/subscription/cancel', as: 'operator', params: { id: ctx.workspaceId }, body: { at_period_end: false } }, 200)).body.status).toBe('canceled');
    },
    invalid: (ctx) => [
      bad('at_period_end of the wrong type', { as: 'operator', params: { id: ctx.workspaceId }, body: { at_period_end: 'no' } }, ['at_period_end']),
      unknownId('an unknown workspace', { as: 'operator', params: { id: 'ws_unknown' }, body: {} }, 'not_found'),
    ],
  },
  'GET /v1/webhook-deliveries': {
    // The events of the fixtures since PUT /v1/webhook-events, sent by a delivery pass to a path of this API (a 404 there).
    valid: async (ctx, send) => {
      await ctx.sql!`UPDATE workspaces SET alert_webhook_url = ${`${ctx.baseUrl}/contract-webhook-sink`}, alert_webhook_secret = 'whsec_contract'
                     WHERE id = ${ctx.workspaceId}`;
      await deliverNotifications({ sql: ctx.sql!, fetchImpl: fetch });
      const page = (await send({ op: 'GET /v1/webhook-deliveries', query: { limit: 1 } }, 200)).body;
      expect(page.data[0]).toMatchObject({ id: expect.stringMatching(/^whd_/), attempt: 1, status_code: 404, event_status: 'pending' });
      expect(page.has_more).toBe(true);
      await send({ op: 'GET /v1/webhook-deliveries', query: { limit: 1, starting_after: page.next_cursor } }, 200);
    },
    invalid: () => [
      bad('limit not a number', { query: { limit: 'five' } }, ['limit']),
      bad('starting_after not a delivery of this workspace', { query: { starting_after: 'whd_999999999' } }, ['starting_after']),
    ],
  },
  'POST /v1/webhook-deliveries/{id}/retry': {
    valid: async (_ctx, send) => {
      const [last] = (await send({ op: 'GET /v1/webhook-deliveries', query: { limit: 1 } }, 200)).body.data;
      const retried = (await send({ op: 'POST /v1/webhook-deliveries/{id}/retry', params: { id: last.id } }, 200)).body;
      expect(retried).toMatchObject({ event_id: last.event_id, attempt: 2, trigger: 'manual' });
    },
    invalid: () => [
      bad('an id longer than 64 characters', { params: { id: 'w'.repeat(65) } }, ['id']),
      unknownId('an unknown delivery', { params: { id: 'whd_999999999' } }, 'not_found'),
    ],
  },
};

// ---- The test ----------------------------------------------------------------------------------

describe('OpenAPI contract: every documented operation answers as documented', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  let doc: OpenApiDocument;
  let operations: Map<string, Operation>;
  let check: ReturnType<typeof schemaChecker>;
  const ctx: Ctx = { clockId: '', workspaceKey: '', quoteIds: [], creationIds: [], customModelId: '', apiKeyId: '', workspaceId: '', packInvoiceId: '', operatorKeyId: '', baseUrl: '' };
  /** Per operation: whether a valid and an invalid request were made and answered as documented. */
  const exercised = new Map<string, { valid: boolean; invalid: boolean }>();

  beforeAll(async () => {
    stack = await startStack();
    ctx.baseUrl = stack.baseUrl;
    ctx.sql = stack.sql;
    const response = await fetch(`${stack.baseUrl}/openapi.json`);
    expect(response.status).toBe(200);
    doc = await response.json() as OpenApiDocument;
    operations = operationsOf(doc);
    check = schemaChecker(doc);
  });
  afterAll(async () => stack?.stop());

  function keyOf(who: Who): string | undefined {
    switch (who) {
      case 'operator': return ADMIN_KEY;
      case 'workspace':
        if (!ctx.workspaceKey) throw new Error('no workspace key yet: the fixtures run in order, POST /v1/workspaces first');
        return ctx.workspaceKey;
      case 'unknown-key': return UNKNOWN_KEY;
      case 'anonymous': return undefined;
    }
  }

  /** Makes the request and returns the answer with every way it departs from the document. */
  async function call(req: Req, kind: 'valid' | 'invalid'): Promise<{ res: Res; label: string; mismatches: string[] }> {
    const op = operations.get(req.op);
    if (!op) throw new Error(`${req.op} is not in /openapi.json`);
    const mismatches: string[] = [];
    const who = req.as ?? (op.spec.security?.length ? 'workspace' : 'anonymous');
    const path = op.path.replace(/\{(\w+)\}/g, (_, name: string) => {
      const value = req.params?.[name];
      if (value === undefined) throw new Error(`${req.op}: no value for path parameter ${name}`);
      return encodeURIComponent(value);
    });
    const query = req.query ? `?${new URLSearchParams(Object.entries(req.query).map(([k, v]) => [k, String(v)]))}` : '';
    const bodyText = req.body === undefined ? undefined : typeof req.body === 'string' ? req.body : JSON.stringify(req.body);
    const key = keyOf(who);
    const label = `${op.method} ${path}${query} as ${who}${bodyText === undefined ? '' : ` body ${bodyText}`}`;

    // A valid request must itself be what the document describes.
    if (kind === 'valid') {
      const bodySchema = op.spec.requestBody?.content?.['application/json']?.schema;
      if (op.spec.requestBody?.required && req.body === undefined) mismatches.push('the document requires a request body; the valid request has none');
      if (bodySchema && req.body !== undefined) {
        for (const error of check(bodySchema, req.body, { closedObjects: false })) mismatches.push(`the valid request body does not match the documented request schema: ${error}`);
      }
      for (const parameter of op.spec.parameters ?? []) {
        const given = parameter.in === 'path' ? req.params?.[parameter.name] : parameter.in === 'query' ? req.query?.[parameter.name] : undefined;
        if (parameter.required && given === undefined) mismatches.push(`documented required ${parameter.in} parameter ${parameter.name} missing`);
      }
      for (const name of Object.keys(req.query ?? {})) {
        if (!op.spec.parameters?.some((p) => p.in === 'query' && p.name === name)) mismatches.push(`query parameter ${name} is not documented`);
      }
    }

    const response = await fetch(stack.baseUrl + path + query, {
      method: op.method,
      headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(bodyText === undefined ? {} : { 'content-type': 'application/json' }), ...req.headers },
      body: bodyText,
    });
    const text = await response.text();
    const res: Res = { status: response.status, contentType: response.headers.get('content-type'), text, body: null };

    const documented = documentedResponse(op, res.status);
    if (!documented) {
      mismatches.push(`status ${res.status} is not documented (documented: ${describeResponses(op)})`);
    } else if (!documented.content || Object.keys(documented.content).length === 0) {
      if (text !== '') mismatches.push(`status ${res.status} is documented without a body, but one came (${res.contentType})`);
    } else {
      const mediaType = res.contentType?.split(';')[0]!.trim().toLowerCase() ?? '(none)';
      const media = documented.content[mediaType];
      if (!media) {
        mismatches.push(`content type ${mediaType} is not the documented ${Object.keys(documented.content).join(' or ')} for ${res.status}`);
      } else if (media.schema && mediaType.includes('json')) {
        try {
          res.body = JSON.parse(text);
        } catch {
          mismatches.push(`the body is not JSON: ${text.slice(0, 200)}`);
        }
        if (res.body !== null) {
          for (const error of check(media.schema, res.body, { closedObjects: true })) mismatches.push(`body does not match the documented schema for ${res.status}: ${error}`);
        }
      }
    }
    if (res.body === null && text && res.contentType?.includes('json')) {
      try {
        res.body = JSON.parse(text);
      } catch { /* reported above when the document expects JSON */ }
    }
    return { res, label, mismatches };
  }

  const report = (label: string, res: Res, op: Operation, lines: string[]) =>
    `${label}\n  → ${res.status} ${res.contentType ?? ''} ${res.text.slice(0, 400)}\n  documented: ${describeResponses(op)}\n  - ${lines.join('\n  - ')}`;

  it('has a fixture for every operation in /openapi.json and none for operations it lacks', () => {
    expect(doc.openapi).toMatch(/^3\.1\./);
    const documented = [...operations.keys()].sort();
    const covered = Object.keys(fixtures).sort();
    expect({ withoutFixture: documented.filter((k) => !covered.includes(k)), notInDocument: covered.filter((k) => !documented.includes(k)) })
      .toEqual({ withoutFixture: [], notInDocument: [] });
  });

  for (const [opKey, fixture] of Object.entries(fixtures)) {
    it(`${opKey}: valid and invalid requests answer as documented`, async () => {
      const op = operations.get(opKey);
      expect(op, `${opKey} is not in /openapi.json`).toBeDefined();
      const failures: string[] = [];
      const state = { valid: false, invalid: false };
      exercised.set(opKey, state);

      // Valid: a status other than the fixture's stops the fixture (what follows needs the state); a
      // fixture's own expectation failing is reported with the contract mismatches seen before it.
      let validCalls = 0;
      try {
        await fixture.valid(ctx, async (req, expectedStatus) => {
          const { res, label, mismatches } = await call(req, 'valid');
          if (res.status !== expectedStatus) mismatches.unshift(`expected ${expectedStatus} for this valid request`);
          if (mismatches.length > 0) failures.push(report(label, res, operations.get(req.op)!, mismatches));
          if (res.status !== expectedStatus) throw new Error('a valid request was refused');
          if (req.op === opKey) validCalls += 1;
          return res;
        });
      } catch (error) {
        throw new Error([(error as Error).message, ...failures].join('\n\n'), { cause: error });
      }
      if (validCalls === 0) failures.push(`${opKey}: the fixture made no valid request to it`);

      // Invalid: each must answer the documented refusal, with a problem naming the fields for a 400.
      const cases = fixture.invalid(ctx);
      if (op!.spec.security?.length) cases.push(unknownKey(placeholderRequest(op!)));
      const takesInput = Boolean(op!.spec.requestBody) || (op!.spec.parameters?.length ?? 0) > 0;
      if (takesInput && !cases.some((c) => c.status === 400 && c.fields?.length)) failures.push(`${opKey}: takes input but its fixture has no 400 case naming fields`);
      if (op!.spec.parameters?.some((p) => p.in === 'path') && !cases.some((c) => c.status === 404)) failures.push(`${opKey}: has a path id but its fixture has no unknown-id 404 case`);
      for (const invalidCase of cases) {
        const { res, label, mismatches } = await call({ ...invalidCase.request, op: opKey }, 'invalid');
        if (res.status !== invalidCase.status) mismatches.unshift(`${invalidCase.why}: expected ${invalidCase.status}`);
        if (invalidCase.code && res.body?.code !== invalidCase.code) mismatches.push(`${invalidCase.why}: expected code ${invalidCase.code}, got ${String(res.body?.code)}`);
        if (invalidCase.status >= 400 && !res.contentType?.startsWith('application/problem+json')) mismatches.push(`${invalidCase.why}: expected application/problem+json`);
        if (invalidCase.fields) {
          const named: unknown = Array.isArray(res.body?.errors) ? res.body.errors.map((e: { field: string }) => e.field) : undefined;
          const missing = invalidCase.fields.filter((f) => !Array.isArray(named) || !named.includes(f));
          if (missing.length > 0) mismatches.push(`${invalidCase.why}: errors should name ${missing.join(', ')} (errors: ${JSON.stringify(res.body?.errors)})`);
        }
        if (mismatches.length > 0) failures.push(report(label, res, op!, mismatches));
      }
      state.valid = validCalls > 0;
      state.invalid = cases.length > 0;
      expect(failures, failures.join('\n\n')).toEqual([]);
    });
  }

  it('made a valid and an invalid request to every documented operation', () => {
    const missed = [...operations.keys()].filter((k) => !exercised.get(k)?.valid || !exercised.get(k)?.invalid);
    expect(missed).toEqual([]);
  });
});

/** Any request shape the operation accepts (placeholder ids, an empty body): for the 401 check. */
function placeholderRequest(op: Operation): Omit<Req, 'op'> {
  const params = Object.fromEntries((op.spec.parameters ?? []).filter((p) => p.in === 'path').map((p) => [p.name, 'unknown']));
  return { ...(Object.keys(params).length ? { params } : {}), ...(op.spec.requestBody ? { body: {} } : {}) };
}
