import { createRoute, z } from '@hono/zod-openapi';
import { listAudit } from '../../ledger/audit.js';
import { invalid } from '../errors.js';
import { newRouter, type ApiDeps } from '../router.js';
import { Instant, json, legacyCursor, listOf, operatorBearer, pageQuery, problemResponses, TextLine } from '../schemas.js';

const AuditEntry = z.object({
  id: z.string(),
  operator_key_id: z.string(),
  at: Instant.openapi({ description: 'Real time of the request (not a test clock\'s)' }),
  method: z.string(),
  path: z.string(),
  workspace_id: z.string().nullable().openapi({ description: 'The workspace the action concerns, when there is one' }),
  target: z.string().nullable().openapi({ description: 'The object acted on (workspace, invoice, clock, key…), when there is one' }),
  request: z.unknown().openapi({ description: 'The request body; fields named like keys or secrets are redacted' }),
  status: z.number().int(),
  outcome: z.string().openapi({ description: '`ok` for a 2xx answer, else the problem\'s code' }),
}).openapi('AuditEntry');
const AuditQuery = pageQuery().extend({ workspace_id: TextLine.min(1).max(64).optional(), cursor: legacyCursor });
const AuditEntryList = listOf('AuditEntryList', AuditEntry);

/** SPEC §10 audit log: every operator action (any non-GET request with an operator key), newest first. */
export function adminAuditRoutes(deps: ApiDeps) {
  const router = newRouter();
  router.openapi(
    createRoute({ method: 'get', path: '/v1/admin/audit', security: operatorBearer,
      description: 'Operator actions, newest first; `workspace_id` narrows to one workspace (operator).',
      request: { query: AuditQuery },
      responses: { 200: { description: 'A page of audit entries', ...json(AuditEntryList) }, ...problemResponses } }),
    async (c) => {
      const { workspace_id, limit, starting_after, cursor } = c.req.valid('query');
      const page = await listAudit(deps.sql, { workspaceId: workspace_id, limit, cursor: starting_after ?? cursor });
      if (!page) throw invalid(starting_after ? 'starting_after' : 'cursor', 'not an audit entry id');
      return c.json(page, 200);
    },
  );
  return router;
}
