/**
 * What the period in force of a subscription was paid and refunded (SPEC §4, §10), read for pricing a change:
 * the subscription's paid invoices with their credit notes, reduced by the pure rule in
 * domain/billing/refund-aware-credit.ts.
 */
import type { PaidSubscriptionInvoice } from '../domain/billing/proration-credits.js';
import type { LedgerView } from '../domain/lifecycle/changes.js';
import { type PeriodInForceMoney, periodInForceMoney } from '../domain/billing/refund-aware-credit.js';
import type { Sql } from './db.js';
import { planCreditsOfGrants } from './grants.js';
import type { Tx } from './operations.js';

/**
 * A subscription's paid subscription, upgrade and interval-switch invoices in creation order, each with the
 * sum of its credit notes (pending ones too: they are promised) as `refundedCents`. With `unpaidChanges`, also its
 * upgrade and interval-switch invoices drafted or open (waiting for 3-D Secure or a retry): their unused-time
 * credit is promised too (a negative total already went to the customer balance at the draft). One query
 * (invoices_by_workspace narrows it to the workspace; credit_notes_by_invoice sums each invoice's notes).
 */
export async function paidSubscriptionInvoices(
  tx: Tx | Sql, workspaceId: string, subscriptionId: string, opts: { unpaidChanges?: boolean } = {},
): Promise<PaidSubscriptionInvoice[]> {
  const rows = await tx<{ id: string; number: string | null; kind: PaidSubscriptionInvoice['kind']; total_cents: number; lines: PaidSubscriptionInvoice['lines']; refunded: string }[]>`
    SELECT i.id, i.number, i.kind, i.total_cents, i.lines,
           coalesce((SELECT sum(n.amount_cents) FROM credit_notes n WHERE n.invoice_id = i.id), 0)::bigint AS refunded
    FROM invoices i
    WHERE i.workspace_id = ${workspaceId} AND i.subscription_id = ${subscriptionId}
      AND i.kind IN ('subscription', 'upgrade', 'interval_switch')
      AND (i.status = 'paid' OR (${opts.unpaidChanges ?? false}::boolean AND i.kind <> 'subscription' AND i.status IN ('draft', 'open')))
    ORDER BY i.seq`;
  return rows.map((r) => ({ id: r.id, number: r.number, kind: r.kind, totalCents: r.total_cents, lines: r.lines, refundedCents: Number(r.refunded) }));
}

/**
 * Locks (FOR SHARE, for the rest of the transaction) the paid invoices whose time a change's unused-time credit
 * can give back: the subscription's latest paid period invoice (first charge or renewal) and the paid upgrades
 * and switches after it (domain/billing/proration-credits.ts links a credit to them). A refund, a dashboard
 * refund or a lost dispute of one of them records its note under that invoice's row lock (FOR UPDATE,
 * ledger/credit-notes.ts lockInvoice), so it and a change's draft see each other: whichever commits second reads
 * the first. Taken before the workspace row, in the order refunds take their locks (invoice, then the workspace
 * row their note's key points at), so the two never wait on each other in a cycle; FOR SHARE does not block the
 * foreign-key checks (KEY SHARE) a refund's clawback makes on the invoice while it holds the workspace row.
 */
export async function lockPeriodCredited(tx: Tx, workspaceId: string, subscriptionId: string): Promise<void> {
  await tx`
    SELECT i.id FROM invoices i
    WHERE i.workspace_id = ${workspaceId} AND i.subscription_id = ${subscriptionId} AND i.status = 'paid'
      AND i.kind IN ('subscription', 'upgrade', 'interval_switch')
      AND i.seq >= coalesce((SELECT max(p.seq) FROM invoices p WHERE p.workspace_id = ${workspaceId} AND p.subscription_id = ${subscriptionId}
                              AND p.status = 'paid' AND p.kind = 'subscription'), 0)
    ORDER BY i.seq FOR SHARE OF i`;
}

/** What the subscription's period in force was paid and refunded (cents); null without a paid invoice. */
export async function periodInForceOf(tx: Tx | Sql, workspaceId: string, subscriptionId: string): Promise<PeriodInForceMoney | null> {
  return periodInForceMoney(await paidSubscriptionInvoices(tx, workspaceId, subscriptionId));
}

/**
 * What pricing a change reads from the ledger (SPEC §4, §10), for the workflow and its preview alike: what the
 * period in force was paid and refunded and, for an interval switch (`switching`), the plan credits of the lots
 * of `grantKeys` at `at`: still available, frozen by an open dispute, and taken by operators' negative adjustments
 * (the last two always present in views read since 2026-11-30; recorded views without them price as before).
 */
export async function changeLedgerView(sql: Sql, input: { workspaceId: string; subscriptionId: string; grantKeys: string[]; at: Date; switching: boolean }): Promise<LedgerView> {
  const [periodInForce, credits] = await Promise.all([
    periodInForceOf(sql, input.workspaceId, input.subscriptionId),
    input.switching ? planCreditsOfGrants(sql, input.workspaceId, input.grantKeys, input.at) : undefined,
  ]);
  if (credits === undefined) return { periodInForce };
  return { periodInForce, availablePlanCredits: credits.available, frozenPlanCredits: credits.frozen, adjustedAwayCredits: credits.adjustedAway };
}
