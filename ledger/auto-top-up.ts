/**
 * Automatic top-ups in Postgres (SPEC §11, migration 1732400000020): the setting, the top-ups the spend
 * path's hook recorded (ledger_auto_top_up_check), and their outcome with the notifications it sends,
 * each in one transaction.
 */
import { afterOutcome, capMonth } from '../domain/auto-top-up.js';
import type { Sql } from './db.js';

export interface AutoTopUpSettings {
  enabled: boolean;
  /** Credits: a crossing below this buys a pack. */
  threshold: number;
  /** Credits of the pack bought: 100 or 500. */
  pack: number;
  monthly_limit_cents: number;
}

export interface AutoTopUpRow {
  id: string;
  workspace_id: string;
  trigger_key: string;
  cause: 'capture' | 'expiry' | 'refusal';
  status: 'pending' | 'paid' | 'failed' | 'skipped';
  pack_credits: number;
  amount_cents: number | null;
  invoice_id: string | null;
  failure_code: string | null;
  available: number;
  created_at: Date;
  updated_at: Date;
  /** Recording order. */
  seq: number;
}

/** The setting and where it stands (GET /v1/auto-top-up); undefined when never saved. */
export interface AutoTopUpView extends AutoTopUpSettings {
  /** The next crossing below the threshold buys a pack. */
  armed: boolean;
  failures_in_row: number;
  /** Why it was turned off by the system (`payment_failed_twice`), null otherwise. */
  disabled_reason: string | null;
  /** The automatic top-up in flight, if any. */
  pending: { id: string; created_at: Date } | null;
  /** This calendar month (UTC, workspace's time): cents of paid and in-flight automatic top-ups, and how many. */
  this_month: { month: string; spent_cents: number; count: number };
  /** The latest ten, newest first. */
  recent: AutoTopUpRow[];
}

/** Saves the setting: armed again, the failure count and a system disable cleared. `at`: the workspace's time. */
export async function saveAutoTopUp(sql: Sql, workspaceId: string, s: AutoTopUpSettings, at: Date): Promise<void> {
  await sql`
    INSERT INTO auto_top_up_settings (workspace_id, enabled, threshold, pack_credits, monthly_limit_cents, armed, failures_in_row,
                                      disabled_reason, seen_entry_id, updated_at)
    VALUES (${workspaceId}, ${s.enabled}, ${s.threshold}, ${s.pack}, ${s.monthly_limit_cents}, true, 0, NULL, 0, ${at})
    ON CONFLICT (workspace_id) DO UPDATE SET enabled = excluded.enabled, threshold = excluded.threshold,
      pack_credits = excluded.pack_credits, monthly_limit_cents = excluded.monthly_limit_cents, armed = true,
      failures_in_row = 0, disabled_reason = NULL, seen_entry_id = 0, updated_at = excluded.updated_at`;
}

/**
 * Cents and count of automatic top-ups paid or in flight in the calendar month (UTC) of `at`, one top-up
 * excluded (the one being decided). An in-flight one not priced yet counts at `pendingPriceCents`.
 */
export async function monthSpend(
  sql: Sql, workspaceId: string, at: Date, opts: { excludeId?: string; pendingPriceCents?: number } = {},
): Promise<{ month: string; spent_cents: number; count: number }> {
  const month = capMonth(at);
  const [row] = await sql<{ spent: number; count: number }[]>`
    SELECT coalesce(sum(coalesce(amount_cents, ${opts.pendingPriceCents ?? 0})), 0)::int AS spent, count(*)::int AS count
    FROM auto_top_ups
    WHERE workspace_id = ${workspaceId} AND status IN ('paid', 'pending') AND id <> ${opts.excludeId ?? ''}
      AND created_at >= ${month.start} AND created_at < ${month.end}`;
  return { month: month.key, spent_cents: row!.spent, count: row!.count };
}

/** The setting and its state at the workspace's time `now`; undefined when never saved. */
export async function readAutoTopUp(sql: Sql, workspaceId: string, now: Date): Promise<AutoTopUpView | undefined> {
  const [s] = await sql<{
    enabled: boolean; threshold: number; pack_credits: number; monthly_limit_cents: number; armed: boolean;
    failures_in_row: number; disabled_reason: string | null;
  }[]>`
    SELECT s.enabled, s.threshold, s.pack_credits, s.monthly_limit_cents, s.failures_in_row, s.disabled_reason,
      -- The hook's own arming rule (migration 1732400000020), read without writing: armed, or the balance was
      -- at or above the threshold since the crossing that disarmed it.
      s.armed OR auto_top_up_rose(s.workspace_id, s.seen_entry_id, s.threshold) AS armed
    FROM auto_top_up_settings s WHERE s.workspace_id = ${workspaceId}`;
  if (!s) return undefined;
  const recent = await sql<AutoTopUpRow[]>`
    SELECT * FROM auto_top_ups WHERE workspace_id = ${workspaceId} ORDER BY seq DESC LIMIT 10`;
  const pending = recent.find((t) => t.status === 'pending')
    ?? (await sql<AutoTopUpRow[]>`SELECT * FROM auto_top_ups WHERE workspace_id = ${workspaceId} AND status = 'pending'`)[0];
  return {
    enabled: s.enabled, threshold: s.threshold, pack: s.pack_credits, monthly_limit_cents: s.monthly_limit_cents,
    armed: s.armed, failures_in_row: s.failures_in_row, disabled_reason: s.disabled_reason,
    pending: pending ? { id: pending.id, created_at: pending.created_at } : null,
    this_month: await monthSpend(sql, workspaceId, now), recent: [...recent],
  };
}

