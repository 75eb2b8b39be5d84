/**
 * The ledger side of refunds and disputes (SPEC §10): clawing back the credits a refunded invoice granted,
 * freezing them while it is disputed, thawing them when the dispute is won. Only the lots the invoice granted
 * are touched (domain/billing/invoice-grants.ts), each operation once per business key (onceInLedger), every
 * operation of a workspace serialised by its row lock (so concurrent refunds of one invoice never over-take).
 * Held credits are settled by the spend path when their hold ends (ledger_end, migration 1732400000015).
 */
import { clawbackTarget, creditsGrantedSoFar, type InvoiceGrantSource, invoiceGrants } from '../domain/billing/invoice-grants.js';
import type { Sql } from './db.js';
import { availableAt, type Entry, journal, type LedgerContext, noteLowBalance, onceInLedger, type Tx } from './operations.js';

/** What one refund did to the credits (SPEC §10 credit note `credits_clawed_back`, `shortfall`). */
export interface RefundClawback {
  /** Credits taken at once (unspent, unheld credits of the invoice's lots). */
  clawedBack: number;
  /** Credits held when the refund was applied: taken when their hold is released (shortfall if captured). */
  pending: number;
  /** Credits of this refund's share already spent: recorded, never collected from other lots. */
  shortfall: number;
}

interface InvoiceRow extends InvoiceGrantSource {
  workspace_id: string;
  total_cents: number;
}

interface GrantedLot {
  id: number;
  granted: number;
  remaining: number;
  held: number;
  clawback_pending: number;
  available: number;
  /** Unexpired at `at` and never retired: its credits can still be taken. */
  live: boolean;
  spendable: boolean;
}

/**
 * Claws back what refunds totalling `refundedCentsTotal` of invoice `invoiceId` owe (SPEC §10): ceil(N × R / T)
 * credits in all, N the credits the invoice granted so far (a yearly period invoice: its refreshes granted by now;
 * each later refresh takes its share when granted, ledger/late-refresh.ts), T its total; this call takes the
 * difference with the target recorded by earlier refunds and grants of the invoice. Of that share: unspent,
 * unheld credits of the invoice's lots are taken now (latest to expire first, frozen or not: journaled
 * `clawback` −c/0 under `key`, amount −c, or 0 from a lot that does not count towards the balance); held
 * credits are left pending (taken when released, shortfall when captured); the rest, up to what was spent
 * from these lots, is shortfall; credits that expired or were forfeited are neither. R is the refunded total
 * (cents): a smaller R than one already applied (concurrent refunds applied out of order) takes nothing more.
 * Once per `key`.
 * Throws when the invoice does not exist.
 */
export async function clawBackForRefund(
  sql: Sql,
  req: { key: string; invoiceId: string; refundedCentsTotal: number; at: Date },
): Promise<RefundClawback> {
  const invoice = await readInvoice(sql, req.invoiceId);
  return onceInLedger(sql, { key: req.key, workspaceId: invoice.workspace_id }, async (tx, ctx) => {
    const ws = invoice.workspace_id;
    const grants = invoiceGrants(invoice);
    const lots = await lotsOfGrants(tx, ws, grants.map((g) => g.key), req.at);
    const credits = creditsGrantedSoFar(grants, lots);
    const [prior] = await tx<{ refunded_cents: number; target: number; shortfall: number }[]>`
      SELECT refunded_cents, target, shortfall FROM invoice_clawbacks WHERE invoice_id = ${invoice.id} FOR UPDATE`;
    const refunded = Math.max(prior?.refunded_cents ?? 0, req.refundedCentsTotal);
    const target = Math.max(prior?.target ?? 0, clawbackTarget(credits, refunded, invoice.total_cents));
    let left = target - (prior?.target ?? 0);
    const result: RefundClawback = { clawedBack: 0, pending: 0, shortfall: 0 };
    // Latest to expire first: the credits the customer would have kept longest (SQL lot_burn_key, reversed).
    const order = [...lots.values()].filter((l) => l.live);
    const before = await availableAt(tx, ws, req.at);
    let balance = before;
    const entries: Entry[] = [];
    for (const lot of order) {
      const take = Math.min(left, lot.remaining - lot.held);
      if (take <= 0) continue;
      left -= take;
      result.clawedBack += take;
      if (lot.spendable) balance -= take;
      await tx`UPDATE lots SET remaining = remaining - ${take} WHERE id = ${lot.id}`;
      entries.push({ workspaceId: ws, kind: 'clawback', lotId: lot.id, remainingDelta: -take, heldDelta: 0,
        amount: lot.spendable ? -take : 0, balanceAfter: balance, at: req.at, key: req.key });
    }
    for (const lot of order) {
      const pend = Math.min(left, lot.held - lot.clawback_pending);
      if (pend <= 0) continue;
      left -= pend;
      result.pending += pend;
      await tx`UPDATE lots SET clawback_pending = clawback_pending + ${pend} WHERE id = ${lot.id}`;
      await tx`INSERT INTO lot_pending_clawbacks (lot_id, invoice_id, operation_key, credits, pending)
               VALUES (${lot.id}, ${invoice.id}, ${req.key}, ${pend}, ${pend})`;
    }
    if (left > 0) result.shortfall = Math.min(left, await spentNotYetShortfall(tx, ws, invoice.id, [...lots.values()], prior?.shortfall ?? 0));
    await tx`
      INSERT INTO invoice_clawbacks (invoice_id, workspace_id, refunded_cents, target, shortfall)
      VALUES (${invoice.id}, ${ws}, ${refunded}, ${target}, ${result.shortfall})
      ON CONFLICT (invoice_id) DO UPDATE SET refunded_cents = EXCLUDED.refunded_cents, target = EXCLUDED.target,
        shortfall = invoice_clawbacks.shortfall + EXCLUDED.shortfall`;
    await journal(tx, entries);
    await noteLowBalance(tx, { workspaceId: ws, ctx, before, after: balance, key: req.key });
    return { ...result };
  });
}

