import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, startStack } from '../helpers/stack.js';

/**
 * Issue 16, finding 9: a test clock before year 100 was read back wrong (0099 → 1999) and year 0 was a 500.
 * Invariant: a clock's time is 1970-01-01T00:00:00Z … 9999-12-31T23:59:59.999Z; outside it, creating or
 * advancing a clock is a 400 naming frozen_time that changes nothing; inside it, the time reads back exactly.
 */
describe('test clock time range (finding 9)', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  const operator = () => stack.api(ADMIN_KEY);
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => stack?.stop());

  const outside = [
    '0000-01-01T00:00:00Z', '0000-01-01T00:00:00+00:00', '0001-01-01T00:00:00Z', '0099-12-31T00:00:00Z',
    '1969-12-31T23:59:59Z', '9999-12-31T23:00:00-05:00', // year 10000 in UTC
  ];

  it('refuses a time outside 1970…9999 with 400 naming frozen_time, creating no clock', async () => {
    const clocks = async () => (await stack.sql<{ count: number }[]>`SELECT count(*)::int AS count FROM test_clocks`)[0]!.count;
    const before = await clocks();
    for (const frozenTime of outside) {
      const refused = await operator().post('/v1/test-clocks', { frozen_time: frozenTime });
      expect([frozenTime, refused.status, refused.contentType]).toEqual([frozenTime, 400, expect.stringMatching(/^application\/problem\+json/)]);
      expect(refused.body.errors.map((e: { field: string }) => e.field)).toEqual(['frozen_time']);
    }
    expect(await clocks()).toBe(before);
  });

  it('keeps the edges of the range exactly, and refuses advancing a clock outside it without moving it', async () => {
    for (const edge of ['1970-01-01T00:00:00.000Z', '9999-12-31T23:59:59.999Z']) {
      const created = await operator().post('/v1/test-clocks', { frozen_time: edge });
      expect([created.status, created.body.frozen_time]).toEqual([201, edge]);
      expect((await operator().get(`/v1/test-clocks/${created.body.id}`)).body.frozen_time).toBe(edge);
    }
    const clock = (await operator().post('/v1/test-clocks', { frozen_time: '2026-01-01T00:00:00Z' })).body;
    for (const frozenTime of ['10000-01-01T00:00:00Z', '9999-12-31T23:00:00-05:00']) {
      const refused = await operator().post(`/v1/test-clocks/${clock.id}/advance`, { frozen_time: frozenTime });
      expect([refused.status, refused.body.errors?.[0]?.field]).toEqual([400, 'frozen_time']);
    }
    expect((await operator().get(`/v1/test-clocks/${clock.id}`)).body.frozen_time).toBe('2026-01-01T00:00:00.000Z');
  });
});
