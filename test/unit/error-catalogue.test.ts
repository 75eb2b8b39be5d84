import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../api/app.js';
import { ERROR_CATALOGUE, TRANSPORT_ERROR_CODES } from '../../api/error-catalogue.js';
import { REFUSAL_STATUS } from '../../api/refusal-status.js';
import { REFUSAL_CODES } from '../../domain/refusals.js';
import { createSql } from '../../ledger/db.js';
import { createSandboxProvider } from '../../payments/sandbox.js';

/** The error catalogue (issue 14): every code the code base can answer, and problem `type` URIs that resolve. */

const root = join(import.meta.dirname, '..', '..');
const SOURCE_DIRS = ['api', 'billing', 'ledger', 'payments', 'worker', 'runtime', 'domain', 'workflows'];

/** Every `new ApiError(<status>, '<code>'` in the sources, as [code, status, file]. */
function apiErrorCodesInSources(): [string, number, string][] {
  const found: [string, number, string][] = [];
  const visit = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) visit(path);
      else if (/\.tsx?$/.test(name)) {
        for (const match of readFileSync(path, 'utf8').matchAll(/new ApiError\(\s*(\d{3}),\s*'([a-z_]+)'/g)) {
          found.push([match[2]!, Number(match[1]), path.slice(root.length + 1)]);
        }
      }
    }
  };
  for (const dir of SOURCE_DIRS) visit(join(root, dir));
  return found;
}

describe('the error catalogue', () => {
  const byCode = new Map(ERROR_CATALOGUE.map((entry) => [entry.code, entry]));

  it('lists every refusal code with the status api/refusal-status.ts gives it, once', () => {
    expect(new Set(ERROR_CATALOGUE.map((e) => e.code)).size).toBe(ERROR_CATALOGUE.length);
    for (const code of REFUSAL_CODES) expect(byCode.get(code)?.status, code).toBe(REFUSAL_STATUS[code]);
    for (const code of TRANSPORT_ERROR_CODES) expect(byCode.has(code), code).toBe(true);
    for (const entry of ERROR_CATALOGUE) {
      expect(entry.title.length, entry.code).toBeGreaterThan(2);
      expect(entry.meaning, entry.code).toMatch(/\.$/);
    }
  });

  it('lists every code raised with new ApiError(...) anywhere in the sources', () => {
    const raised = apiErrorCodesInSources();
    expect(raised.length).toBeGreaterThan(20);
    const missing = raised.filter(([code]) => !byCode.has(code)).map(([code, status, file]) => `${code} (${status}) in ${file}`);
    expect(missing).toEqual([]);
    // The catalogue's status is the one the code is raised with (insufficient_credits also answers 409 to an operator's take-back).
    const otherStatus = raised.filter(([code, status]) => byCode.get(code)!.status !== status && !byCode.get(code)!.meaning.includes(String(status)));
    expect(otherStatus).toEqual([]);
  });
});

describe('problem type URIs', () => {
  const sql = createSql('postgres://unused@127.0.0.1:1/unused', { max: 1 });
  const connection = Connection.lazy({ address: '127.0.0.1:1' });
  let app: ReturnType<typeof createApp>;
  beforeAll(() => {
    const payments = createSandboxProvider({ publicUrl: 'http://localhost:3000', sql });
    app = createApp({
      sql, temporal: new Client({ connection }), taskQueue: 'unused', adminApiKey: 'unused-operator-key-0000',
      payments, webhookSecret: 'unused', sandbox: payments, publicUrl: 'http://localhost:3000',
    });
  });
  afterAll(async () => {
    await connection.close();
    await sql.end({ timeout: 0 });
  });

  it('point at this API\'s /docs/errors page, which has an anchor for every code', async () => {
    const refused = await app.request('http://api.example:8080/no-such-page');
    expect(refused.status).toBe(404);
    const problem = await refused.json() as { type: string; code: string };
    expect(problem.code).toBe('not_found');
    expect(problem.type).toBe('http://api.example:8080/docs/errors#not_found');

    const url = new URL(problem.type);
    const page = await app.request(url.href);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    for (const entry of ERROR_CATALOGUE) expect(html, entry.code).toContain(`id="${entry.code}"`);
  });

  it('are in /openapi.json too: x-error-codes and the Problem code enum', async () => {
    const doc = await (await app.request('/openapi.json')).json() as { 'x-error-codes': { code: string; status: number }[]; components: { schemas: { Problem: { properties: { code: { enum: string[] } } } } } };
    expect(doc['x-error-codes'].map((e) => e.code)).toEqual(ERROR_CATALOGUE.map((e) => e.code));
    expect(doc.components.schemas.Problem.properties.code.enum).toEqual(ERROR_CATALOGUE.map((e) => e.code));
  });
});
