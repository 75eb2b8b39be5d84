import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, startStack } from '../helpers/stack.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The README's quick tour runs as written: examples/quick-tour.ts (the README prints it verbatim; test/unit/readme.test.ts
 * checks that) executed with `tsx` against the whole stack, as `npx tsx examples/quick-tour.ts` runs it beside
 * `npm start`. Asserts what it prints: Max monthly from 2026-01-01, the clock advanced to 03-05.
 */
describe('README quick tour', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => stack?.stop());

  it('prints two live lots of 400 (800 available), three paid invoices of 2900 cents, a 16-credit veo-2 creation charged, 784 after', async () => {
    const { stdout } = await promisify(execFile)(`${root}node_modules/.bin/tsx`, ['examples/quick-tour.ts'], {
      cwd: root, env: { ...process.env, CREDIT_ENGINE_URL: stack.baseUrl, ADMIN_API_KEY: ADMIN_KEY }, timeout: 90_000,
    });
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^workspace ws_\S+ on clock clock_\S+$/);
    expect(lines.slice(1)).toEqual([
      'subscription active: max until 2026-01-31T00:00:00.000Z',
      // The first lot (granted 01-01) expired on 03-02, the day the third was granted.
      'credits available: 800',
      '  lot monthly: 400 of 400, expires 2026-04-01T00:00:00.000Z',
      '  lot monthly: 400 of 400, expires 2026-05-01T00:00:00.000Z',
      'invoices: 3',
      '  2026-03-02T00:00:00.000Z subscription 2900 cents paid',
      '  2026-01-31T00:00:00.000Z subscription 2900 cents paid',
      '  2026-01-01T00:00:00.000Z subscription 2900 cents paid',
      expect.stringMatching(/^estimate: 16 credits \(quote \S+, valid until 2026-03-05T00:15:00\.000Z\)$/),
      expect.stringMatching(/^creation \S+ running, holding 16 credits$/),
      'creation succeeded: charged 16 credits',
      'credits available after: 784',
    ]);
  });
});
