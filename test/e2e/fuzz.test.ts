import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expireStaleHolds } from '../../ledger/spend.js';
import { signStripePayload } from '../../payments/webhooks.js';
import { ADMIN_KEY, startStack, WEBHOOK_SECRET } from '../helpers/stack.js';
import { eventually } from '../helpers/temporal.js';

/**
 * Bad-input fuzzer over every route of /openapi.json (and the Stripe webhook endpoint, which the document
 * does not list): fast-check builds requests with wrong types, missing and extra fields, huge numbers
 * (1e308, -0, 2^63, literals no double holds), unicode (emoji, RTL, NUL, lone surrogates), long strings,
 * arrays where objects belong, non-JSON and non-UTF-8 bodies, odd path segments, query strings, keys and
 * Idempotency-Keys, plus a 2 MB body for every route that takes one. For every response: never a 5xx; a 4xx
 * is application/problem+json with its status and a code, and changes nothing (a checksum of every table
 * but the Idempotency-Key replay cache, taken before and after; background work is let to finish after
 * each 2xx before the next baseline). The one 4xx with a trace is a declined card (402 payment_declined, from
 * a plan change, a restart or a pack): once background work has settled, the failed payment attempt is on
 * record (its invoice, voided, the provider's event and the payment_failed notification) and nothing else
 * changed. FUZZ_SEED replays a run.
 */

type Schema = {
  type?: string | string[]; enum?: unknown[]; format?: string; properties?: Record<string, Schema>; required?: string[];
  minimum?: number; maximum?: number; exclusiveMinimum?: number; minLength?: number; maxLength?: number;
};
interface Parameter { name: string; in: 'path' | 'query'; required?: boolean; schema: Schema }
interface Operation { method: string; path: string; parameters: Parameter[]; body: Schema | null; security: boolean }

type Principal = 'workspace' | 'operator' | 'none' | 'unknown-key' | 'malformed';
type Body =
  | { kind: 'none' }
  | { kind: 'json'; value: unknown; contentType: string }
  | { kind: 'text'; text: string; contentType: string | null }
  | { kind: 'bytes'; bytes: number[]; contentType: string };
interface Request {
  method: string;
  path: string;
  query: Record<string, string>;
  principal: Principal;
  idempotencyKey: string | null;
  body: Body;
  /** Stripe-Signature for the webhook endpoint: signed with the real secret, garbage, or absent. */
  signature?: 'valid' | 'garbage' | 'none';
  /** Send the body as a stream (chunked, no Content-Length). */
  chunked?: boolean;
}

const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const RUNS_PER_OPERATION = Number(process.env.FUZZ_RUNS ?? 100);

// ---- Hostile values ----------------------------------------------------------------------------

const HOSTILE_STRINGS = [
  '', ' ', '\u0000', 'a\u0000b', '\ud800', 'x\udfffy', '🙂🚀👩‍👩‍👧', 'مرحبا بالعالم', '\u202egnp.exe', 'e\u0301', '\ufeff', '\r\n', '\t',
  'null', 'undefined', 'NaN', '-NaN', 'Infinity', '-0', '1e308', '9223372036854775808', '0x10', '1_000', ' 5 ',
  "'; DROP TABLE lots; --", '{{7*7}}', '${7*7}', '../../etc/passwd', '%00', '%zz', '<script>alert(1)</script>',
  'x'.repeat(65), 'x'.repeat(201), 'ü'.repeat(5_000), 'x'.repeat(100_000),
];
const HOSTILE_NUMBERS = [1e308, -1e308, -0, 0, -1, 0.5, 1.5, 2 ** 31, 2 ** 53 + 2, 2 ** 63, -(2 ** 63), 2 ** 64, Number.MIN_VALUE, Number.EPSILON];
/** Number literals JSON allows and a double cannot hold exactly (or at all). */
const NUMBER_LITERALS = ['1e400', '-1e400', '-0', '0.0', '1E2', '123456789012345678901234567890', '9223372036854775808', '1.0000000000000001', '4.9e-325'];

