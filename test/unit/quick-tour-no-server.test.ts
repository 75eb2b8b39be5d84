import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../dev/ports.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The README's quick tour run with nothing listening (a newcomer who skipped `npm start`): one line saying no API
 * answers at the URL and how to start one, exit status 1, no stack trace. (With a server it runs in
 * test/e2e/readme-quick-tour.test.ts.)
 */
describe('the quick tour without a server', () => {
  it('says in one line that no API answers and how to start it, and exits 1', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = execFile(`${root}node_modules/.bin/tsx`, ['examples/quick-tour.ts'], {
        cwd: root, env: { ...process.env, CREDIT_ENGINE_URL: url, ADMIN_API_KEY: 'unused-operator-key-0000' }, timeout: 60_000,
      }, (_error, out, err) => resolve({ code: child.exitCode, stdout: out, stderr: err }));
    });
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr.trim().split('\n')).toEqual([`No API answers at ${url}: start it with \`npm start\` (or set CREDIT_ENGINE_URL), then run the tour again.`]);
  });
});
