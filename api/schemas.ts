import { z } from '@hono/zod-openapi';

/** Shared response and field schemas, so the OpenAPI document and validation never drift apart. */
export const Instant = z.iso.datetime({ offset: true }).openapi({ example: '2026-01-01T00:00:00Z' });

export const Problem = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    code: z.string(),
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