/** Pending top-ups, oldest first, recorded after `afterSeq` (the worker's sweep, a page at a time). */
export async function pendingTopUps(sql: Sql, limit = 20, afterSeq: AutoTopUpRow['seq'] = 0): Promise<AutoTopUpRow[]> {
  return [...await sql<AutoTopUpRow[]>`
    SELECT * FROM auto_top_ups WHERE status = 'pending' AND seq > ${afterSeq} ORDER BY seq LIMIT ${limit}`];
}

/** The setting the worker re-checks at charge time (enabled, limit), or undefined. */
export async function topUpSetting(sql: Sql, workspaceId: string): Promise<(AutoTopUpSettings & { failures_in_row: number }) | undefined> {
  const [row] = await sql<(AutoTopUpSettings & { failures_in_row: number })[]>`
    SELECT enabled, threshold, pack_credits AS pack, monthly_limit_cents, failures_in_row
    FROM auto_top_up_settings WHERE workspace_id = ${workspaceId}`;
  return row;
}

export interface TopUpOutcome {
  status: 'paid' | 'failed' | 'skipped';
  amountCents?: number | null;
  invoiceId?: string | null;
  /** A decline code, `authentication_required`, or the skip reason. */
  failureCode?: string | null;
  /** The workspace's time. */
  at: Date;
}

/**
 * Ends a pending top-up, once (a second call finds it ended and changes nothing: false); a paid outcome also
 * ends one a racing pass recorded skipped while this one was charging it (a paid pack always counts). In the same
 * transaction: the failure count (a paid one resets it, a failed one adds one, two in a row disable
 * automatic top-ups) and the notifications: `top_up_failed` per failed top-up, `auto_top_up_disabled` when it
 * disables, `top_up_skipped` at most once per calendar month (UTC) of the workspace's time (not when it was turned off meanwhile).
 */
export async function settleTopUp(sql: Sql, topUpId: string, outcome: TopUpOutcome): Promise<boolean> {
  return sql.begin(async (tx) => {
    const [topUp] = await tx<AutoTopUpRow[]>`
      UPDATE auto_top_ups SET status = ${outcome.status}, amount_cents = coalesce(${outcome.amountCents ?? null}, amount_cents),
        invoice_id = coalesce(${outcome.invoiceId ?? null}, invoice_id), failure_code = ${outcome.failureCode ?? null},
        updated_at = ${outcome.at}
      WHERE id = ${topUpId} AND (status = 'pending' OR (status = 'skipped' AND ${outcome.status} = 'paid')) RETURNING *`;
    if (!topUp) return false;
    const [setting] = await tx<{ failures_in_row: number }[]>`
      SELECT failures_in_row FROM auto_top_up_settings WHERE workspace_id = ${topUp.workspace_id} FOR UPDATE`;
    const next = afterOutcome(setting?.failures_in_row ?? 0, outcome.status);
    await tx`
      UPDATE auto_top_up_settings SET failures_in_row = ${next.failuresInRow}
        ${next.disable ? tx`, enabled = false, disabled_reason = 'payment_failed_twice'` : tx``}
      WHERE workspace_id = ${topUp.workspace_id}`;
    const payload = {
      auto_top_up_id: topUp.id, pack: topUp.pack_credits, amount_cents: topUp.amount_cents, invoice_id: topUp.invoice_id,
      cause: topUp.cause, reason: topUp.failure_code,
    };
    const notes: { kind: string; key: string; payload: Record<string, unknown> }[] = [];
    if (outcome.status === 'failed') notes.push({ kind: 'top_up_failed', key: `top_up_failed:${topUp.id}`, payload });
    if (next.disable) {
      notes.push({ kind: 'auto_top_up_disabled', key: `auto_top_up_disabled:${topUp.id}`,
        payload: { ...payload, failures_in_row: next.failuresInRow, reason: 'payment_failed_twice' } });
    }
    // Skipped because the customer turned it off meanwhile: nothing to tell them. Nor when the balance recovered by the instant's refresh: the customer needed no pack.
    if (outcome.status === 'skipped' && outcome.failureCode !== 'disabled' && outcome.failureCode !== 'recovered') {
      notes.push({ kind: 'top_up_skipped', key: `top_up_skipped:${topUp.workspace_id}:${capMonth(outcome.at).key}`, payload });
    }
    for (const note of notes) {
      await tx`
        INSERT INTO notifications (workspace_id, kind, dedupe_key, payload, at)
        VALUES (${topUp.workspace_id}, ${note.kind}, ${note.key}, ${tx.json(note.payload as never)}, ${outcome.at})
        ON CONFLICT (dedupe_key) DO NOTHING`;
    }
    return true;
  });
}

/**
 * Whether a refresh lot (source `monthly`) was granted at or after `at` (the workspace's time): the refresh
 * due at `at` has come (domain/auto-top-up.ts refreshAwaited).
 */
export async function refreshGrantedSince(sql: Sql, workspaceId: string, at: Date): Promise<boolean> {
  const [row] = await sql<{ granted: boolean }[]>`
    SELECT EXISTS (SELECT 1 FROM lots WHERE workspace_id = ${workspaceId} AND source = 'monthly' AND granted_at >= ${at}) AS granted`;
  return row!.granted;
}

/** The invoice a business key made, if any (whether a top-up's charge already happened). */
export async function invoiceByBusinessKey(sql: Sql, businessKey: string): Promise<{ id: string; status: string; total_cents: number } | undefined> {
  const [row] = await sql<{ id: string; status: string; total_cents: number }[]>`
    SELECT id, status, total_cents FROM invoices WHERE business_key = ${businessKey}`;
  return row;
}