const hostileScalar = fc.oneof(
  fc.constantFrom(...HOSTILE_STRINGS),
  fc.constantFrom(...HOSTILE_NUMBERS),
  fc.constantFrom<unknown>(null, true, false, [], {}, [[]], [null], { a: { b: { c: [] } } }),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.string({ unit: 'grapheme', maxLength: 30 }),
  fc.integer(),
  fc.double({ noNaN: true }),
);
const hostile: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: hostileScalar },
  { weight: 1, arbitrary: fc.array(hostileScalar, { maxLength: 4 }) },
  { weight: 1, arbitrary: fc.dictionary(fc.string({ maxLength: 8 }), hostileScalar, { maxKeys: 3 }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
);

/** Header values fetch can send: printable Latin-1, no CR/LF/NUL. */
const headerSafe = (s: string) => [...s].filter((ch) => ch.charCodeAt(0) >= 0x20 && ch.charCodeAt(0) <= 0xff && ch !== '\x7f').join('');

/** Percent-encodes every byte of the UTF-8 form but unreserved characters (lone surrogates become U+FFFD). */
function encodeSegment(value: string): string {
  return [...Buffer.from(value, 'utf8')]
    .map((byte) => (/[A-Za-z0-9\-._~]/.test(String.fromCharCode(byte)) ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`))
    .join('');
}

describe('bad-input fuzzer over every route', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  let operations: Operation[];
  const ids = {
    clock: '', quotes: [] as string[], creations: [] as string[], models: [] as string[], apiKeys: [] as string[], ledger: [] as string[],
    invoices: [] as string[],
  };
  let workspaceKey = '';
  const stats = { requests: 0, byStatus: new Map<number, number>(), byCode: new Map<string, number>(), stateChangingSuccesses: 0 };

  beforeAll(async () => {
    stack = await startStack();
    const operator = stack.api(ADMIN_KEY);
    ids.clock = (await operator.post('/v1/test-clocks', { frozen_time: '2026-01-01T00:00:00Z' })).body.id;
    const ws = await operator.post('/v1/workspaces', { name: 'fuzz target', test_clock_id: ids.clock });
    workspaceKey = ws.body.api_key;
    const customer = stack.api(workspaceKey);
    expect((await customer.put('/v1/payment-method', { payment_method: 'pm_card_visa' })).status).toBe(200);
    expect((await customer.post('/v1/subscription', { plan: 'plus', interval: 'month' })).status).toBe(201);
    // Real ids for path and body fields, so requests also reach past the lookups.
    for (let i = 0; i < 3; i++) ids.quotes.push((await customer.post('/v1/credits/estimate', { model: 'imagen-3', count: 2 })).body.quote_id);
    const creation = await customer.post('/v1/creations', { quote_id: ids.quotes[0] });
    ids.creations.push(creation.body.id);
    ids.models.push((await customer.post('/v1/custom-models', { name: 'fuzz model' })).body.id);
    // A second key whose id the fuzzer may revoke (never the one it authenticates with).
    ids.apiKeys.push((await customer.post('/v1/api-keys')).body.id);
    ids.ledger.push(...(await customer.get('/v1/ledger')).body.data.map((e: { id: string }) => e.id));

    const doc = await (await fetch(`${stack.baseUrl}/openapi.json`)).json() as {
      paths: Record<string, Record<string, { parameters?: Parameter[]; requestBody?: { content?: Record<string, { schema: Schema }> }; security?: unknown[] }>>;
    };
    operations = Object.entries(doc.paths).flatMap(([path, item]) => Object.entries(item).map(([method, op]) => ({
      method: method.toUpperCase(), path, parameters: op.parameters ?? [],
      body: op.requestBody?.content?.['application/json']?.schema ?? null, security: (op.security ?? []).length > 0,
    })));
    // Not in the document (Stripe calls it), but a route all the same: Stripe-shaped events, signed or not.
    ids.invoices.push(...(await customer.get('/v1/invoices')).body.data.map((i: { id: string }) => i.id));
    operations.push({ method: 'POST', path: '/webhooks/stripe', parameters: [], security: false, body: { type: 'object', properties: {
      id: { type: 'string' }, object: { enum: ['event'] }, created: { type: 'integer' }, livemode: { type: 'boolean' }, data: { type: 'object' },
      type: { enum: ['invoice.paid', 'invoice.payment_failed', 'invoice.payment_action_required', 'customer.created'] },
    } } });
  });
  afterAll(async () => {
    console.log(`[fuzz] seed ${SEED} (FUZZ_SEED=${SEED} to replay): ${stats.requests} requests, statuses ${JSON.stringify(Object.fromEntries(stats.byStatus))}, `
      + `${stats.stateChangingSuccesses} successful state changes; payment and state refusals ${JSON.stringify(Object.fromEntries(stats.byCode))}`);
    await stack?.stop();
  });

  // ---- State: a checksum of everything a request could change, and a way to let background work finish --

  const TABLES = ['test_clocks', 'workspaces', 'api_keys', 'subscriptions', 'lots', 'ledger_entries', 'ledger_operations', 'invoices',
    'quotes', 'creations', 'hold_portions', 'notifications', 'custom_models', 'webhook_events', 'sandbox_outbox'];
  async function checksum(): Promise<Record<string, string>> {
    const parts = TABLES.map((table) => stack.sql`
      SELECT ${table} AS name, md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) AS sum FROM ${stack.sql(table)} t`);
    const rows = await Promise.all(parts);
    return Object.fromEntries(rows.map(([row]) => [row!.name as string, row!.sum as string]));
  }

  /** Each invoice's status and a checksum of its row, by id: which invoices a request added or changed. */
  async function invoiceRows(): Promise<Map<string, { status: string; sum: string }>> {
    const rows = await stack.sql<{ id: string; status: string; sum: string }[]>`SELECT id, status, md5(t::text) AS sum FROM invoices t`;
    return new Map(rows.map((row) => [row.id, { status: row.status, sum: row.sum }]));
  }

  /** Waits until clocks, webhooks and lapsed holds have caught up (as the worker's sweeper would). */
  async function settle(): Promise<void> {
    await expireStaleHolds(stack.sql, { limit: 10_000 });
    await eventually(async () => (await stack.sql<{ n: number }[]>`
      SELECT ((SELECT count(*) FROM webhook_events WHERE forwarded_at IS NULL)
            + (SELECT count(*) FROM sandbox_outbox WHERE delivered_at IS NULL)
            + (SELECT count(*) FROM subscriptions s JOIN workspaces w ON w.id = s.workspace_id JOIN test_clocks c ON c.id = w.test_clock_id
               WHERE s.clock_synced_to < c.frozen_time))::int AS n`)[0]!.n, (n) => n === 0, 60_000);
  }

  // ---- Requests --------------------------------------------------------------------------------------

  function validValue(schema: Schema, name: string, op?: 'webhook'): fc.Arbitrary<unknown> {
    if (schema.enum) return fc.constantFrom(...schema.enum);
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    const nullable = types.includes('null');
    let arb: fc.Arbitrary<unknown>;
    if (name === 'quote_id') arb = fc.constantFrom(...ids.quotes);
    else if (name === 'test_clock_id') arb = fc.constant(ids.clock);
    else if (name === 'data') {
      arb = fc.record({ object: fc.record({
        object: fc.constant('invoice'), status: fc.constantFrom('paid', 'open', null),
        metadata: fc.option(fc.record({
          invoice_id: fc.oneof(fc.constantFrom(...ids.invoices), hostile), workspace_id: fc.oneof(fc.string(), hostile),
          subscription_id: fc.oneof(fc.constant(''), hostile),
        })),
      }) });
    } else if (name === 'id' && op === 'webhook') arb = fc.string({ minLength: 1, maxLength: 30 }).map((id) => `evt_fuzz_${id}`);
    else if (name === 'webhook_url') arb = fc.constantFrom('http://127.0.0.1:9/alerts', 'https://127.0.0.1:9/hook?x=1');
    // Near the clock: a valid advance moves it by days, never by centuries.
    else if (schema.format === 'date-time') arb = fc.integer({ min: -5, max: 40 }).map((d) => new Date(Date.parse('2026-01-01T00:00:00Z') + d * 86_400_000).toISOString());
    else if (types.includes('integer')) arb = fc.integer({ min: schema.minimum ?? -5, max: schema.maximum ?? 1000 });
    else if (types.includes('number')) arb = fc.double({ min: schema.exclusiveMinimum ?? schema.minimum ?? -5, max: schema.maximum ?? 1000, noNaN: true });
    else if (types.includes('string')) arb = fc.string({ minLength: schema.minLength ?? 0, maxLength: Math.min(schema.maxLength ?? 30, 30) });
    else arb = fc.jsonValue({ maxDepth: 1 });
    return nullable ? fc.option(arb) : arb;
  }

  function bodyArb(op: Operation): fc.Arbitrary<Body> {
    const properties = Object.entries(op.body?.properties ?? {});
    const names = properties.map(([name]) => name).concat(['extra', '__proto__', 'constructor']);
    const fields = fc.tuple(...properties.map(([name, schema]) => fc.oneof(
      { weight: 1, arbitrary: fc.constant<[string, unknown] | null>(null) },
      { weight: 2, arbitrary: validValue(schema, name, op.path === '/webhooks/stripe' ? 'webhook' : undefined).map((v): [string, unknown] => [name, v]) },
      { weight: 2, arbitrary: hostile.map((v): [string, unknown] => [name, v]) },
    )));
    const object = fc.tuple(fields, fc.dictionary(fc.string({ unit: 'binary', maxLength: 12 }), hostile, { maxKeys: 2 }), fc.boolean())
      .map(([pairs, extra, withExtra]) => ({
        ...Object.fromEntries(pairs.filter((p): p is [string, unknown] => p !== null)),
        ...(withExtra ? extra : {}),
      }));
    const contentType = fc.constantFrom('application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON', 'application/json; charset=latin1');
    return fc.oneof(
      { weight: 6, arbitrary: fc.tuple(object, contentType).map(([value, ct]): Body => ({ kind: 'json', value, contentType: ct })) },
      { weight: 2, arbitrary: hostile.map((value): Body => ({ kind: 'json', value, contentType: 'application/json' })) },
      { weight: 1, arbitrary: fc.constant<Body>({ kind: 'none' }) },
      {
        weight: 2, arbitrary: fc.tuple(fc.constantFrom(...names), fc.constantFrom(...NUMBER_LITERALS))
          .map(([name, literal]): Body => ({ kind: 'text', text: `{"${name}": ${literal}}`, contentType: 'application/json' })),
      },
      {
        weight: 2, arbitrary: fc.tuple(
          fc.oneof(fc.string({ unit: 'binary', maxLength: 60 }), fc.constantFrom('{', '{"a":', '[1,2', 'null', 'NaN', '{"a":1}{"a":2}', '\ufeff{}', '{"a":"\\ud800"}', "{'a':1}", 'a=1&b=2')),
          fc.constantFrom<string | null>('application/json', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', null),
        ).map(([text, ct]): Body => ({ kind: 'text', text, contentType: ct })),
      },
      {
        weight: 1, arbitrary: fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 40 })
          .map((bytes): Body => ({ kind: 'bytes', bytes: [0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, ...bytes, 0x22, 0x7d], contentType: 'application/json' })),
      },
    );
  }

  function pathArb(op: Operation): fc.Arbitrary<string> {
    const params = op.parameters.filter((p) => p.in === 'path');
    const real = (name: string): string[] => {
      if (op.path.startsWith('/v1/test-clocks')) return [ids.clock];
      if (op.path.startsWith('/v1/creations')) return ids.creations;
      if (op.path.startsWith('/v1/custom-models')) return ids.models;
      if (op.path.startsWith('/v1/api-keys')) return ids.apiKeys;
      return [name];
    };
    return fc.tuple(...params.map((p) => fc.oneof(
      { weight: 2, arbitrary: fc.constantFrom(...real(p.name)).map(encodeSegment) },
      { weight: 3, arbitrary: hostileScalar.map((v) => encodeSegment(typeof v === 'string' ? v : JSON.stringify(v) ?? 'undefined')) },
      { weight: 1, arbitrary: fc.constantFrom('%', '%zz', '%00', '..', '.', '%2F', '%2e%2e', 'a%2Fb', '%C0%AE', '%FF%FE', '%ED%A0%80') },
    ))).map((values) => params.reduce((path, p, i) => path.replace(`{${p.name}}`, values[i]!), op.path));
  }

  function queryArb(op: Operation): fc.Arbitrary<Record<string, string>> {
    const names = op.parameters.filter((p) => p.in === 'query').map((p) => p.name);
    if (names.length === 0) return fc.constant({});
    const value = fc.oneof(
      hostileScalar.map((v) => (typeof v === 'string' ? v : JSON.stringify(v) ?? '')),
      fc.constantFrom('1', '100', '101', '0', '-1', '1e2', '2.5', ...ids.ledger, ...ids.creations),
    );
    return fc.dictionary(fc.constantFrom(...names, 'unknown', 'limit[]'), value, { maxKeys: 3 });
  }

  function requestArb(op: Operation): fc.Arbitrary<Request> {
    return fc.record({
      method: fc.constant(op.method),
      path: pathArb(op),
      query: queryArb(op),
      principal: fc.oneof(
        { weight: 5, arbitrary: fc.constant<Principal>('workspace') },
        { weight: 1, arbitrary: fc.constantFrom<Principal>('operator', 'none', 'unknown-key', 'malformed') },
        { weight: 1, arbitrary: fc.constant<Principal>('operator') },
      ),
      idempotencyKey: fc.option(fc.oneof(fc.string({ maxLength: 20 }), fc.constant('k'.repeat(300)), fc.string({ unit: 'binary-ascii', maxLength: 20 })).map(headerSafe), { freq: 4 }),
      body: op.method === 'GET' || op.method === 'DELETE' ? fc.constant<Body>({ kind: 'none' }) : bodyArb(op),
      signature: fc.constantFrom<'valid' | 'garbage' | 'none'>('valid', 'valid', 'garbage', 'none'),
    });
  }

  async function send(request: Request): Promise<{ status: number; contentType: string; text: string; urlLength: number }> {
    const headers: Record<string, string> = {};
    const key = { workspace: workspaceKey, operator: ADMIN_KEY, 'unknown-key': 'sk_ws_not_a_key_at_all', none: null, malformed: null }[request.principal];
    if (key) headers.authorization = `Bearer ${key}`;
    if (request.principal === 'malformed') headers.authorization = 'Basic Zm9vOmJhcg==';
    if (request.idempotencyKey !== null) headers['idempotency-key'] = request.idempotencyKey;
    let body: string | Buffer<ArrayBuffer> | undefined;
    const b = request.body;
    if (b.kind === 'json') body = JSON.stringify(b.value) ?? 'null';
    else if (b.kind === 'text') body = b.text;
    else if (b.kind === 'bytes') body = Buffer.from(b.bytes) as Buffer<ArrayBuffer>;
    if (b.kind !== 'none' && b.contentType) headers['content-type'] = b.contentType;
    if (request.path === '/webhooks/stripe' && body !== undefined) {
      const raw = typeof body === 'string' ? body : Buffer.from(body).toString('utf8');
      if (request.signature === 'valid') headers['stripe-signature'] = signStripePayload(raw, WEBHOOK_SECRET);
      if (request.signature === 'garbage') headers['stripe-signature'] = 't=1,v1=00';
    }
    const query = new URLSearchParams(request.query).toString();
    const url = `${stack.baseUrl}${request.path}${query ? `?${query}` : ''}`;
    const streamed = request.chunked && body !== undefined
      ? new Blob([body]).stream()
      : body;
    const response = await fetch(url, { method: request.method, headers, body: streamed, ...(request.chunked ? { duplex: 'half' } : {}) } as RequestInit);
    return { status: response.status, contentType: response.headers.get('content-type') ?? '', text: await response.text(), urlLength: url.length };
  }

  /** Sends one request and checks it: no 5xx; a 4xx is a problem document and changed nothing. */
  let dirty = true;
  async function check(request: Request): Promise<number> {
    if (dirty) await settle();
    const [before, invoicesBefore] = await Promise.all([checksum(), invoiceRows()]);
    const response = await send(request);
    stats.requests += 1;
    stats.byStatus.set(response.status, (stats.byStatus.get(response.status) ?? 0) + 1);
    const shown = JSON.stringify({ ...request, body: request.body.kind === 'json' ? { ...request.body, value: JSON.stringify(request.body.value)?.slice(0, 500) } : request.body }).slice(0, 2000);
    expect(response.status, `5xx for ${shown}: ${response.text.slice(0, 500)}`).toBeLessThan(500);
    if (response.status >= 400) {
      // Node's HTTP server itself refuses a request line over its 16 KiB header limit (431, no body):
      // the API never sees that request.
      const transportLimit = response.status === 431 && response.text === '' && response.urlLength > 16_000;
      let code = 'transport_limit';
      if (!transportLimit) {
        expect(response.contentType, `not a problem document for ${shown}`).toMatch(/^application\/problem\+json/);
        const problem = JSON.parse(response.text) as { status: number; code: string };
        expect([problem.status, typeof problem.code], shown).toEqual([response.status, 'string']);
        code = problem.code;
      }
      if (response.status === 402 || response.status === 409) stats.byCode.set(`${response.status} ${code}`, (stats.byCode.get(`${response.status} ${code}`) ?? 0) + 1);
      // A declined card is not bad input: the failed payment attempt is on record (its invoice, voided so
      // nothing payable is left, the provider's payment_failed event, stored by the webhook inbox, and the
      // payment_failed notification), and nothing else changes: no plan, no credits, no subscription change.
      // Those records are written in the background too, so they are compared once it has settled.
      const declined = response.status === 402 && code === 'payment_declined';
      if (declined) await settle();
      const after = await checksum();
      const changed = TABLES.filter((t) => before[t] !== after[t]);
      const allowed = declined ? ['invoices', 'sandbox_outbox', 'webhook_events', 'notifications'] : [];
      expect(changed.filter((t) => !allowed.includes(t)), `${response.status} ${code} changed ${changed.join(', ')} for ${shown}`).toEqual([]);
      if (declined) {
        const touched = [...await invoiceRows()].filter(([id, row]) => invoicesBefore.get(id)?.sum !== row.sum);
        expect(touched.filter(([, row]) => row.status !== 'void'), `402 payment_declined left a payable invoice for ${shown}`).toEqual([]);
      }
      // Settled above when declined; a refused request started nothing.
      dirty = false;
    } else {
      // A success may change state (and start background work): let it finish before the next baseline.
      stats.stateChangingSuccesses += 1;
      dirty = true;
    }
    return response.status;
  }

  it('never answers a 5xx, and a 4xx is a problem document that changes nothing', { timeout: 240_000 }, async () => {
    expect(operations.length).toBeGreaterThan(30);
    // Every operation is fuzzed even when an earlier one failed: the report lists each failing operation
    // with its first counterexample (no shrinking: requests change state).
    const failures: string[] = [];
    for (const [index, op] of operations.entries()) {
      const details = await fc.check(fc.asyncProperty(requestArb(op), async (request) => {
        await check(request);
      }), { seed: SEED + index, numRuns: RUNS_PER_OPERATION, endOnFailure: true });
      if (details.failed) {
        dirty = true;
        failures.push(`${op.method} ${op.path}: ${details.errorInstance instanceof Error ? details.errorInstance.message.split('\n')[0] : String(details.errorInstance)}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it('refuses a 2 MB body on every route that takes one with a 413, declared or streamed', { timeout: 120_000 }, async () => {
    const big = 'x'.repeat(2 * 1024 * 1024);
    const answers: string[] = [];
    for (const op of operations.filter((o) => o.method === 'POST' || o.method === 'PUT')) {
      const path = op.path.replace(/\{[^}]+\}/g, 'fuzz_missing');
      for (const [body, chunked] of [[{ padding: big }, false], [[big], false], [{ padding: big }, true]] as [unknown, boolean][]) {
        const status = await check({
          method: op.method, path, query: {}, principal: 'workspace', idempotencyKey: null, signature: 'valid', chunked,
          body: { kind: 'json', value: body, contentType: 'application/json' },
        });
        answers.push(`${op.method} ${op.path} ${Array.isArray(body) ? 'array' : 'object'}${chunked ? ' chunked' : ''} → ${status}`);
      }
    }
    // Every body over the limit is refused as such before anything reads it.
    expect(answers.filter((answer) => !answer.endsWith('→ 413'))).toEqual([]);
  });
});