/**
 * A refund's clawback as it stands now (`clawBackForRefund` answers as of the refund): its pending credits
 * settled since as clawed back (released), shortfall (captured) or neither (released after the lot expired).
 * A credit note may show these figures as they settle. Undefined when no refund ran under `key`.
 */
export async function readRefundClawback(sql: Sql | Tx, key: string): Promise<RefundClawback | undefined> {
  const [op] = await sql<{ result: RefundClawback | null }[]>`SELECT result FROM ledger_operations WHERE key = ${key}`;
  if (!op?.result) return undefined;
  const [settled] = await sql<{ pending: number; clawed_back: number; shortfall: number }[]>`
    SELECT coalesce(sum(pending), 0)::int AS pending, coalesce(sum(clawed_back), 0)::int AS clawed_back,
      coalesce(sum(shortfall), 0)::int AS shortfall
    FROM lot_pending_clawbacks WHERE operation_key = ${key}`;
  return {
    clawedBack: op.result.clawedBack + settled!.clawed_back,
    pending: settled!.pending,
    shortfall: op.result.shortfall + settled!.shortfall,
  };
}

/**
 * A dispute opened on invoice `invoiceId` (SPEC §10 `charge.dispute.created`): the lots it granted stop
 * counting towards the balance (unspent, unheld credits now, journaled `freeze` 0/0 with −the spendable part;
 * a held part when its hold is released). Separate from a pack's freeze while nothing is live. A frozen lot
 * still expires on its date. Once per `key`; the lots remember it, and their later freeze entries carry it.
 * Throws when the invoice does not exist.
 */
export async function freezeForDispute(sql: Sql, req: { key: string; invoiceId: string; at: Date }): Promise<{ lots: number; credits: number }> {
  const invoice = await readInvoice(sql, req.invoiceId);
  return onceInLedger(sql, { key: req.key, workspaceId: invoice.workspace_id }, async (tx, ctx) => {
    const lotIds = await lotIdsOfInvoice(tx, invoice);
    if (lotIds.length === 0) return { lots: 0, credits: 0 };
    const changed = await tx<{ id: number; available: number }[]>`
      UPDATE lots SET dispute_freeze_key = ${req.key}
      FROM (SELECT l.id AS lot_id, lot_available(l, ${req.at}) AS available FROM lots l
            WHERE l.id IN ${tx(lotIds)} AND l.dispute_freeze_key IS NULL AND l.remaining > 0
              AND l.expired_at IS NULL AND NOT lot_expired(l, ${req.at})
            ORDER BY l.id FOR UPDATE) old
      WHERE lots.id = old.lot_id
      RETURNING lots.id, old.available`;
    return { lots: changed.length, credits: await journalFreeze(tx, ctx, invoice.workspace_id, changed, 'freeze', req) };
  });
}

/**
 * A dispute on invoice `invoiceId` closed won or warning_closed (SPEC §10): what disputes froze of its lots counts
 * again (journaled `thaw` 0/0 with +the part that becomes spendable: a lot that expired meanwhile stays
 * expired, a pack frozen because nothing is live stays frozen). For a lost dispute, claw back first
 * (clawBackForRefund), then thaw what the clawback left. `freezeKey` (the key freezeForDispute ran under):
 * thaw only what that freeze froze, should another dispute of the invoice have frozen its lots since; without
 * it, every dispute freeze of the invoice's lots. Once per `key`. Throws when the invoice does not exist.
 */
