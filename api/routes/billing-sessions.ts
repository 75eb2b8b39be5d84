import { createRoute, z } from '@hono/zod-openapi';
import { BILLING_SESSION_TTL_MS, createBillingSession } from '../../ledger/billing-sessions.js';
import { workspaceByExternalId, workspaceDetails } from '../../ledger/workspaces.js';
import { invalid, notFound } from '../errors.js';
import { newRouter, type ApiDeps } from '../router.js';
import { Instant, bearer, json, Problem, problemResponses, refuseUnstorableText, TextLine } from '../schemas.js';

const ReturnUrl = z.url({ protocol: /^https?$/ }).max(2000).superRefine(refuseUnstorableText({ singleLine: true }))
  .openapi({ description: 'Where the billing page\'s "back" link leads (http or https); shown as a link, never redirected to', example: 'https://studio.example/settings' });
const NewBillingSession = z.object({
  workspace_id: TextLine.min(1).max(64).optional().openapi({ description: 'Operator key only: the workspace' }),
  external_id: TextLine.min(1).max(255).optional().openapi({ description: 'Operator key only: the workspace, by the studio\'s id' }),
  return_url: ReturnUrl.optional(),
}).strict().openapi('BillingSessionCreateParams');
const BillingSession = z.object({
  id: z.string(),
  object: z.literal('billing_session'),
  workspace_id: z.string(),
  url: z.string().openapi({ description: 'Single use, valid until expires_at: signs the customer into /billing' }),
  return_url: z.string().nullable(),
  created_at: Instant,
  expires_at: Instant,
}).openapi('BillingSession');

/**
 * `POST /v1/billing-sessions` (SPEC §10, issue 12), like Stripe's Billing Portal sessions: a single-use URL,
 * valid for 5 minutes, that signs a customer into /billing without their API key. A workspace key makes
 * one for itself; the operator key for the workspace named by `workspace_id` or `external_id`.
 */
export function billingSessionRoutes(deps: ApiDeps) {
  const router = newRouter();
  router.openapi(
    createRoute({ method: 'post', path: '/v1/billing-sessions', security: bearer,
      description: `A single-use URL that signs the customer into /billing, valid for ${BILLING_SESSION_TTL_MS / 60_000} minutes `
        + '(the studio\'s app redirects its logged-in user there). A workspace key: for itself, with no workspace_id/external_id. '
        + 'The operator key: exactly one of workspace_id or external_id.',
      request: { body: { content: { 'application/json': { schema: NewBillingSession } }, required: true } },
      responses: {
        201: { description: 'The session and its URL', ...json(BillingSession) },
        404: { description: 'No workspace has this id or external_id', content: { 'application/problem+json': { schema: Problem } } },
        ...problemResponses,
      } }),
    async (c) => {
      const principal = c.get('principal');
      const body = c.req.valid('json');
      let workspaceId: string;
      if (principal.kind === 'workspace') {
        if (body.workspace_id !== undefined) throw invalid('workspace_id', 'a workspace key makes sessions for its own workspace only');
        if (body.external_id !== undefined) throw invalid('external_id', 'a workspace key makes sessions for its own workspace only');
        workspaceId = principal.workspace.id;
      } else {
        if ((body.workspace_id === undefined) === (body.external_id === undefined)) {
          throw invalid(body.workspace_id === undefined ? 'workspace_id' : 'external_id', 'give exactly one of workspace_id or external_id');
        }
        const workspace = body.workspace_id !== undefined
          ? await workspaceDetails(deps.sql, body.workspace_id)
          : await workspaceByExternalId(deps.sql, body.external_id!);
        if (!workspace) throw notFound('workspace');
        workspaceId = workspace.id;
      }
      const { session, token } = await createBillingSession(deps.sql, {
        workspaceId, returnUrl: body.return_url ?? null, createdBy: principal.kind,
      });
      return c.json({
        id: session.id, object: 'billing_session' as const, workspace_id: session.workspace_id,
        url: `${deps.publicUrl}/billing/session/${token}`, return_url: session.return_url,
        created_at: session.created_at.toISOString(), expires_at: session.expires_at.toISOString(),
      }, 201);
    },
  );
  return router;
}
