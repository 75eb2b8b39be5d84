/**
 * Credit adjustments by an operator (SPEC §10): goodwill credits granted, or credits taken back, with a reason.
 * Used by the admin API route and the /admin console alike.
 */
import { createHash } from 'node:crypto';
import { adjustCredits, type AdjustmentView, expireDueAdjustments } from '../ledger/adjustments.js';
import type { Sql } from '../ledger/db.js';
import { getWorkspace, newId } from '../ledger/workspaces.js';
import { notFound } from '../api/errors.js';

export type { AdjustmentView };

export interface AdjustmentInput {
  workspaceId: string;
  /** Non-zero integer: positive grants a lot of source `adjustment`, negative takes unspent, unheld credits. */
  credits: number;
  /** Non-empty; journaled on every `adjust` entry. */
  reason: string;
  /** Positive only: the new lot's expiry (after the workspace's current time); absent = never. */
  expiresAt?: Date | null;
  /**
   * The business key that makes the adjustment happen once (e.g. the client's Idempotency-Key): the same
   * key for the same workspace gives the same adjustment id, so a retry returns the first result. Absent:
   * a new adjustment each time.
   */
  idempotencyKey?: string;
}

/**
 * Adjusts a workspace's credits at its current time (its test clock's when it has one). Adjustment lots past
 * their expiry are journaled as expired first, so the balance the adjustment reads is the journal's.
 * Errors: 404 (ApiError) for an unknown workspace; Refusal `insufficient_credits` (detail required, available)
 * when a negative adjustment asks for more than is available; Refusal `invalid_request` for an expiry not in
 * the future. Nothing changes on an error.
 */
export async function adjustWorkspaceCredits(deps: { sql: Sql }, input: AdjustmentInput): Promise<AdjustmentView> {
  if (!Number.isInteger(input.credits) || input.credits === 0) throw new TypeError('credits must be a non-zero integer');
  if (input.reason.trim() === '') throw new TypeError('reason must not be empty');
  if (!(await getWorkspace(deps.sql, input.workspaceId))) throw notFound('workspace');
  await expireDueAdjustments(deps.sql, input.workspaceId);
  const id = input.idempotencyKey === undefined
    ? newId('adj')
    : `adj_${createHash('sha256').update(`${input.workspaceId}\n${input.idempotencyKey}`).digest('hex').slice(0, 24)}`;
  return adjustCredits(deps.sql, {
    id, workspaceId: input.workspaceId, credits: input.credits, reason: input.reason.trim(),
    expiresAt: input.credits > 0 ? input.expiresAt ?? null : null,
  });
}