export async function thawForDispute(
  sql: Sql, req: { key: string; invoiceId: string; at: Date; freezeKey?: string },
): Promise<{ lots: number; credits: number }> {
  const invoice = await readInvoice(sql, req.invoiceId);
  return onceInLedger(sql, { key: req.key, workspaceId: invoice.workspace_id }, async (tx, ctx) => {
    const lotIds = await lotIdsOfInvoice(tx, invoice);
    if (lotIds.length === 0) return { lots: 0, credits: 0 };
    const changed = await tx<{ id: number; available: number }[]>`
      UPDATE lots SET dispute_freeze_key = NULL
      FROM (SELECT l.id AS lot_id FROM lots l WHERE l.id IN ${tx(lotIds)} AND l.dispute_freeze_key IS NOT NULL
              ${req.freezeKey === undefined ? tx`` : tx`AND l.dispute_freeze_key = ${req.freezeKey}`}
            ORDER BY l.id FOR UPDATE) old
      WHERE lots.id = old.lot_id
      RETURNING lots.id, lot_available(lots, ${req.at}) AS available`;
    return { lots: changed.length, credits: await journalFreeze(tx, ctx, invoice.workspace_id, changed, 'thaw', req) };
  });
}

/** Journals dispute freezes or thaws of `lots` (`available`: the part that stops or starts counting). */
export async function journalFreeze(
  tx: Tx, ctx: LedgerContext, workspaceId: string, lots: { id: number; available: number }[], kind: 'freeze' | 'thaw',
  req: { key: string; at: Date },
): Promise<number> {
  const sign = kind === 'freeze' ? -1 : 1;
  const after = await availableAt(tx, workspaceId, req.at);
  const moved = lots.reduce((sum, lot) => sum + lot.available, 0);
  let balance = after - sign * moved;
  const before = balance;
  await journal(tx, lots.map((lot) => {
    balance += sign * lot.available;
    return { workspaceId, kind, lotId: lot.id, remainingDelta: 0, heldDelta: 0, amount: sign * lot.available, balanceAfter: balance, at: req.at, key: req.key };
  }));
  await noteLowBalance(tx, { workspaceId, ctx, before, after, key: req.key });
  return moved;
}

async function readInvoice(sql: Sql, invoiceId: string): Promise<InvoiceRow> {
  const [invoice] = await sql<InvoiceRow[]>`
    SELECT id, workspace_id, kind, business_key, lines, metadata, total_cents FROM invoices WHERE id = ${invoiceId}`;
  if (!invoice) throw new Error(`invoice ${invoiceId} not found`);
  return { ...invoice, total_cents: Number(invoice.total_cents) };
}

async function lotIdsOfInvoice(tx: Tx, invoice: InvoiceRow): Promise<number[]> {
  const keys = invoiceGrants(invoice).map((g) => g.key);
  if (keys.length === 0) return [];
  const rows = await tx<{ lot_id: number }[]>`
    SELECT (result->>'lotId')::bigint AS lot_id FROM ledger_operations
    WHERE key IN ${tx(keys)} AND workspace_id = ${invoice.workspace_id} AND result ? 'lotId'`;
  return rows.map((r) => Number(r.lot_id));
}

/** The granted lots of these grant keys (locked), latest to expire first, by grant key. */
async function lotsOfGrants(tx: Tx, workspaceId: string, grantKeys: string[], at: Date): Promise<Map<string, GrantedLot>> {
  if (grantKeys.length === 0) return new Map();
  const rows = await tx<(GrantedLot & { key: string })[]>`
    SELECT o.key, l.id, l.granted, l.remaining, l.held, l.clawback_pending, lot_available(l, ${at}) AS available,
      (l.expired_at IS NULL AND NOT lot_expired(l, ${at})) AS live, lot_spendable(l, ${at}) AS spendable
    FROM ledger_operations o JOIN lots l ON l.id = (o.result->>'lotId')::bigint
    WHERE o.key IN ${tx(grantKeys)} AND o.workspace_id = ${workspaceId} AND o.result ? 'lotId'
    ORDER BY lot_burn_key(l) DESC
    FOR UPDATE OF l`;
  return new Map(rows.map((r) => [r.key, { ...r, id: Number(r.id) }]));
}

/**
 * Credits captured from these lots not yet counted as any refund's shortfall (at refund time or as pending
 * credits captured since): what a refund may still record as shortfall. Reads the lots' capture entries
 * through the workspace's journal index (a refund is a rare operator action).
 */
async function spentNotYetShortfall(tx: Tx, workspaceId: string, invoiceId: string, lots: GrantedLot[], recorded: number): Promise<number> {
  if (lots.length === 0) return 0;
  const [row] = await tx<{ captured: number; settled: number }[]>`
    SELECT
      (SELECT coalesce(sum(-e.remaining_delta), 0)::int FROM ledger_entries e
       WHERE e.workspace_id = ${workspaceId} AND e.kind = 'capture' AND e.lot_id IN ${tx(lots.map((l) => l.id))}) AS captured,
      (SELECT coalesce(sum(p.shortfall), 0)::int FROM lot_pending_clawbacks p WHERE p.invoice_id = ${invoiceId}) AS settled`;
  return Math.max(0, row!.captured - recorded - row!.settled);
}
