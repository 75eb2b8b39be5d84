import { createRoute, z } from '@hono/zod-openapi';
import { currentBalance } from '../../billing/balance.js';
import { SUBSCRIPTION_STATUSES } from '../../domain/lifecycle/status.js';
import { PLAN_IDS } from '../../domain/catalog.js';
import { expireDueAdjustments } from '../../ledger/adjustments.js';
import { customerBalanceCents } from '../../ledger/invoices.js';
import { currentSubscription } from '../../ledger/subscriptions.js';
import { searchWorkspaces, workspaceSummary } from '../../ledger/workspace-search.js';
import { invalid, notFound } from '../errors.js';
import { newRouter, type ApiDeps } from '../router.js';
import { Instant, json, legacyCursor, listOf, operatorBearer, pageQuery, Problem, problemResponses, TextLine } from '../schemas.js';
import { Balance } from './credits.js';
import { fromRow, Subscription } from './subscription.js';

const SubscriptionSummary = z.object({
  id: z.string(), status: z.enum(SUBSCRIPTION_STATUSES), plan: z.string(), interval: z.string(),
});
export const WorkspaceSummary = z.object({
  id: z.string(),
  name: z.string(),
  external_id: z.string().nullable(),
  test_clock_id: z.string().nullable(),
  created_at: Instant,
  subscription: SubscriptionSummary.nullable().openapi({ description: 'The live subscription, else the most recent one; null when none' }),
}).openapi('WorkspaceSummary');
const SearchQuery = z.object({
  q: TextLine.min(1).max(200).optional().openapi({ description: 'The workspace id or external id (exact), or part of the name (case-insensitive)' }),
  status: z.enum([...SUBSCRIPTION_STATUSES, 'none']).optional().openapi({ description: 'The current subscription\'s status; `none`: never subscribed' }),
  plan: z.enum(PLAN_IDS).optional(),
}).extend({ ...pageQuery().shape, cursor: legacyCursor });
const WorkspaceSummaryList = listOf('WorkspaceSummaryList', WorkspaceSummary);
export const WorkspaceParams = z.object({ id: TextLine.min(1).max(64) });
const WorkspaceView = z.object({
  workspace: WorkspaceSummary,
  subscription: Subscription.nullable().openapi({ description: 'As GET /v1/subscription shows it to the workspace; null when it never subscribed' }),
  credits: Balance.openapi({ description: 'As GET /v1/credits shows it to the workspace' }),
  customer_balance_cents: z.number().int().openapi({ description: 'Credit owed to the customer, applied to its next invoices' }),
}).openapi('AdminWorkspace');
export const workspaceProblems = {
  ...problemResponses,
  404: { description: 'No such workspace', content: { 'application/problem+json': { schema: Problem } } },
} as const;

/** SPEC §10 operator views: search workspaces, and one workspace with its subscription, credits and customer balance. */
export function adminWorkspaceRoutes(deps: ApiDeps) {
  const router = newRouter();

  router.openapi(
    createRoute({ method: 'get', path: '/v1/admin/workspaces', security: operatorBearer,
      description: 'Search workspaces, newest first (operator).',
      request: { query: SearchQuery },
      responses: { 200: { description: 'A page of workspaces', ...json(WorkspaceSummaryList) }, ...problemResponses } }),
    async (c) => {
      const { starting_after, cursor, ...query } = c.req.valid('query');
      const page = await searchWorkspaces(deps.sql, { ...query, cursor: starting_after ?? cursor });
      if (!page) throw invalid(starting_after ? 'starting_after' : 'cursor', 'not a workspace id');
      return c.json(page, 200);
    },
  );

  router.openapi(
    createRoute({ method: 'get', path: '/v1/admin/workspaces/{id}', security: operatorBearer,
      description: 'One workspace as its owner sees it: subscription, credits, customer balance (operator).',
      request: { params: WorkspaceParams },
      responses: { 200: { description: 'The workspace', ...json(WorkspaceView) }, ...workspaceProblems } }),
    async (c) => {
      const { id } = c.req.valid('param');
      const workspace = await workspaceSummary(deps.sql, id);
      if (!workspace) throw notFound('workspace');
      await expireDueAdjustments(deps.sql, id);
      const [subscription, credits, balance] = await Promise.all([
        currentSubscription(deps.sql, id), currentBalance(deps.sql, id), customerBalanceCents(deps.sql, id),
      ]);
      return c.json({ workspace, subscription: subscription ? fromRow(subscription) : null, credits, customer_balance_cents: balance }, 200);
    },
  );
  return router;
}
