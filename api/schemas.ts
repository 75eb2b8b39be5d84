import { z } from '@hono/zod-openapi';
import { ERROR_CATALOGUE, ERROR_DOCS_PATH } from './error-catalogue.js';

/** Shared response and field schemas, so the OpenAPI document and validation never drift apart. */
export const Instant = z.iso.datetime({ offset: true }).openapi({ example: '2026-01-01T00:00:00Z' });

// eslint-disable-next-line no-control-regex -- control characters are exactly what this class finds
const C0_CONTROL = /[\u0001-\u0008\u000b\u000c\u000e-\u001f]/;
/** In a `u` regex a surrogate pair is one code point, so only a surrogate without its pair is General_Category Cs. */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Why Postgres cannot store `text` as sent, or undefined: U+0000 (text and jsonb refuse it: 22021/22P05) and a lone
 * UTF-16 surrogate (it has no UTF-8 form; the driver would store U+FFFD in its place, silently). `singleLine` (names,
 * ids, keys, models, reasons) also refuses the C0 control characters other than tab, LF and CR. Refused at the edge
 * so a request never reaches the ledger with them (ledger/spend.ts normalises what reaches it anyway, as a backstop).
 */
export function unstorableTextReason(text: string, { singleLine }: { singleLine: boolean }): string | undefined {
  if (text.includes('\u0000')) return 'must not contain U+0000 (NUL)';
  if (LONE_SURROGATE.test(text)) return 'must not contain a lone UTF-16 surrogate (U+D800 to U+DFFF without its pair)';
  if (singleLine && C0_CONTROL.test(text)) return 'must not contain control characters (U+0001 to U+001F other than tab, LF and CR)';
  return undefined;
}

/** The zod refinement of unstorableTextReason: a 400 `invalid_request` naming the field (api/errors.ts fromZod) and why. */
export function refuseUnstorableText({ singleLine }: { singleLine: boolean }) {
  return (text: string, ctx: z.RefinementCtx) => {
    const reason = unstorableTextReason(text, { singleLine });
    if (reason) ctx.addIssue({ code: 'custom', message: reason });
  };
}

/**
 * Every text field of a request (JSON body, query, path) starts from one of these two, so text the database cannot
 * store is refused with the field's name before anything runs. TextLine: names, ids, keys, models, reasons, URLs.
 * FreeText: values a studio stores as it likes (metadata values): only NUL and lone surrogates refused.
 */
export const TextLine = z.string().superRefine(refuseUnstorableText({ singleLine: true }));
export const FreeText = z.string().superRefine(refuseUnstorableText({ singleLine: false }));

/** A record's keys as TextLine (a refinement of the record: zod reports a bad key without its reason), naming `<field>.<key>`. */
export function refuseUnstorableKeys(record: Record<string, unknown>, ctx: z.RefinementCtx): void {
  for (const key of Object.keys(record)) {
    const reason = unstorableTextReason(key, { singleLine: true });
    if (reason) ctx.addIssue({ code: 'custom', path: [key], message: `key ${reason}` });
  }
}

export const Problem = z
  .object({
    type: z.string().openapi({ format: 'uri', description: `The code's entry in the error catalogue: \`<PUBLIC_URL or the request's origin>${ERROR_DOCS_PATH}#<code>\`` }),
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
    starting_after: TextLine.min(1).max(64).optional()
      .openapi({ description: 'The `next_cursor` of the previous page: this page starts after that item' }),
  });
}

/** `cursor`, the name two operator lists used before `starting_after`: still accepted, deprecated; `starting_after` wins. */
export const legacyCursor = TextLine.min(1).max(64).optional()
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
