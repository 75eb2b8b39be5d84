import type { Interval } from '../domain/catalog.js';
import type { SubscriptionStatus } from '../domain/lifecycle/status.js';
import type { Sql } from './db.js';

/** Why the first payment (of a subscribe or a restart) has not succeeded, the invoice to pay and when the attempt lapses. */
export interface IncompletePaymentView {
  outcome: 'declined' | 'requires_action';
  decline_code: string | null;
  invoice_id: string;
  hosted_url: string | null;
  /** ISO instant. */
  expires_at: string;
}

export interface SubscriptionRow {
  id: string;
  workspace_id: string;
  plan: string;
  interval: Interval;
  status: SubscriptionStatus;
  current_period_start: Date;
  current_period_end: Date;
  cancel_at_period_end: boolean;
  next_due_at: Date | null;
  clock_synced_to: Date | null;
  scheduled_change: { plan: string; effective_at: string } | null;
  pause: { cycles: number; starts_at: string | null; resumes_at: string | null } | null;
  pending_upgrade: { plan: string; interval: Interval; invoice_id: string; expires_at: string } | null;
  incomplete_payment: IncompletePaymentView | null;
}

/**
 * Inserts the projection row before its workflow starts; false when the workspace already has a live one or a
 * canceled one whose restart waits for payment (`restarting`: the same unique index decides, so a concurrent
 * restart and subscribe never both win; SPEC §4).
 */
export async function insertSubscription(
  sql: Sql,
  sub: { id: string; workspaceId: string; plan: string; interval: Interval; periodStart: Date; periodEnd: Date; clockTime: Date | null },
): Promise<boolean> {
  const rows = await sql`
    INSERT INTO subscriptions (id, workspace_id, plan, interval, status, current_period_start, current_period_end, clock_synced_to)
    VALUES (${sub.id}, ${sub.workspaceId}, ${sub.plan}, ${sub.interval}, 'incomplete', ${sub.periodStart}, ${sub.periodEnd}, ${sub.clockTime})
    ON CONFLICT (workspace_id) WHERE status <> 'canceled' OR restarting DO NOTHING RETURNING id`;
  return rows.length === 1;
}

export interface SubscriptionProjection {
  subscriptionId: string;
  version: number;
  plan: string;
  interval: Interval;
  status: SubscriptionStatus;
  currentPeriodStart: number;
  currentPeriodEnd: number;
  cancelAtPeriodEnd: boolean;
  nextDueAt: number | null;
  scheduledChange: unknown;
  pause: unknown;
  pendingUpgrade: unknown;
  /** Absent means none (null). */
  incompletePayment?: IncompletePaymentView | null;
}

/**
 * Writes the workflow's state; an older version (a retried, late activity) never overwrites a newer one.
 * An equal version is written again: a workflow task whose worker died may already have written its
 * version, and the task's re-execution (which can have seen more events, e.g. a later clock advance)
 * publishes under the same number — the later write is the current state.
 */
export async function projectSubscription(sql: Sql, p: SubscriptionProjection): Promise<void> {
  await sql`
    UPDATE subscriptions SET plan = ${p.plan}, interval = ${p.interval}, status = ${p.status},
      current_period_start = ${new Date(p.currentPeriodStart)}, current_period_end = ${new Date(p.currentPeriodEnd)},
      cancel_at_period_end = ${p.cancelAtPeriodEnd}, scheduled_change = ${sql.json(p.scheduledChange as never)},
      pause = ${sql.json(p.pause as never)}, pending_upgrade = ${sql.json(p.pendingUpgrade as never)},
      incomplete_payment = ${sql.json((p.incompletePayment ?? null) as never)},
      restarting = ${p.status === 'canceled' && p.incompletePayment != null},
      next_due_at = ${p.nextDueAt === null ? null : new Date(p.nextDueAt)}, version = ${p.version}
    WHERE id = ${p.subscriptionId} AND version <= ${p.version}`.catch(rethrowConflict(p.subscriptionId));
}

