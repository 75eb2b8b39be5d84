import { createRoute, z } from '@hono/zod-openapi';
import { listAudit } from '../../ledger/audit.js';
import { invalid } from '../errors.js';
import { newRouter, type ApiDeps } from '../router.js';
import { json, operatorBearer, problemResponses } from '../schemas.js';

const AuditEntry = z.object({
  id: z.string(),
  operator_key_id: z.string(),
  at: z.string().openapi({ description: 'Real time of the request (not a test clock\'s)' }),
  method: z.string(),
  path: z.string(),
  workspace_id: z.string().nullable().openapi({ description: 'The workspace the action concerns, when there is one' }),
  target: z.string().nullable().openapi({ description: 'The object acted on (workspace, invoice, clock, key…), when there is one' }),
  request: z.unknown().openapi({ description: 'The request body; fields named like keys or secrets are redacted' }),
  status: z.number().int(),
  outcome: z.string().openapi({ description: '`ok` for a 2xx answer, else the problem\'s code' }),
}).openapi('AuditEntry');
const AuditQuery = z.object({
  workspace_id: z.string().min(1).max(64).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().min(1).max(64).optional().openapi({ description: '`next_cursor` of the previous page' }),
});

/** SPEC §10 audit log: every operator action (any non-GET request with an operator key), newest first. */
export function adminAuditRoutes(deps: ApiDeps) {
  const router = newRouter();
  router.openapi(
    createRoute({ method: 'get', path: '/v1/admin/audit', tags: ['admin'], security: operatorBearer,
      description: 'Operator actions, newest first; `workspace_id` narrows to one workspace (operator).',
      request: { query: AuditQuery },
      responses: { 200: { description: 'A page of audit entries', ...json(z.object({ data: z.array(AuditEntry), has_more: z.boolean(), next_cursor: z.string().nullable() })) }, ...problemResponses } }),
    async (c) => {
      const { workspace_id, limit, cursor } = c.req.valid('query');
      const page = await listAudit(deps.sql, { workspaceId: workspace_id, limit, cursor });
      if (!page) throw invalid('cursor', 'not an audit entry id');
      return c.json(page, 200);
    },
  );
  return router;
}
