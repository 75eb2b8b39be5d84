/**
 * Take-backs still owed (SPEC §4, §10; domain/billing/lost-dispute-takeback.ts): what a lost dispute's or provider
 * refund's take-back could not find in the customer balance is settled by the next credits to the balance,
 * before the balance gets any of them. Called by every writer that adds to the balance.
 */
import { settleOwedTakebacks } from '../domain/billing/lost-dispute-takeback.js';
import type { Tx } from './operations.js';

/**
 * A credit of `creditCents` about to go to the workspace's customer balance (an open invoice's void giving back
 * the balance it held, a change's negative total, a refund's balance part) settles the take-backs still owed
 * first, oldest note first (settleOwedTakebacks): each settled note's `balance_shortfall_cents` moves to its
 * `balance_taken_back_cents`. Returns the cents settled, which the caller does not add to the balance. Runs in
 * the caller's transaction, the one that makes the credit once (its own key or status guard), so it settles
 * once; it locks the workspace row before reading what is owed, as the take-back writes it under that lock,
 * so a take-back committing meanwhile is seen. Nothing owed (the usual case): one indexed read, 0.
 */
export async function settleOwedTakebackFirst(tx: Tx, workspaceId: string, creditCents: number): Promise<number> {
  if (creditCents <= 0) return 0;
  await tx`SELECT 1 FROM workspaces WHERE id = ${workspaceId} FOR UPDATE`;
  const owed = await tx<{ id: string; cents: string }[]>`
    SELECT id, balance_shortfall_cents AS cents FROM credit_notes
    WHERE workspace_id = ${workspaceId} AND balance_shortfall_cents > 0 ORDER BY seq`;
  if (owed.length === 0) return 0;
  const { settled, toBalanceCents } = settleOwedTakebacks(creditCents, owed.map((o) => ({ noteId: o.id, cents: Number(o.cents) })));
  for (const s of settled) {
    await tx`UPDATE credit_notes SET balance_taken_back_cents = balance_taken_back_cents + ${s.cents},
               balance_shortfall_cents = balance_shortfall_cents - ${s.cents} WHERE id = ${s.noteId}`;
  }
  return creditCents - toBalanceCents;
}
