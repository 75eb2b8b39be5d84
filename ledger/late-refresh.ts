/**
 * A refresh granted after its invoice was refunded in full or while it is disputed (SPEC §10: a refund claws
 * back, and a dispute freezes, the credits the invoice granted). A yearly invoice grants its 12 monthly
 * refreshes as they come, so these effects must also reach the refreshes granted after them:
 * - refunded in full (operator refunds, provider refunds, a lost dispute: its clawback target is every credit
 *   it grants), the new lot is clawed back whole: a refresh of a fully refunded invoice grants nothing;
 * - disputed (open), the new lot is frozen with the same freeze key as the lots the dispute found, so that the
 *   dispute's close (won, warning_closed, or lost after its clawback) thaws it with them.
 * The same holds for a lot the workflow grants a moment after the payment (a first charge's, renewal's, switch's
 * or upgrade's) when the dispute's event is applied in between: its freeze found no lot. A partial refund's share
 * of later refreshes is not taken (README known limits).
 */
import { invoiceGrants, type InvoiceGrantSource } from '../domain/billing/invoice-grants.js';
import { clawBack } from './clawback.js';
import type { Sql } from './db.js';
import { journalFreeze } from './invoice-clawback.js';
import { onceInLedger } from './operations.js';

/**
 * Grants an invoice pays for that the workflow makes after the payment (a refresh, an upgrade's top-up lot): a
 * dispute or refund can land first (the sandbox disputes as it pays). A pack waits for its lot (billing/disputes.ts).
 */
const REFRESH_GRANT = /:refresh:\d+:grant$|:upgrade:[^:]+:-?\d+$/;

interface Affected extends InvoiceGrantSource {
  total_cents: number;
  refunded_cents: number | null;
  dispute_id: string | null;
}

/**
 * Settles lot `lotId`, just granted under `grantKey` at `at`: clawed back whole when the invoice that paid for
 * the grant (domain/billing/invoice-grants.ts) is refunded in full, else frozen while a dispute on it is open.
 * One read of the workspace's refunded or disputed invoices (none: nothing more); each effect is one ledger
 * operation keyed by the grant, so a retry repeats nothing. The freeze re-checks in its UPDATE that the
 * dispute is still open (a close that landed first thawed everything). Returns what it did, in credits.
 */
export async function settleLateRefresh(
  sql: Sql, req: { workspaceId: string; grantKey: string; lotId: number; credits: number; at: Date },
): Promise<{ clawedBack: number; frozen: number }> {
  const none = { clawedBack: 0, frozen: 0 };
  if (!REFRESH_GRANT.test(req.grantKey)) return none;
  const rows = await sql<Affected[]>`
    SELECT i.id, i.kind, i.business_key, i.lines, i.metadata, i.total_cents, c.refunded_cents, d.id AS dispute_id
    FROM invoices i
    LEFT JOIN invoice_clawbacks c ON c.invoice_id = i.id
    LEFT JOIN disputes d ON d.invoice_id = i.id AND d.outcome IS NULL
    WHERE i.id IN (SELECT invoice_id FROM invoice_clawbacks WHERE workspace_id = ${req.workspaceId}
                   UNION SELECT invoice_id FROM disputes WHERE workspace_id = ${req.workspaceId} AND outcome IS NULL)`;
  const invoice = rows.find((row) => invoiceGrants(row).some((g) => g.key === req.grantKey));
  if (!invoice) return none;
  if (invoice.refunded_cents !== null && invoice.total_cents > 0 && invoice.refunded_cents >= invoice.total_cents) {
    const taken = await clawBack(sql, { key: `${invoice.id}:refunded:${req.grantKey}`, workspaceId: req.workspaceId, grantKeys: [req.grantKey], credits: req.credits, at: req.at });
    return { clawedBack: taken.clawedBack, frozen: 0 };
  }
  if (invoice.dispute_id === null) return none;
  // The dispute's own freeze key (billing/disputes.ts disputeKeys.freeze): its thaw finds the lot by the invoice.
  const freezeKey = `dispute:${invoice.dispute_id}:freeze`;
  const frozen = await onceInLedger(sql, { key: `${freezeKey}:${req.grantKey}`, workspaceId: req.workspaceId }, async (tx, ctx) => {
    const changed = await tx<{ id: number; available: number }[]>`
      UPDATE lots SET dispute_freeze_key = ${freezeKey}
      FROM (SELECT l.id AS lot_id, lot_available(l, ${req.at}) AS available FROM lots l
            WHERE l.id = ${req.lotId} AND l.dispute_freeze_key IS NULL AND l.remaining > 0
              AND l.expired_at IS NULL AND NOT lot_expired(l, ${req.at})
              AND EXISTS (SELECT 1 FROM disputes d WHERE d.id = ${invoice.dispute_id} AND d.outcome IS NULL)
            FOR UPDATE) old
      WHERE lots.id = old.lot_id
      RETURNING lots.id, old.available`;
    return journalFreeze(tx, ctx, req.workspaceId, changed, 'freeze', { key: freezeKey, at: req.at });
  });
  return { clawedBack: 0, frozen };
}
