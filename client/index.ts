/**
 * The credit engine's typed client: openapi-fetch over the types openapi-typescript generates from the API's
 * OpenAPI document (client/schema.d.ts; regenerate with `npm run client:generate`). Nothing here is a
 * hand-written type of the API: paths, parameters, bodies and answers all come from the document.
 *
 *   const engine = createCreditEngineClient({ baseUrl: 'http://localhost:3000', apiKey: 'sk_ws_…' });
 *   const { data, error, response } = await engine.POST('/v1/credits/estimate', {
 *     body: { model: 'image', count: 1 }, ...idempotencyKey('estimate-1'),
 *   });
 *
 * Each call answers `{ data }` for a 2xx (the documented body) or `{ error }` otherwise (a problem+json
 * document: `code`, `detail`, …), always with the raw `response` (its `status`, its headers).
 */
import createClient, { type Client } from 'openapi-fetch';
import type { components, paths } from './schema.js';

export type { components, operations, paths } from './schema.js';
export { OPERATION_ROUTES, type OperationId, type OperationRoute } from './operations.js';

/** The named schemas of the API (`Schemas['Invoice']`, `Schemas['Balance']`, …). */
export type Schemas = components['schemas'];

/**
 * The media types the client reads: JSON answers and problem+json refusals. A list that can also answer CSV is
 * typed in its JSON form (ask for CSV with an `Accept: text/csv` header and `parseAs: 'text'`).
 */
export type ClientMedia = 'application/json' | 'application/problem+json';

/** The client createCreditEngineClient returns: openapi-fetch's, typed by `paths`. */
export type CreditEngineClient = Client<paths, ClientMedia>;

export interface CreditEngineClientOptions {
  /** The API's base URL, e.g. `http://localhost:3000` (no trailing /v1: paths carry it). */
  baseUrl: string;
  /** A workspace key (`sk_ws_…`) or an operator key: sent as `Authorization: Bearer <apiKey>`. */
  apiKey: string;
  /** Another fetch (a test double, a proxy, an instrumented one); globalThis.fetch otherwise. */
  fetch?: (request: Request) => Promise<Response>;
}

/**
 * A typed client of the API authenticated with one key. Calls are `client.GET(path, { params })`,
 * `client.POST(path, { body, params })`, `client.PUT`, `client.PATCH`, `client.DELETE`; the path is one of
 * the documented ones and `params.path` / `params.query` / `body` are checked against the document.
 */
export function createCreditEngineClient(options: CreditEngineClientOptions): CreditEngineClient {
  return createClient<paths, ClientMedia>({
    baseUrl: options.baseUrl,
    headers: { Authorization: `Bearer ${options.apiKey}` },
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
}

/**
 * A per-call option that sends `Idempotency-Key: <key>`: spread it into a call's options
 * (`client.POST('/v1/subscription', { body, ...idempotencyKey('subscribe-ws_1') })`). Retrying a POST with the
 * same key and body replays the first answer for 24 hours (with `Idempotent-Replayed: true`); the same key with
 * another body is a 422. Without a key, a fresh random one: keep it to retry with.
 */
export function idempotencyKey(key: string = newIdempotencyKey()): { headers: { 'Idempotency-Key': string } } {
  return { headers: { 'Idempotency-Key': key } };
}

/** A fresh random Idempotency-Key (a UUID v4). */
export function newIdempotencyKey(): string {
  return globalThis.crypto.randomUUID();
}
