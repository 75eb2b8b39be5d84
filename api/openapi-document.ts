import type { OpenAPIHono } from '@hono/zod-openapi';
import { ERROR_CATALOGUE, ERROR_DOCS_PATH } from './error-catalogue.js';
import { OPERATIONS, TAGS } from './operations.js';

type Json = Record<string, unknown>;
type Document = ReturnType<OpenAPIHono['getOpenAPI31Document']>;

/** Reusable header and parameter components, referenced from every operation they apply to. */
const IDEMPOTENCY_KEY = {
  name: 'Idempotency-Key', in: 'header', required: false,
  description: 'Makes a retry safe: the first answer to this key is replayed for 24 hours to retries of the same request '
    + '(same key, route and body), with `Idempotent-Replayed: true`; the same key with another request is a 422 '
    + '`idempotency_key_reused`; while the first request runs, a 409 `idempotency_key_in_use`. A 5xx is not remembered.',
  schema: { type: 'string', minLength: 1, maxLength: 255 },
};
const RETRY_AFTER = {
  description: 'Seconds to wait before retrying (RFC 9110 §10.2.3).',
  schema: { type: 'integer', minimum: 0 },
};
const IDEMPOTENT_REPLAYED = {
  description: '`true` when this is the stored answer to an earlier request with the same Idempotency-Key (nothing ran again).',
  schema: { type: 'string', enum: ['true'] },
};

const ref = (kind: string, name: string) => ({ $ref: `#/components/${kind}/${name}` });
const problemContent = { 'application/problem+json': { schema: ref('schemas', 'Problem') } };

/** Routes outside the per-key rate limit and the workflow service: the public catalogue. */
const UNMETERED = new Set(['GET /v1/plans']);

/**
 * The generated document made ready for SDK generators (issue 14): every operation named from api/operations.ts
 * (operationId, summary, tag), `Idempotency-Key` on every POST (the only method api/idempotency.ts remembers),
 * `Idempotent-Replayed` on their success answers, 429 and 503 with `Retry-After` on every metered route, 413 only where
 * a body is taken and 422 only on POSTs,
 * `servers`, the tag list and the error catalogue (`x-error-codes`). Pure: the same routes give the same document.
 */
export function finishDocument(doc: Document): Document {
  const paths = doc.paths ?? {};
  for (const [path, item] of Object.entries(paths)) {
    for (const [method, operation] of Object.entries(item as Record<string, Json>)) {
      const key = `${method.toUpperCase()} ${path}`;
      const name = OPERATIONS[key];
      if (name) Object.assign(operation, { operationId: name.operationId, summary: name.summary, tags: [name.tag] });
      const responses = operation.responses as Record<string, Json>;
      // Every route spreads problemResponses; keep only what this operation can answer: 413 needs a body to refuse,
      // 422 (`idempotency_key_reused`) an Idempotency-Key, which only POSTs take. 400 stays wherever input is validated.
      if (!operation.requestBody) delete responses['413'];
      if (method !== 'post') delete responses['422'];
      if (method === 'post' && path.startsWith('/v1/')) {
        const parameters = (operation.parameters as Json[] | undefined) ?? [];
        operation.parameters = [...parameters, ref('parameters', 'IdempotencyKey')];
        for (const [status, response] of Object.entries(responses)) {
          if (status.startsWith('2')) response.headers = { ...(response.headers as Json | undefined), 'Idempotent-Replayed': ref('headers', 'IdempotentReplayed') };
        }
      }
      if (path.startsWith('/v1/') && !UNMETERED.has(key)) {
        responses['429'] = { description: 'Rate limited (`rate_limited`): wait `Retry-After` seconds', ...responses['429'], content: problemContent };
        responses['503'] = { description: 'The workflow service is unreachable (`temporarily_unavailable`): retry after `Retry-After` seconds', ...responses['503'], content: problemContent };
        for (const status of ['429', '503']) {
          responses[status]!.headers = { ...(responses[status]!.headers as Json | undefined), 'Retry-After': ref('headers', 'RetryAfter') };
        }
      }
    }
  }
  const components = (doc.components ?? {}) as Json;
  return {
    ...doc,
    servers: [{ url: '/', description: 'The origin serving this document (PUBLIC_URL in production)' }],
    tags: TAGS,
    components: {
      ...components,
      parameters: { ...(components.parameters as Json | undefined), IdempotencyKey: IDEMPOTENCY_KEY },
      headers: { ...(components.headers as Json | undefined), RetryAfter: RETRY_AFTER, IdempotentReplayed: IDEMPOTENT_REPLAYED },
    },
    'x-error-codes': ERROR_CATALOGUE.map((entry) => ({ ...entry, docs: `${ERROR_DOCS_PATH}#${entry.code}` })),
  } as Document;
}

/** The document /openapi.json serves: OpenAPI 3.1 of every registered route, finished by finishDocument. */
export function openApiDocument(app: Pick<OpenAPIHono, 'getOpenAPI31Document'>): Document {
  return finishDocument(app.getOpenAPI31Document({
    openapi: '3.1.0',
    info: {
      title: 'Credit engine API', version: '1.0.0',
      description: 'Credit-based subscriptions for a generative studio. Every POST accepts an `Idempotency-Key` header: '
        + 'the first response is replayed for 24 hours to retries of the same request; the same key with another body is a 422. '
        + `Errors are application/problem+json; every \`code\` is listed in \`x-error-codes\` and at ${ERROR_DOCS_PATH}.`,
    },
  }));
}
