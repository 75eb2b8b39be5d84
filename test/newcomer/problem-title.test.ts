/**
 * Newcomer review (issue 14): a problem document's `title` should be the code's stable title, with the
 * occurrence-specific text in `detail` (RFC 9457 §3.1.3-3.1.4: "title ... SHOULD NOT change from occurrence to
 * occurrence"). The README promises "a stable `code` (and `status`, `title`, `type`)" and client/index.ts and the
 * quick tour name a `detail` field; today api/errors.ts `problem()` puts the message in `title` and sends no
 * `detail` (e.g. `"title":"this creation needs 12000 credits; 1787 are available"` where the catalogue says
 * "Insufficient credits").
 *
 * KNOWN BUG, pinned with `it.fails`: this file passes while the bug is there. When problem() is fixed it starts
 * failing: then change `it.fails` to `it` (the assertion is already the right one).
 * No I/O: an in-memory Hono app answers through problem().
 */
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { fromRefusal, problem } from '../../api/errors.js';
import { ERROR_CATALOGUE } from '../../api/error-catalogue.js';
import { Refusal } from '../../domain/refusals.js';

async function answer(refusal: Refusal): Promise<Record<string, unknown>> {
  const app = new Hono();
  app.get('/x', (c) => problem(c, fromRefusal(refusal)));
  const response = await app.request('http://localhost:3000/x');
  expect(response.headers.get('content-type')).toBe('application/problem+json');
  return (await response.json()) as Record<string, unknown>;
}

describe('problem documents (newcomer review)', () => {
  it('keep the refusal detail fields beside the standard ones (works today)', async () => {
    const body = await answer(new Refusal('insufficient_credits', 'this creation needs 12000 credits; 1787 are available', { required: 12000, available: 1787 }));
    expect(body).toMatchObject({ status: 402, code: 'insufficient_credits', required: 12000, available: 1787, type: 'http://localhost:3000/docs/errors#insufficient_credits' });
  });

  it.fails('KNOWN BUG: title is the catalogue title, the occurrence text is in detail', async () => {
    const body = await answer(new Refusal('insufficient_credits', 'this creation needs 12000 credits; 1787 are available', { required: 12000, available: 1787 }));
    const entry = ERROR_CATALOGUE.find((e) => e.code === 'insufficient_credits');
    expect(body.title).toBe(entry?.title);
    expect(body.detail).toBe('this creation needs 12000 credits; 1787 are available');
  });
});
