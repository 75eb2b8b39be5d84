import { createRoute, z } from '@hono/zod-openapi';
import { listCreations, listLedger, pageNotifications } from '../../ledger/history.js';
import { requireWorkspace } from '../auth.js';
import { creationsCsv, ledgerCsv, wantsCsv } from '../csv-download.js';
import { invalid } from '../errors.js';
import { newRouter, type ApiDeps } from '../router.js';
import { bearer, Instant, listOf, pageQuery, problemResponses, TextLine } from '../schemas.js';
import { Creation } from './spend.js';

export const PageQuery = pageQuery();
export const LedgerEntry = z.object({
  id: z.string(), kind: z.enum(['grant', 'hold', 'capture', 'release', 'expire', 'freeze', 'thaw', 'forfeit', 'clawback', 'adjust']),
  lot: z.string(), amount: z.number().int(), balance_after: z.number().int(), at: Instant, operation: z.string(),
  balance_change: z.number().int().openapi({ description: 'The entry\'s effect on the available balance: `amount`, except for a capture (0: its credits left the available balance when they were held; its `amount` shows them consumed)' }),
  reason: z.string().nullable().openapi({ description: 'Why: an adjustment\'s reason; null for other entries' }),
}).openapi('LedgerEntry');
/** How the journal reconciles with GET /v1/credits (said once, in every description of the journal). */
export const LEDGER_RECONCILES = 'Reconciles: the sum of `balance_change` over all entries (every `amount` except captures\') equals `available` '
  + 'of GET /v1/credits, once every lot past its expiry has its `expire` entry (written at the expiry instant); a lot stays in `held` '
  + 'until its hold ends. `balance_after` is the running available balance.';
export const Notification = z.object({ id: z.string(), kind: z.string(), payload: z.unknown(), at: Instant }).openapi('Notification');
export const LedgerEntryList = listOf('LedgerEntryList', LedgerEntry);
export const CreationList = listOf('CreationList', Creation);
export const NotificationList = listOf('NotificationList', Notification);

export function historyRoutes(deps: ApiDeps) {
  const router = newRouter();

  router.openapi(
    createRoute({ method: 'get', path: '/v1/ledger', security: bearer,
      description: `Every grant, hold, capture, release, expiry, freeze, thaw, forfeit, clawback and adjustment, newest first. ${LEDGER_RECONCILES}`,
      request: { query: PageQuery },
      responses: { 200: { description: 'A page of entries; with `Accept: text/csv`, every entry as a CSV download (RFC 4180, newest first)', content: { 'application/json': { schema: LedgerEntryList }, 'text/csv': { schema: z.string() } } }, ...problemResponses } }),
    async (c) => {
      const workspace = requireWorkspace(c.get('principal'));
      if (wantsCsv(c)) return ledgerCsv(c, deps.sql, workspace.id);
      const { limit, starting_after } = c.req.valid('query');
      const result = await listLedger(deps.sql, workspace.id, { limit, after: starting_after });
      if (!result) throw invalid('starting_after', 'not an entry id of this workspace');
      return c.json(result, 200);
    },
  );

  router.openapi(
    createRoute({ method: 'get', path: '/v1/creations', security: bearer,
      description: 'Creations with quoted and charged credits, the lots each drew from and what each was (model, request, API key, '
        + 'external_id, metadata), newest first; `external_id` keeps only the creations the studio gave that reference.',
      request: { query: PageQuery.extend({ external_id: TextLine.min(1).max(200).optional() }) },
      responses: { 200: { description: 'A page of creations; with `Accept: text/csv`, every creation as a CSV download (RFC 4180, newest first)', content: { 'application/json': { schema: CreationList }, 'text/csv': { schema: z.string() } } }, ...problemResponses } }),
    async (c) => {
      const workspace = requireWorkspace(c.get('principal'));
      if (wantsCsv(c)) return creationsCsv(c, deps.sql, workspace.id);
      const { limit, starting_after, external_id } = c.req.valid('query');
      const result = await listCreations(deps.sql, workspace.id, { limit, after: starting_after, externalId: external_id });
      if (!result) throw invalid('starting_after', 'not a creation id of this workspace');
      return c.json(result, 200);
    },
  );

  router.openapi(
    createRoute({ method: 'get', path: '/v1/notifications', security: bearer,
      request: { query: PageQuery },
      responses: { 200: { description: 'A page of notifications, newest first', content: { 'application/json': { schema: NotificationList } } }, ...problemResponses } }),
    async (c) => {
      const workspace = requireWorkspace(c.get('principal'));
      const { limit, starting_after } = c.req.valid('query');
      const result = await pageNotifications(deps.sql, workspace.id, { limit, after: starting_after });
      if (!result) throw invalid('starting_after', 'not a notification id of this workspace');
      return c.json(result, 200);
    },
  );
  return router;
}
