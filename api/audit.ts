import { createMiddleware } from 'hono/factory';
import { recordAudit, type AuditRecord, workspaceOfInvoice } from '../ledger/audit.js';
import type { Sql } from '../ledger/db.js';
import type { AuthEnv } from './auth.js';

/** Collections whose next path segment is the object acted on. */
const COLLECTIONS = new Set(['workspaces', 'invoices', 'operator-keys', 'test-clocks', 'disputes', 'credit-notes']);
/** Request fields never stored in the audit log, whatever route receives them. */
const SECRET_FIELD = /key|secret|password|token/i;

/**
 * SPEC §10 audit log: every request an operator key makes that is not a read (any method but GET/HEAD/
 * OPTIONS), on any route (clocks, workspaces, adjustments, refunds, subscription actions, key revocations,
 * billing sessions, and routes added later with no work from them), recorded after the handler answered,
 * in the same request: operator key id, real time, method, path, the workspace and object concerned,
 * the request body (fields named like keys or secrets redacted; responses, which may carry a new API key,
 * are never stored), the status and the outcome ('ok' or the problem's code). Registered inside the
 * Idempotency-Key layer, so a replayed answer (no new action) is not recorded again.
 * A failed audit write does not undo the action (already committed): it is logged loudly with the whole record.
 */
export function auditLog(sql: Sql) {
  return createMiddleware<AuthEnv>(async (c, next) => {
    const method = c.req.method;
    if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return next(); // reads are not audited
    const principal = c.get('principal');
    if (principal?.kind !== 'operator') return next();
    const at = new Date();
    const request = storable(redact(parseJson(await c.req.text())));
    await next();
    const status = c.res.status;
    let record: AuditRecord = {
      operatorKeyId: principal.keyId, at, method: c.req.method, path: storable(c.req.path) as string, request, status,
      outcome: `http_${status}`, workspaceId: null, target: null,
    };
    try {
      const response = c.res.headers.get('content-type')?.includes('json') ? parseJson(await c.res.clone().text()) : null;
      record = {
        ...record, outcome: status < 300 ? 'ok' : stringField(response, 'code') ?? `http_${status}`,
        ...storable(await concerned(sql, c.req.method, c.req.path, request, response)) as Pick<AuditRecord, 'workspaceId' | 'target'>,
      };
      await recordAudit(sql, record);
    } catch (error) {
      // The action happened (its answer is already made); the answer stands, and the loss is loud.
      console.error('AUDIT LOG WRITE FAILED: an operator action is not in the audit log', JSON.stringify(record), error);
    }
  });
}

/** The workspace and the object an action concerns, from its path, its body, or what it created. */
async function concerned(sql: Sql, method: string, path: string, request: unknown, response: unknown): Promise<{ workspaceId: string | null; target: string | null }> {
  const segments = path.split('/').filter(Boolean);
  const after = (collection: string) => {
    const i = segments.indexOf(collection);
    return i >= 0 && segments[i + 1] ? decoded(segments[i + 1]!) : null;
  };
  const targetIndex = segments.findIndex((s, i) => COLLECTIONS.has(s) && segments[i + 1] !== undefined);
  let target = targetIndex >= 0 ? decoded(segments[targetIndex + 1]!) : null;
  let workspaceId = after('workspaces') ?? stringField(request, 'workspace_id');
  if (!workspaceId && after('invoices')) workspaceId = await workspaceOfInvoice(sql, after('invoices')!).catch(() => null);
  // A creation (POST /v1/workspaces, /v1/test-clocks, operator keys): the created object's id.
  if (!target && method === 'POST') target = stringField(response, 'id');
  if (!workspaceId && method === 'POST' && path === '/v1/workspaces') workspaceId = stringField(response, 'id');
  return { workspaceId, target };
}

function decoded(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment; // not valid percent-encoding: kept as sent
  }
}

/**
 * What Postgres can store in text and jsonb: NUL and lone surrogates (which a request may carry, and which
 * jsonb refuses) become U+FFFD, in keys and values.
 */
function storable(value: unknown): unknown {
  if (typeof value === 'string') {
    return value.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd').split(String.fromCharCode(0)).join('\ufffd');
  }
  if (Array.isArray(value)) return value.map(storable);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [storable(k), storable(v)]));
}

function parseJson(text: string): unknown {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return { unparsed_body_bytes: Buffer.byteLength(text) };
  }
}

function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, SECRET_FIELD.test(k) ? '[redacted]' : redact(v)]));
}

function stringField(value: unknown, field: string): string | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  const found = (value as Record<string, unknown>)[field];
  return typeof found === 'string' ? found : null;
}
