import { createRoute, z } from '@hono/zod-openapi';
import { listInvoices, type InvoiceRow } from '../../ledger/invoices.js';
import { requireWorkspace } from '../auth.js';
import { newRouter, type ApiDeps } from '../router.js';
import { bearer, problemResponses } from '../schemas.js';

export const Invoice = z.object({
  id: z.string(),
  kind: z.enum(['subscription', 'upgrade', 'interval_switch', 'pack']),
  status: z.enum(['paid', 'open', 'void']),
  lines: z.array(z.object({ description: z.string(), amount_cents: z.number().int() })),
  subtotal_cents: z.number().int(),
  tax_cents: z.number().int(),
  total_cents: z.number().int(),
  amount_due_cents: z.number().int(),
  hosted_url: z.string().nullable(),
  pdf_url: z.string().nullable(),
  created_at: z.string(),
}).openapi('Invoice');

export function presentInvoice(row: InvoiceRow): z.infer<typeof Invoice> {
  return {
    id: row.id, kind: row.kind, status: row.status as 'paid' | 'open' | 'void', lines: row.lines,
    subtotal_cents: row.subtotal_cents, tax_cents: row.tax_cents, total_cents: row.total_cents,
    amount_due_cents: row.amount_due_cents, hosted_url: row.hosted_url, pdf_url: row.pdf_url,
    created_at: row.created_at.toISOString(),
  };
}

export function invoiceRoutes(deps: ApiDeps) {
  const router = newRouter();
  router.openapi(
    createRoute({ method: 'get', path: '/v1/invoices', tags: ['billing'], security: bearer,
      responses: { 200: { description: 'Invoices, newest first', content: { 'application/json': { schema: z.object({ data: z.array(Invoice) }) } } }, ...problemResponses } }),
    async (c) => {
      const workspace = requireWorkspace(c.get('principal'));
      return c.json({ data: (await listInvoices(deps.sql, workspace.id)).map(presentInvoice) }, 200);
    },
  );
  return router;
}
