import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import postgres from 'postgres';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ZodError } from 'zod';
import { Refusal } from '../domain/refusals.js';
import { REFUSAL_STATUS } from './refusal-status.js';
import { catalogueTitle, problemTypeUri } from './error-catalogue.js';

declare module 'hono' {
  interface ContextVariableMap {
    /** PUBLIC_URL when it is configured: the base of every problem's `type` link (set by api/app.ts on each request). */
    problemTypeBase?: string;
  }
}

export interface FieldError {
  field: string;
  reason: string;
}

/**
 * Transport and validation errors (401, 403, 413, 422, 429, 503, bad input); business refusals are the
 * domain's `Refusal`. The edge turns both into application/problem+json.
 */
export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly errors?: FieldError[],
    /** Further fields of the problem body (a refusal's detail, e.g. `required` and `available`). */
    readonly detail: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** A refusal as a problem: its status from the one code → status table, its detail fields in the body. */
export function fromRefusal(refusal: Refusal): ApiError {
  return new ApiError(REFUSAL_STATUS[refusal.code], refusal.code, refusal.message, undefined, refusal.detail);
}

export function invalid(field: string, reason: string): ApiError {
  return new ApiError(400, 'invalid_request', `${field}: ${reason}`, [{ field, reason }]);
}

export function notFound(what: string): ApiError {
  return new ApiError(404, 'not_found', `${what} not found`);
}

/**
 * An ApiError as application/problem+json (RFC 9457). `type` is the code's entry in the error catalogue this API
 * serves (api/error-catalogue.ts, /docs/errors#<code>): under PUBLIC_URL when it is configured (behind a proxy the
 * request's own origin is the internal one), else on the origin the client addressed, so it resolves either way.
 */
export function problem(c: Context, error: ApiError): Response {
  const standard: Record<string, unknown> = {
    type: problemTypeUri(c.get('problemTypeBase') ?? new URL(c.req.url).origin, error.code),
    // RFC 9457: `title` is the same for every occurrence of a code (the catalogue's); `detail` says what happened here.
    title: catalogueTitle(error.code) ?? error.message,
    status: error.status,
    detail: error.message,
    code: error.code,
    ...(error.errors ? { errors: error.errors } : {}),
  };
  // Detail fields follow the standard ones and never replace them.
  const detail = Object.entries(error.detail).filter(([name]) => !(name in standard) && name !== 'errors');
  const body = { ...standard, ...Object.fromEntries(detail) };
  return c.body(JSON.stringify(body), error.status, { 'content-type': 'application/problem+json' });
}

const targetNames: Record<string, string> = { json: 'body', param: 'path', query: 'query', header: 'header' };

export function fromZod(error: ZodError, validationTarget: string): ApiError {
  const target = targetNames[validationTarget] ?? validationTarget;
  const errors = error.issues.map((issue) => ({
    field: issue.path.length > 0 ? issue.path.join('.') : target,
    reason: issue.message,
  }));
  return new ApiError(400, 'invalid_request', `invalid ${target}: ${errors.map((e) => `${e.field}: ${e.reason}`).join('; ')}`, errors);
}

/**
 * Postgres refuses to store or compare text it cannot encode — in practice U+0000 (NUL), which JSON, paths
 * and queries can carry: character_not_in_repertoire / invalid byte sequence, untranslatable_character.
 */
const UNSTORABLE_TEXT = new Set(['22021', '22P05']);

/** Maps whatever escaped a handler; anything unexpected is a logged 500 without internals. */
export function onError(error: Error, c: Context): Response {
  if (error instanceof ApiError) return problem(c, error);
  if (error instanceof Refusal) return problem(c, fromRefusal(error));
  if (error instanceof postgres.PostgresError && UNSTORABLE_TEXT.has(error.code)) {
    return problem(c, new ApiError(400, 'invalid_request', 'text must not contain NUL (U+0000) characters'));
  }
  if (error instanceof HTTPException) {
    const status = error.status as ContentfulStatusCode;
    return problem(c, new ApiError(status, status === 400 ? 'invalid_request' : 'http_error', error.message || 'bad request'));
  }
  // Temporal unreachable (gRPC UNAVAILABLE / deadline, or the client's ServiceError): retry later.
  const code = (error as { code?: number; cause?: { code?: number } }).code ?? (error as { cause?: { code?: number } }).cause?.code;
  if (error.name === 'ServiceError' || code === 14 || code === 4) {
    c.header('retry-after', '5');
    return problem(c, new ApiError(503, 'temporarily_unavailable', 'the workflow service is unavailable; retry shortly'));
  }
  console.error(error);
  return problem(c, new ApiError(500, 'internal_error', 'internal error'));
}
