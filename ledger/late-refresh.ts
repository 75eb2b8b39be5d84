/**
 * A refresh granted after its invoice was refunded in full or while it is disputed (SPEC §10: a refund claws
 * back, and a dispute freezes, the credits the invoice granted). A yearly invoice grants its 12 monthly
 * refreshes as they come, so these effects must also reach the refreshes granted after them:
 * - refunded in full (operator refunds, provider refunds, a lost dispute: its clawback target is every credit
 *   it grants), the new lot is clawed back whole: a refresh of a fully refunded invoice grants nothing;
 * - disputed (open), the new lot is frozen with the same freeze key as the lots the dispute found, so that the
 *   dispute's close (won, warning_closed, or lost after its clawback) thaws it with them.
 * The same holds for a lot the workflow grants a moment after the payment (a first charge's, renewal's, switch's
 * or upgrade's) when the dispute's event is applied in between: its freeze found no lot. When the dispute was
 * even lost before that grant (or a refund came first) in part, the invoice's first lot is clawed back as the
 * refund's clawback would have taken it, had it been granted: ceil(N × R / T), N counting this lot.
 * A partial refund's share of later refreshes is not taken (README known limits).
 */
import { clawbackTarget, invoiceGrants, type InvoiceGrantSource } from '../domain/billing/invoice-grants.js';
import { clawBack } from './clawback.js';
import type { Sql } from './db.js';
import { journalFreeze } from './invoice-clawback.js';
import { availableAt, journal, noteLowBalance, onceInLedger } from './operations.js';

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
  const clawedBack = invoice.refunded_cents !== null && invoiceGrants(invoice)[0]?.key === req.grantKey
    ? await clawBackFirstLot(sql, req, invoice) : 0;
  if (invoice.dispute_id === null) return { clawedBack, frozen: 0 };
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
  return { clawedBack, frozen };
}

/**
 * The first lot of an invoice refunded in part (a partial lost dispute, a refund) before the lot was granted:
 * the refunds' clawback found no lot and took nothing (nothing spent, so no shortfall either), so this lot owes
 * ceil(N × R / T) credits (N the invoice's credits counting this lot's, R what the invoice's clawbacks recorded
 * as refunded), as much as is available now; the invoice's recorded target rises to match, so a later refund
 * takes only the difference. Nothing when a refund's clawback already reached the lot (it committed after the
 * grant). Once per grant. Returns the credits taken.
 */
async function clawBackFirstLot(
  sql: Sql, req: { workspaceId: string; grantKey: string; lotId: number; credits: number; at: Date }, invoice: Affected,
): Promise<number> {
  const key = `${invoice.id}:late-clawback:${req.grantKey}`;
  return onceInLedger(sql, { key, workspaceId: req.workspaceId }, async (tx, ctx) => {
    const [prior] = await tx<{ refunded_cents: number; target: number }[]>`
      SELECT refunded_cents, target FROM invoice_clawbacks WHERE invoice_id = ${invoice.id} FOR UPDATE`;
    const [lot] = await tx<{ available: number; reached: boolean }[]>`
      SELECT lot_available(l, ${req.at}) AS available,
        EXISTS (SELECT 1 FROM lot_pending_clawbacks p WHERE p.invoice_id = ${invoice.id} AND p.lot_id = l.id)
        OR EXISTS (SELECT 1 FROM ledger_entries e WHERE e.workspace_id = ${req.workspaceId} AND e.lot_id = l.id AND e.kind = 'clawback') AS reached
      FROM lots l WHERE l.id = ${req.lotId} AND l.expired_at IS NULL FOR UPDATE`;
    if (!prior || !lot || lot.reached) return 0;
    const credits = invoiceGrants(invoice).reduce((sum, g) => sum + (g.credits ?? (g.key === req.grantKey ? req.credits : 0)), 0);
    const target = clawbackTarget(credits, Number(prior.refunded_cents), Number(invoice.total_cents));
    const take = Math.min(target, lot.available);
    await tx`UPDATE invoice_clawbacks SET target = GREATEST(target, ${target}) WHERE invoice_id = ${invoice.id}`;
    if (take <= 0) return 0;
    const before = await availableAt(tx, req.workspaceId, req.at);
    await tx`UPDATE lots SET remaining = remaining - ${take} WHERE id = ${req.lotId}`;
    await journal(tx, [{ workspaceId: req.workspaceId, kind: 'clawback', lotId: req.lotId, remainingDelta: -take, heldDelta: 0, amount: -take,
      balanceAfter: before - take, at: req.at, key }]);
    await noteLowBalance(tx, { workspaceId: req.workspaceId, ctx, before, after: before - take, key });
    return take;
  });
}
