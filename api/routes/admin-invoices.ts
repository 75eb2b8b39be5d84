/**
 * Operator routes on invoices (SPEC §10): refunds, and in the sandbox the close of a dispute
 * `pm_card_createDispute` opened. Operator keys only (a workspace key is a 403).
 */
import { createRoute, z } from '@hono/zod-openapi';
import { refundInvoice } from '../../billing/refunds.js';
import { type CreditNoteRow, creditNotesOf } from '../../ledger/credit-notes.js';
import { disputesOf } from '../../ledger/disputes.js';
import { requireOperator } from '../auth.js';
import { ApiError } from '../errors.js';
import { newRouter, type ApiDeps } from '../router.js';
import { Instant, json, operatorBearer, Problem, problemResponses, TextLine } from '../schemas.js';

export const CreditNote = z.object({
  id: z.string().openapi({ example: 'cn_5d1c0e8f2a7b3c4d5e6f7a8b' }),
  invoice_id: z.string(),
  amount_cents: z.number().int().openapi({ description: 'Cents given back: refunded_to_card_cents + credited_to_balance_cents' }),
  refunded_to_card_cents: z.number().int(),
  credited_to_balance_cents: z.number().int(),
  reason: z.string(),
  source: z.enum(['operator', 'provider', 'dispute_lost']).openapi({ description: 'An operator\'s refund, a refund made at the payment provider (its dashboard), or a lost dispute (no provider refund: the bank returned the money)' }),
  credits_clawed_back: z.number().int().openapi({ description: 'Credits taken back from the lots the invoice granted (ceil(N × R / T) in all over its refunds)' }),
  credits_pending: z.number().int().openapi({ description: 'Credits held when the refund was applied, taken when their hold is released' }),
  shortfall: z.number().int().openapi({ description: 'Credits of this refund\'s share already spent: recorded, never collected from other lots' }),
  provider_refund_id: z.string().nullable(),
  created_at: Instant,
}).openapi('CreditNote');

export function presentCreditNote(row: CreditNoteRow): z.infer<typeof CreditNote> {
  return {
    id: row.id, invoice_id: row.invoice_id, amount_cents: Number(row.amount_cents), refunded_to_card_cents: Number(row.refunded_to_card_cents),
    credited_to_balance_cents: Number(row.credited_to_balance_cents), reason: row.reason, source: row.source,
    credits_clawed_back: row.credits_clawed_back, credits_pending: row.credits_pending, shortfall: row.shortfall,
    provider_refund_id: row.provider_refund_id, created_at: row.created_at.toISOString(),
  };
}

const InvoiceParams = z.object({ id: TextLine.min(1).max(64) });
const RefundBody = z.object({
  amount_cents: z.number().int().positive().max(100_000_000).optional().openapi({ description: 'Cents to refund; all that is left when absent' }),
  reason: TextLine.trim().min(1).max(500),
}).strict().openapi('InvoiceRefundParams');
const DisputeParams = z.object({ id: TextLine.min(1).max(64) });
const CloseDisputeBody = z.object({ outcome: z.enum(['won', 'lost']) }).strict().openapi('SandboxDisputeCloseParams');
const SandboxDispute = z.object({ id: z.string(), status: z.string(), invoice_id: z.string() }).openapi('SandboxDispute');

const problem = (description: string) => ({ description, content: { 'application/problem+json': { schema: Problem } } });

export function adminInvoiceRoutes(deps: ApiDeps) {
  const router = newRouter();

  router.openapi(
    createRoute({
      method: 'post', path: '/v1/admin/invoices/{id}/refund', security: operatorBearer,
      summary: 'Refund a paid invoice (operator key)',
      description: 'Refunds a paid invoice in full or in part and records a credit note (SPEC §10). The card part comes first, up to what '
        + 'the card paid less earlier card refunds, through the payment provider (no call when it is 0); the rest returns to the customer '
        + 'balance. The credits the invoice granted are clawed back in proportion (ceil(N × R / T) in all); what was spent is the shortfall. '
        + 'The subscription is unchanged. With an Idempotency-Key a retry returns the same credit note.',
      request: { params: InvoiceParams, body: { ...json(RefundBody), required: true } },
      responses: {
        201: { description: 'The credit note', ...json(CreditNote) },
        ...problemResponses,
        404: problem('No such invoice'),
        409: problem('invoice_not_refundable (open, void, or a total ≤ 0), invoice_disputed (a dispute open or lost), refund_exceeds_paid (more than is left; `refundable_cents` says how much is)'),
        502: problem('provider_refund_failed: the payment provider refused the refund; nothing changed'),
      },
    }),
    async (c) => {
      const operatorKeyId = requireOperator(c.get('principal')) ?? undefined;
      const body = c.req.valid('json');
      const note = await refundInvoice(deps, {
        invoiceId: c.req.valid('param').id, amountCents: body.amount_cents, reason: body.reason,
        idempotencyKey: c.req.header('idempotency-key') || undefined, operatorKeyId,
      });
      return c.json(presentCreditNote(note), 201);
    },
  );

  router.openapi(
    createRoute({
      method: 'post', path: '/v1/admin/sandbox/disputes/{id}/close', security: operatorBearer,
      summary: 'Close a sandbox dispute (operator key, sandbox only)',
      description: 'Decides a dispute that paying with `pm_card_createDispute` opened, as the bank would, and sends `charge.dispute.closed` '
        + 'through the webhook endpoint: `won` thaws the frozen credits, `lost` records a credit note for the disputed amount (no provider '
        + 'refund) and claws back. 404 in Stripe mode.',
      request: { params: DisputeParams, body: { ...json(CloseDisputeBody), required: true } },
      responses: { 200: { description: 'The dispute as the sandbox decided it', ...json(SandboxDispute) }, ...problemResponses, 404: problem('No such sandbox dispute, or not in sandbox mode') },
    }),
    async (c) => {
      requireOperator(c.get('principal'));
      if (!deps.sandbox) throw new ApiError(404, 'not_found', 'sandbox disputes exist only in sandbox mode');
      const closed = await deps.sandbox.closeDispute(c.req.valid('param').id, c.req.valid('json').outcome);
      if (!closed) throw new ApiError(404, 'not_found', 'sandbox dispute not found');
      return c.json({ id: closed.id, status: closed.status, invoice_id: closed.invoiceId }, 200);
    },
  );
  return router;
}

/** What invoices show of their refunds and disputes: `credit_notes` (issued, oldest first) and `dispute: {id, status} | null` (the latest). */
export interface InvoiceRefundView {
  credit_notes: z.infer<typeof CreditNote>[];
  dispute: { id: string; status: string } | null;
}

/** The refund views of some invoices, read in two queries; an invoice without any gets `[]` and null. */
export async function refundViewsOf(sql: ApiDeps['sql'], invoiceIds: string[]): Promise<(invoiceId: string) => InvoiceRefundView> {
  const [notes, disputes] = await Promise.all([creditNotesOf(sql, invoiceIds), disputesOf(sql, invoiceIds)]);
  return (invoiceId) => {
    const dispute = disputes.get(invoiceId);
    return { credit_notes: (notes.get(invoiceId) ?? []).map(presentCreditNote), dispute: dispute ? { id: dispute.id, status: dispute.status } : null };
  };
}
