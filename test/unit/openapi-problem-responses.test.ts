import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../api/app.js';
import { createSql } from '../../ledger/db.js';
import { createSandboxProvider } from '../../payments/sandbox.js';

/**
 * The problem answers /openapi.json lists are the ones each operation can give: 413 (body over 64 KiB) only where a
 * request body is taken, 422 (`idempotency_key_reused`) only on POSTs (the only method that takes an Idempotency-Key),
 * 400 wherever a path, query or body is validated. Read from the app without a database or Temporal, as
 * test/unit/openapi-document.test.ts does.
 */
type Json = Record<string, unknown>;
interface Operation { parameters?: { in?: string; $ref?: string }[]; requestBody?: Json; responses: Record<string, Json> }

const sql = createSql('postgres://unused@127.0.0.1:1/unused', { max: 1 });
const connection = Connection.lazy({ address: '127.0.0.1:1' });
let operations: { key: string; method: string; op: Operation }[];

beforeAll(async () => {
  const payments = createSandboxProvider({ publicUrl: 'http://localhost:3000', sql });
  const app = createApp({
    sql, temporal: new Client({ connection }), taskQueue: 'unused', adminApiKey: 'unused-operator-key-0000',
    payments, webhookSecret: 'unused', sandbox: payments, publicUrl: 'http://localhost:3000',
  });
  const doc = await (await app.request('/openapi.json')).json() as { paths: Record<string, Record<string, Operation>> };
  operations = Object.entries(doc.paths).flatMap(([path, item]) => Object.entries(item)
    .map(([method, op]) => ({ key: `${method.toUpperCase()} ${path}`, method, op })));
});
afterAll(async () => {
  await connection.close();
  await sql.end({ timeout: 0 });
});

describe('problem responses in the OpenAPI document', () => {
  it('lists 413 exactly where a request body is taken', () => {
    const wrong = operations.filter(({ op }) => Boolean(op.requestBody) !== ('413' in op.responses)).map(({ key }) => key);
    expect(wrong).toEqual([]);
    expect(operations.filter(({ op }) => '413' in op.responses).length).toBeGreaterThan(20);
    expect(operations.find(({ key }) => key === 'GET /v1/credits')!.op.responses).not.toHaveProperty('413');
    expect(operations.find(({ key }) => key === 'DELETE /v1/api-keys/{id}')!.op.responses).not.toHaveProperty('413');
    expect(operations.find(({ key }) => key === 'POST /v1/creations/{id}/fail')!.op.responses).not.toHaveProperty('413');
    expect(operations.find(({ key }) => key === 'PUT /v1/alerts')!.op.responses).toHaveProperty('413');
  });

  it('lists 422 (Idempotency-Key reused) exactly on the POSTs, which take the key', () => {
    const wrong = operations.filter(({ method, op }) => {
      const takesKey = (op.parameters ?? []).some((p) => p.$ref === '#/components/parameters/IdempotencyKey');
      return (method === 'post') !== ('422' in op.responses) || takesKey !== ('422' in op.responses);
    }).map(({ key }) => key);
    expect(wrong).toEqual([]);
  });

  it('keeps 400 wherever a path, a query or a body is validated', () => {
    const takesInput = operations.filter(({ op }) => op.requestBody || (op.parameters ?? []).some((p) => p.in === 'path' || p.in === 'query'));
    expect(takesInput.length).toBeGreaterThan(40);
    expect(takesInput.filter(({ op }) => !('400' in op.responses)).map(({ key }) => key)).toEqual([]);
  });
});
