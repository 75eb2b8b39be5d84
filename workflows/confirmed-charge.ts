/**
 * A change the customer confirmed at an amount (SPEC §10 "Preview before paying"): its invoice is drafted
 * first, with the customer balance applied and the amount due compared in the same transaction, before any
 * of the change's effects (a switch's claw back) or its charge. A different amount is Refusal
 * `preview_outdated`: nothing drafted, nothing charged, the state unchanged.
 */
import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';
import type { Step } from '../domain/lifecycle/index.js';
import { Refusal } from '../domain/refusals.js';
import { ledger, type Subject } from './effects.js';

/**
 * Holds `step` (the core's decision for a change) to `expectedAmountDueCents` (cents): a charge is drafted
 * now and must leave exactly that due; a change without a charge (a downgrade) is due 0. Throws Refusal
 * `preview_outdated` (detail: `amount_due_cents`, `expected_amount_due_cents`) otherwise.
 */
export async function draftAtConfirmedAmount(subject: Subject, step: Step, expectedAmountDueCents: number): Promise<void> {
  const outdated = (due: number, message: string) =>
    new Refusal('preview_outdated', message, { amount_due_cents: due, expected_amount_due_cents: expectedAmountDueCents });
  const c = step.charge;
  if (!c) {
    if (expectedAmountDueCents !== 0) throw outdated(0, `the amount due is now 0, not ${expectedAmountDueCents}`);
    return;
  }
  try {
    await ledger.draftConfirmedCharge.executeWithOptions({ startToCloseTimeout: '30 seconds', summary: `draft ${c.summary} at ${expectedAmountDueCents} cents due` }, [{
      subscriptionId: subject.subscriptionId, workspaceId: subject.workspaceId, businessKey: c.businessKey, kind: c.invoiceKind,
      lines: c.lines, at: c.at, expectedAmountDueCents,
    }]);
  } catch (error) {
    const cause = error instanceof ActivityFailure ? error.cause : undefined;
    if (cause instanceof ApplicationFailure && cause.type === 'preview_outdated') {
      const detail = cause.details?.[0] as { amount_due_cents?: number } | undefined;
      throw outdated(detail?.amount_due_cents ?? -1, cause.message);
    }
    throw error;
  }
}
