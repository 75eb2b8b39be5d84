import { createRoute, z } from '@hono/zod-openapi';
import { isWindowProblem, MAX_USAGE_WINDOW_DAYS, USAGE_GROUP_BYS, usageWindow } from '../../domain/usage.js';
import { usageOf } from '../../billing/usage.js';
import { workspaceNow } from '../../ledger/workspaces.js';
import { requireWorkspace } from '../auth.js';
import { invalid } from '../errors.js';
import { newRouter, type ApiDeps } from '../router.js';
import { bearer, Instant, problemResponses } from '../schemas.js';

const credits = (description: string) => z.number().int().openapi({ description });

const Figures = {
  credits_captured: credits('Credits captured by creations that succeeded in the window'),
  creations: z.number().int().openapi({ description: 'Creations that succeeded in the window (counted at their capture)' }),
  creations_failed: z.number().int().openapi({ description: 'Creations that failed in the window (nothing captured)' }),
  creations_expired: z.number().int().openapi({ description: 'Creations whose hold lapsed in the window (nothing captured)' }),
};

export const UsageGroup = z.object({
  key: z.string().nullable().openapi({ description: 'The UTC day (YYYY-MM-DD), the model (`unknown` when not recorded) or the API key id (null: made without a key)' }),
  api_key_name: z.string().nullable().optional().openapi({ description: 'The API key\'s name, when grouped by api_key' }),
  ...Figures,
}).openapi('UsageGroup');

export const Usage = z.object({
  from: z.string(), to: z.string(), group_by: z.enum(USAGE_GROUP_BYS),
  groups: z.array(UsageGroup).openapi({ description: 'By day: every UTC day the window touches, oldest first, zeros included. By model or key: by credits captured, most first' }),
  totals: z.object(Figures).openapi({ description: 'The sum of the groups' }),
  credits_expired: credits('Credits that expired in the window (at their expiry instant)'),
  credits_forfeited: credits('Credits forfeited in the window (a canceled plan\'s lots)'),
  reconciliation: z.object({
    opening_available: credits('Available balance at `from` as journaled: the sum of the balance changes (`balance_change` of GET /v1/ledger) of the entries before it'),
    granted: credits('Grants'), adjusted: credits('Adjustments (signed)'), thawed: credits('Thaws'), frozen: credits('Freezes (≤ 0)'),
    captured: credits('Captures (≤ 0)'), expired: credits('Expiries (≤ 0; a frozen lot\'s counts 0)'), forfeited: credits('Forfeits (≤ 0)'),
    clawed_back: credits('Clawbacks (≤ 0)'),
    held_change: credits('Holds less releases and captures: credits put on hold in the window and not yet captured or released (≤ 0), or released from holds made before it (> 0)'),
    net_change: credits('The sum of the figures above'),
    closing_available: credits('Available balance at `to` as journaled (the same sum before `to`): opening_available + net_change; at the workspace\'s time, `available` of GET /v1/credits once lapsed lots have their `expire` entry'),
  }).openapi({ description: 'The window\'s journal, as signed effects on the available balance, from the balance at `from` to the one at `to`' }),
}).openapi('Usage');

const UsageQuery = z.object({
  from: Instant.optional().openapi({ description: 'Start of the window (inclusive); default: `to` − 30 days' }),
  to: Instant.optional().openapi({ description: `End of the window (exclusive); default: the workspace's time (its test clock's when it has one). At most ${MAX_USAGE_WINDOW_DAYS} days after from` }),
  group_by: z.enum(USAGE_GROUP_BYS).default('day'),
});

/** GET /v1/usage (SPEC §11): credits captured per day, model or API key over [from, to), with the window's reconciliation. */
export function usageRoutes(deps: ApiDeps) {
  const router = newRouter();
  router.openapi(
    createRoute({ method: 'get', path: '/v1/usage', security: bearer,
      description: 'Credits captured and creations over [from, to), grouped by UTC day, model or API key (a creation counts at its capture; '
        + 'failed and expired ones apart), the credits expired and forfeited, and how the journal moves the available balance over the window.',
      request: { query: UsageQuery },
      responses: { 200: { description: 'Usage over the window', content: { 'application/json': { schema: Usage } } }, ...problemResponses } }),
    async (c) => {
      const workspace = requireWorkspace(c.get('principal'));
      const query = c.req.valid('query');
      const window = usageWindow({
        from: query.from === undefined ? undefined : new Date(query.from),
        to: query.to === undefined ? undefined : new Date(query.to),
      }, await workspaceNow(deps.sql, workspace.id));
      if (isWindowProblem(window)) throw invalid(window.field, window.message);
      return c.json(await usageOf(deps.sql, workspace.id, window, query.group_by), 200);
    },
  );
  return router;
}
