/**
 * Newcomer review (issue 14): a problem document's `title` should be the code's stable title, with the
 * occurrence-specific text in `detail` (RFC 9457 §3.1.3-3.1.4: "title ... SHOULD NOT change from occurrence to
 * occurrence"). It used to put the message in `title` and send no `detail`.
 *
 * Fixed: problem() takes `title` from the catalogue and puts the occurrence's message in `detail`.
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

  it('title is the catalogue title, the occurrence text is in detail', async () => {
    const body = await answer(new Refusal('insufficient_credits', 'this creation needs 12000 credits; 1787 are available', { required: 12000, available: 1787 }));
    const entry = ERROR_CATALOGUE.find((e) => e.code === 'insufficient_credits');
    expect(body.title).toBe(entry?.title);
    expect(body.detail).toBe('this creation needs 12000 credits; 1787 are available');
  });
});