/**
 * Marks a canceled subscription as restarting before its workflow is asked to restart it, so it holds the
 * workspace's live-subscription slot while the restart's payment is pending (one_live_subscription_per_workspace).
 * Returns false when another subscription of the workspace holds the slot (a subscribe won the race). A row
 * that is not canceled is left as it is (the resume is not a restart).
 */
export async function holdRestart(sql: Sql, subscriptionId: string): Promise<boolean> {
  try {
    await sql`UPDATE subscriptions SET restarting = true WHERE id = ${subscriptionId} AND status = 'canceled'`;
    return true;
  } catch (error) {
    if (isLiveSubscriptionConflict(error)) return false;
    throw error;
  }
}

/**
 * Releases the mark of `holdRestart` when no restart is waiting after all (refused, or the call failed before
 * the workflow recorded anything): the row is still canceled with no incomplete payment shown.
 */
export async function releaseRestart(sql: Sql, subscriptionId: string): Promise<void> {
  await sql`UPDATE subscriptions SET restarting = false WHERE id = ${subscriptionId} AND status = 'canceled' AND incomplete_payment IS NULL`;
}

/**
 * A second live subscription in one workspace: the row could not become live (or restarting) because another
 * holds the slot. The API refuses that case up front (subscribe and restart race on the unique index), so this
 * only happens on data from before it; retrying can never succeed. The workflows' ledger activities list this
 * error name as non-retryable: the workflow fails with it, surfaced to operators, instead of retrying forever.
 */
export class LiveSubscriptionConflict extends Error {
  override readonly name = 'LiveSubscriptionConflict';
  constructor(subscriptionId: string) {
    super(`subscription ${subscriptionId} cannot be live: its workspace already has a live subscription (one_live_subscription_per_workspace)`);
  }
}

const rethrowConflict = (subscriptionId: string) => (error: unknown): never => {
  throw isLiveSubscriptionConflict(error) ? new LiveSubscriptionConflict(subscriptionId) : error;
};

/** A write refused because the workspace already has a live (or restarting) subscription. */
export function isLiveSubscriptionConflict(error: unknown): boolean {
  const e = error as { code?: string; constraint_name?: string } | null;
  return e?.code === '23505' && e.constraint_name === 'one_live_subscription_per_workspace';
}

/** Records how far a clock-following workflow has caught up (its clock is ready when all have). */
export async function markClockSynced(sql: Sql, subscriptionId: string, clockTime: Date): Promise<void> {
  await sql`
    UPDATE subscriptions SET clock_synced_to = greatest(clock_synced_to, ${clockTime})
    WHERE id = ${subscriptionId} AND clock_synced_to IS NOT NULL`;
}

/** The workspace's live subscription, or its most recent one when all have ended. */
export async function currentSubscription(sql: Sql, workspaceId: string): Promise<SubscriptionRow | undefined> {
  const [row] = await sql<SubscriptionRow[]>`
    SELECT id, workspace_id, plan, interval, status, current_period_start, current_period_end,
           cancel_at_period_end, next_due_at, clock_synced_to, scheduled_change, pause, pending_upgrade, incomplete_payment
    FROM subscriptions WHERE workspace_id = ${workspaceId}
    ORDER BY (status <> 'canceled') DESC, created_at DESC LIMIT 1`;
  return row;
}

/**
 * Sets the projection's status ahead of the full projection write. Packs freeze and thaw on whether the
 * workspace has a live subscription, read from this row under the workspace lock: marking the status first
 * closes the window where a pack paid at that moment would be frozen after the thaw already ran. Active means
 * the first payment is paid, so no incomplete_payment is shown beside it meanwhile either.
 */
export async function markSubscriptionStatus(sql: Sql, subscriptionId: string, status: SubscriptionStatus): Promise<void> {
  await sql`
    UPDATE subscriptions SET status = ${status}${status === 'active' ? sql`, incomplete_payment = NULL` : sql``}
    WHERE id = ${subscriptionId}`.catch(rethrowConflict(subscriptionId));
}
