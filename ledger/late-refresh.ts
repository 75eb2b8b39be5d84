/**
 * A lot granted after its invoice was refunded or while it is disputed (SPEC §10: a refund claws back, and a
 * dispute freezes, the credits the invoice granted). A yearly invoice grants its 12 monthly refreshes as they
 * come, and any invoice's lot comes a moment after its payment, so these effects must also reach the lots granted
 * after them:
 * - refunded in full (operator refunds, provider refunds, a lost dispute: its clawback target is every credit
 *   it grants), the new lot is clawed back whole: a refresh of a fully refunded invoice grants nothing;
 * - refunded in part (R < T), the invoice's clawback target becomes ceil(N × R / T) with N counting this lot
 *   (every credit the invoice has granted so far), and this lot gives the difference from the target already
 *   recorded, as much as it has: a yearly invoice refunded by half in month 1 keeps half of each later refresh,
 *   and the first lot of an invoice refunded before its grant gives the whole share the refund found no lot for;
 * - disputed (open), the new lot is frozen with the same freeze key as the lots the dispute found, so that the
 *   dispute's close (won, warning_closed, or lost after its clawback) thaws it with them.
 */
import { clawbackDue, creditsGrantedSoFar, invoiceGrants, type InvoiceGrantSource } from '../domain/billing/invoice-grants.js';
import { clawBack } from './clawback.js';
import type { Sql } from './db.js';
import { journalFreeze } from './invoice-clawback.js';
import { availableAt, journal, noteLowBalance, onceInLedger, type Tx } from './operations.js';

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
 * the grant (domain/billing/invoice-grants.ts) is refunded in full, its share taken when refunded in part
 * (clawBackShare), then frozen while a dispute on it is open.
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
  const clawedBack = invoice.refunded_cents !== null ? await clawBackShare(sql, req, invoice) : 0;
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
 * A lot granted after refunds of R < T cents of its invoice (operator or provider refunds, lost disputes' notes):
 * the invoice's target becomes ceil(N × R / T), N the credits it has granted so far counting this lot
 * (domain/billing/invoice-grants.ts clawbackDue), and this lot gives the difference from the target recorded,
 * as much as it has unheld (frozen or not, like a refund's clawback), journaled `clawback` under
 * `<invoice>:late-clawback:<grant key>`. What it lacks is not collected elsewhere (a just-granted lot lacks
 * nothing unless spent in the instant since its grant). A refund that committed after the grant counted this lot
 * in its own N, so nothing is due then. Under the workspace's lock (onceInLedger) like every refund, once per
 * grant. Returns the credits taken.
 */
async function clawBackShare(
  sql: Sql, req: { workspaceId: string; grantKey: string; lotId: number; at: Date }, invoice: Affected,
): Promise<number> {
  const key = `${invoice.id}:late-clawback:${req.grantKey}`;
  return onceInLedger(sql, { key, workspaceId: req.workspaceId }, async (tx, ctx) => {
    const [prior] = await tx<{ refunded_cents: number; target: number }[]>`
      SELECT refunded_cents, target FROM invoice_clawbacks WHERE invoice_id = ${invoice.id} FOR UPDATE`;
    const [lot] = await tx<{ unheld: number; spendable: boolean }[]>`
      SELECT l.remaining - l.held AS unheld, lot_spendable(l, ${req.at}) AS spendable
      FROM lots l WHERE l.id = ${req.lotId} AND l.expired_at IS NULL AND NOT lot_expired(l, ${req.at}) FOR UPDATE`;
    if (!prior) return 0;
    const grants = invoiceGrants(invoice);
    const { target, due } = clawbackDue({
      credits: creditsGrantedSoFar(grants, await grantedLots(tx, req.workspaceId, grants.map((g) => g.key))),
      refundedCents: Number(prior.refunded_cents), totalCents: Number(invoice.total_cents), recordedTarget: Number(prior.target),
    });
    if (due === 0) return 0;
    await tx`UPDATE invoice_clawbacks SET target = ${target} WHERE invoice_id = ${invoice.id}`;
    const take = Math.min(due, Math.max(lot?.unheld ?? 0, 0));
    if (!lot || take === 0) return 0;
    const before = await availableAt(tx, req.workspaceId, req.at);
    const after = lot.spendable ? before - take : before;
    await tx`UPDATE lots SET remaining = remaining - ${take} WHERE id = ${req.lotId}`;
    await journal(tx, [{ workspaceId: req.workspaceId, kind: 'clawback', lotId: req.lotId, remainingDelta: -take, heldDelta: 0,
      amount: after - before, balanceAfter: after, at: req.at, key }]);
    await noteLowBalance(tx, { workspaceId: req.workspaceId, ctx, before, after, key });
    return take;
  });
}

/** What the lots of these grants (by business key) were granted, for those granted so far. */
async function grantedLots(tx: Tx, workspaceId: string, grantKeys: string[]): Promise<Map<string, { granted: number }>> {
  if (grantKeys.length === 0) return new Map();
  const rows = await tx<{ key: string; granted: number }[]>`
    SELECT o.key, l.granted FROM ledger_operations o JOIN lots l ON l.id = (o.result->>'lotId')::bigint
    WHERE o.key IN ${tx(grantKeys)} AND o.workspace_id = ${workspaceId} AND o.result ? 'lotId'`;
  return new Map(rows.map((r) => [r.key, { granted: Number(r.granted) }]));
}
