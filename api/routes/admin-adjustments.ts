import { createRoute, z } from '@hono/zod-openapi';
import { adjustWorkspaceCredits } from '../../billing/adjustments.js';
import { Refusal } from '../../domain/refusals.js';
import { ApiError } from '../errors.js';
import { newRouter, type ApiDeps } from '../router.js';
import { Instant, json, operatorBearer, Problem, TextLine } from '../schemas.js';
import { WorkspaceParams, workspaceProblems } from './admin-workspaces.js';

const AdjustmentBody = z.object({
  credits: z.number().int().min(-1_000_000).max(1_000_000).refine((n) => n !== 0, 'must not be 0')
    .openapi({ description: 'Positive: grant a lot of source `adjustment`; negative: take unspent, unheld credits in burn order' }),
  reason: TextLine.trim().min(1).max(500).openapi({ description: 'Why; kept on every journal entry of the adjustment' }),
  expires_at: Instant.optional().openapi({ description: 'Positive adjustments only: when the lot expires (after the workspace\'s current time). '
    + 'Without it the lot never expires and burns after every expiring lot and before packs.' }),
}).strict().refine((b) => b.expires_at === undefined || b.credits > 0, { path: ['expires_at'], message: 'only for a positive adjustment' })
  .openapi('CreditAdjustmentCreateParams');
export const Adjustment = z.object({
  id: z.string(),
  workspace_id: z.string(),
  credits: z.number().int(),
  reason: z.string(),
  at: Instant.openapi({ description: 'The workspace\'s time (its test clock\'s when it has one)' }),
  expires_at: Instant.nullable(),
  lots: z.array(z.object({ lot: z.string(), credits: z.number().int() })).openapi({ description: 'The lots touched and by how much (signed)' }),
  balance_after: z.number().int().openapi({ description: 'Available credits right after' }),
  frozen: z.boolean().openapi({ description: 'Granted while the workspace has no live subscription: frozen until one starts (like a pack)' }),
}).openapi('CreditAdjustment');

/**
 * SPEC §10 adjustments (operator). A negative adjustment larger than the available credits is 409
 * `insufficient_credits` (the same code the spend path answers with 402: there the customer can pay for
 * more; here the operator's request conflicts with the balance). With an Idempotency-Key the adjustment
 * itself is keyed by it too (the same key gives the same adjustment id, applied once).
 */
export function adminAdjustmentRoutes(deps: ApiDeps) {
  const router = newRouter();
  router.openapi(
    createRoute({ method: 'post', path: '/v1/admin/workspaces/{id}/credit-adjustments', security: operatorBearer,
      description: 'Grant goodwill credits or take credits back, with a reason, journaled as `adjust` (operator).',
      request: { params: WorkspaceParams, body: { ...json(AdjustmentBody), required: true } },
      responses: {
        201: { description: 'The adjustment', ...json(Adjustment) },
        ...workspaceProblems,
        409: { description: 'insufficient_credits: a negative adjustment larger than the available credits (detail: required, available)', content: { 'application/problem+json': { schema: Problem } } },
      } }),
    async (c) => {
      const { id } = c.req.valid('param');
      const body = c.req.valid('json');
      try {
        const adjustment = await adjustWorkspaceCredits(deps, {
          workspaceId: id, credits: body.credits, reason: body.reason,
          expiresAt: body.expires_at ? new Date(body.expires_at) : null, idempotencyKey: c.req.header('idempotency-key'),
        });
        return c.json(adjustment, 201);
      } catch (error) {
        if (error instanceof Refusal && error.code === 'insufficient_credits') {
          throw new ApiError(409, 'insufficient_credits', error.message, undefined, error.detail);
        }
        if (error instanceof Refusal && error.code === 'invalid_request') {
          throw new ApiError(400, 'invalid_request', error.message, [{ field: 'expires_at', reason: 'must be after the workspace\'s current time' }]);
        }
        throw error;
      }
    },
  );
  return router;
}
