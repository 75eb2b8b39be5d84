import { createMiddleware } from 'hono/factory';
import { ApiError, problem } from './errors.js';

/** Request bodies: the API's are a few hundred bytes; Stripe's events stay far below 1 MiB. */
export const MAX_BODY_BYTES = 64 * 1024;
export const MAX_WEBHOOK_BODY_BYTES = 1024 * 1024;
/** A body streamed without Content-Length is read (and thrown away) up to this much, so the client gets its 413. */
const MAX_DRAINED_BYTES = 16 * 1024 * 1024;

function tooLarge(maxBytes: number): ApiError {
  return new ApiError(413, 'payload_too_large', `the request body exceeds ${maxBytes} bytes`, [{ field: 'body', reason: `at most ${maxBytes} bytes` }]);
}

/**
 * Refuses bodies over `maxBytes` with a 413 problem before anything reads them. A declared
 * Content-Length is refused at once. A chunked body is counted while it arrives; past the limit the rest
 * is drained, not kept, so the client reads the 413 instead of a reset connection (hono's own bodyLimit
 * stops reading there, and Node then closes the socket under the sending client).
 */
export function bodyLimit(maxBytes: number) {
  return createMiddleware(async (c, next) => {
    // Only headers here: touching c.req.raw.body would make @hono/node-server build a full WHATWG Request
    // for every request (a third of a balance read's CPU), where it otherwise reads the body directly.
    if (c.req.method === 'GET' || c.req.method === 'HEAD' || c.req.method === 'OPTIONS') return next();
    const declared = c.req.header('content-length');
    const chunked = c.req.header('transfer-encoding') !== undefined;
    if (!chunked) {
      if (declared === undefined) return next(); // no body
      if (Number(declared) <= maxBytes) return next();
      // The body is never read, so this connection cannot carry another request: say so, or a keep-alive
      // client sends its next request into a socket that is closing.
      const refusal = problem(c, tooLarge(maxBytes));
      refusal.headers.set('connection', 'close');
      return refusal;
    }
    const body = c.req.raw.body;
    if (!body) return next();
    const reader = body.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size <= maxBytes) chunks.push(value);
      else if (size > MAX_DRAINED_BYTES) break; // a client that keeps sending gets its connection closed
    }
    if (size > maxBytes) return problem(c, tooLarge(maxBytes));
    c.req.raw = new Request(c.req.raw, { body: Buffer.concat(chunks) });
    return next();
  });
}
