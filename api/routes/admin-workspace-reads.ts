import { createRoute, z } from '@hono/zod-openapi';
import { stringify } from 'csv-stringify/sync';
import { currentBalance } from '../../billing/balance.js';
import { expireDueAdjustments } from '../../ledger/adjustments.js';
import type { Sql } from '../../ledger/db.js';
import { type LedgerEntryView, listCreations, listLedger, pageNotifications } from '../../ledger/history.js';
import { getWorkspace } from '../../ledger/workspaces.js';
import { invalid, notFound } from '../errors.js';
import { newRouter, type ApiDeps } from '../router.js';
import { json, operatorBearer } from '../schemas.js';
import { Balance } from './credits.js';
import { CreationList, LEDGER_RECONCILES, LedgerEntryList, NotificationList, PageQuery } from './history.js';
import { InvoiceList, InvoiceQuery, invoicePage } from './invoices.js';
import { WorkspaceParams, workspaceProblems } from './admin-workspaces.js';

/** The columns of the journal export, in order (one row per ledger entry, oldest first). */
export const LEDGER_EXPORT_COLUMNS = ['id', 'at', 'kind', 'lot', 'amount', 'balance_change', 'balance_after', 'operation', 'reason'] as const;

async function existing(sql: Sql, id: string): Promise<string> {
  if (!(await getWorkspace(sql, id))) throw notFound('workspace');
  return id;
}

/** The whole journal, oldest first, read through the same listLedger as GET /v1/ledger, a page at a time. */
async function wholeJournal(sql: Sql, workspaceId: string): Promise<LedgerEntryView[]> {
  const entries: LedgerEntryView[] = [];
  let after: string | undefined;
  for (;;) {
    const page = (await listLedger(sql, workspaceId, { limit: 1000, after }))!;
    entries.push(...page.data);
    if (!page.has_more) return entries.reverse();
    after = page.next_cursor!;
  }
}

/**
 * SPEC §10: an operator reads everything a workspace can read, for any workspace. Each route answers what
 * the workspace's own route answers (same ledger reads, same schemas) for the workspace in the path.
 */
export function adminWorkspaceReadRoutes(deps: ApiDeps) {
  const router = newRouter();
  const route = <Q extends z.ZodObject | undefined, S extends z.ZodType>(path: string, description: string, schema: S, query: Q) => createRoute({
    method: 'get', path: `/v1/admin/workspaces/{id}${path}`, security: operatorBearer, description,
    request: { params: WorkspaceParams, ...(query ? { query: query as NonNullable<Q> } : {}) } as { params: typeof WorkspaceParams; query: NonNullable<Q> },
    responses: { 200: { description: 'As the workspace reads it', ...json(schema) }, ...workspaceProblems },
  });

  router.openapi(route('/credits', 'GET /v1/credits of the workspace (operator).', Balance, undefined), async (c) => {
    const id = await existing(deps.sql, c.req.valid('param').id);
    await expireDueAdjustments(deps.sql, id);
    return c.json(await currentBalance(deps.sql, id), 200);
  });

  router.openapi(route('/ledger', `GET /v1/ledger of the workspace (operator). ${LEDGER_RECONCILES}`, LedgerEntryList, PageQuery),
    async (c) => {
      const id = await existing(deps.sql, c.req.valid('param').id);
      const { limit, starting_after } = c.req.valid('query');
      const page = await listLedger(deps.sql, id, { limit, after: starting_after });
      if (!page) throw invalid('starting_after', 'not an entry id of this workspace');
      return c.json(page, 200);
    });

  router.openapi(
    createRoute({ method: 'get', path: '/v1/admin/workspaces/{id}/ledger/export', security: operatorBearer,
      description: `The whole journal as CSV (RFC 4180, a header row, oldest entry first; columns ${LEDGER_EXPORT_COLUMNS.join(', ')}), `
        + `after adjustment lots past their expiry are journaled (operator). ${LEDGER_RECONCILES}`,
      request: { params: WorkspaceParams },
      responses: { 200: { description: 'The journal', content: { 'text/csv': { schema: z.string() } } }, ...workspaceProblems } }),
    async (c) => {
      const id = await existing(deps.sql, c.req.valid('param').id);
      await expireDueAdjustments(deps.sql, id);
      const csv = stringify(await wholeJournal(deps.sql, id), { header: true, columns: [...LEDGER_EXPORT_COLUMNS] });
      return c.body(csv, 200, { 'content-type': 'text/csv; charset=utf-8', 'content-disposition': `attachment; filename="ledger-${id}.csv"` });
    },
  );

  router.openapi(route('/invoices', 'GET /v1/invoices of the workspace (operator).', InvoiceList, InvoiceQuery), async (c) => {
    const id = await existing(deps.sql, c.req.valid('param').id);
    return c.json(await invoicePage(deps.sql, id, c.req.valid('query')), 200);
  });

  router.openapi(route('/creations', 'GET /v1/creations of the workspace (operator).', CreationList, PageQuery), async (c) => {
    const id = await existing(deps.sql, c.req.valid('param').id);
    const { limit, starting_after } = c.req.valid('query');
    const page = await listCreations(deps.sql, id, { limit, after: starting_after });
    if (!page) throw invalid('starting_after', 'not a creation id of this workspace');
    return c.json(page, 200);
  });

  router.openapi(route('/notifications', 'GET /v1/notifications of the workspace (operator).', NotificationList, PageQuery),
    async (c) => {
      const id = await existing(deps.sql, c.req.valid('param').id);
      const { limit, starting_after } = c.req.valid('query');
      const page = await pageNotifications(deps.sql, id, { limit, after: starting_after });
      if (!page) throw invalid('starting_after', 'not a notification id of this workspace');
      return c.json(page, 200);
    });
  return router;
}
