import { z } from '@hono/zod-openapi';
import { ERROR_CATALOGUE, ERROR_DOCS_PATH } from './error-catalogue.js';

/** Shared response and field schemas, so the OpenAPI document and validation never drift apart. */
export const Instant = z.iso.datetime({ offset: true }).openapi({ example: '2026-01-01T00:00:00Z' });

export const Problem = z
  .object({
    type: z.string().openapi({ format: 'uri', description: `The code's entry in the error catalogue: \`<origin>${ERROR_DOCS_PATH}#<code>\`` }),
    title: z.string().openapi({ description: 'The code\'s title from the catalogue: the same for every occurrence' }),
    status: z.number().int(),
    detail: z.string().openapi({ description: 'What happened in this occurrence, for people (programs read `code` and the detail fields)' }),
    code: z.enum(ERROR_CATALOGUE.map((entry) => entry.code) as [string, ...string[]])
      .openapi({ description: `What went wrong, stable for programs; every code with its status and meaning is in \`x-error-codes\` and at ${ERROR_DOCS_PATH}` }),
    errors: z.array(z.object({ field: z.string(), reason: z.string() })).optional(),
  })
  // A refusal adds its detail fields (e.g. `required` and `available` for insufficient_credits).
  .catchall(z.unknown())
  .openapi('Problem', { description: 'An application/problem+json document; a refusal adds its detail fields beside the standard ones.' });

export const problemResponses = {
  400: { description: 'Invalid input', content: { 'application/problem+json': { schema: Problem } } },
  401: { description: 'Missing or unknown API key', content: { 'application/problem+json': { schema: Problem } } },
  403: { description: 'The key may not use this route (operator vs workspace)', content: { 'application/problem+json': { schema: Problem } } },
  413: { description: 'Request body over 64 KiB', content: { 'application/problem+json': { schema: Problem } } },
  422: { description: 'Idempotency-Key reused with another request', content: { 'application/problem+json': { schema: Problem } } },
} as const;

export const bearer = [{ bearerAuth: [] }];
/** Operator routes (/v1/admin/*): an operator key (ADMIN_API_KEY or one from POST /v1/admin/operator-keys); a workspace key is a 403. */
export const operatorBearer = [{ operatorKey: [] }];

/** `content` of a JSON request body or response, for createRoute. */
export const json = <T extends z.ZodType>(schema: T) => ({ content: { 'application/json': { schema } } });

/** Items per page of a list: 1 to PAGE_LIMIT_MAX, PAGE_LIMIT_DEFAULT when absent. */
export const PAGE_LIMIT_MAX = 100;
export const PAGE_LIMIT_DEFAULT = 20;

/**
 * `limit` and `starting_after` of every list (Stripe's convention): a page starts after the item whose id is
 * `starting_after` (the previous page's `next_cursor`). `defaultLimit` keeps lists that used to answer everything
 * (invoices, API keys, custom models) answering the same first page to callers that send no limit.
 */
export function pageQuery(defaultLimit = PAGE_LIMIT_DEFAULT) {
  return z.object({
    limit: z.coerce.number().int().min(1).max(PAGE_LIMIT_MAX).default(defaultLimit)
      .openapi({ description: `Items per page, 1 to ${PAGE_LIMIT_MAX} (default ${defaultLimit})` }),
    starting_after: z.string().min(1).max(64).optional()
      .openapi({ description: 'The `next_cursor` of the previous page: this page starts after that item' }),
  });
}

/** `cursor`, the name two operator lists used before `starting_after`: still accepted, deprecated; `starting_after` wins. */
export const legacyCursor = z.string().min(1).max(64).optional()
  .openapi({ deprecated: true, description: 'Deprecated: the same as `starting_after`, which wins when both are sent' });

/** The envelope of every list: a page of `item`s, newest first unless said otherwise, and where the next one starts. */
export function listOf<T extends z.ZodType>(name: string, item: T) {
  return z.object(pageFields(item)).openapi(name);
}

/** The fields of a list envelope, for a list that adds its own (e.g. the custom models' plan limit). */
export function pageFields<T extends z.ZodType>(item: T) {
  return {
    data: z.array(item),
    has_more: z.boolean().openapi({ description: 'Whether another page follows' }),
    next_cursor: z.string().nullable().openapi({ description: 'The `starting_after` of the next page; null on the last page' }),
  };
}
