/**
 * SPEC §10 `GET /v1/invoices/upcoming`: the next scheduled charge, computed from the workflow's lifecycle
 * state by the functions that will make it (`upcomingInvoice`), with the customer balance now; while past due,
 * the open invoice as drafted. Changes nothing. Refusal `no_upcoming_invoice` (404) when none is scheduled:
 * canceling, canceled or incomplete.
 */
import type { Client } from '@temporalio/client';
import { type UpcomingInvoice, upcomingInvoice } from '../domain/lifecycle/index.js';
import { Refusal } from '../domain/refusals.js';
import type { Sql } from '../ledger/db.js';
import { customerBalanceCents, getInvoice } from '../ledger/invoices.js';
import { balanceReturnedByPacksBefore } from '../ledger/pack-invoices.js';
import { PACK_PAYMENT_TTL_MS } from './pack-lapse.js';
import type { WorkspaceIdentity } from '../ledger/workspaces.js';
import { lifecycleStateOf } from './lifecycle-state.js';

export async function upcomingInvoiceOf(deps: { sql: Sql; temporal: Client }, workspace: WorkspaceIdentity): Promise<UpcomingInvoice> {
  const state = await lifecycleStateOf(deps, workspace.id);
  const [balance, open, pending] = await Promise.all([
    customerBalanceCents(deps.sql, workspace.id),
    state.dunning ? getInvoice(deps.sql, state.dunning.invoiceId) : undefined,
    state.pendingChange ? getInvoice(deps.sql, state.pendingChange.invoiceId) : undefined,
  ]);
  const context = {
    customerBalanceCents: balance,
    pendingChangeBalanceAppliedCents: pending && pending.status === 'open' ? Number(pending.balance_applied_cents ?? 0) : 0,
    ...(open && open.status === 'open'
      ? { openInvoice: { id: open.id, lines: open.lines, total_cents: Number(open.total_cents), amount_due_cents: Number(open.amount_due_cents) } }
      : {}),
  };
  let upcoming = upcomingInvoice(state, context);
  if (upcoming && upcoming.invoice_id === null && upcoming.next_attempt_at) {
    // A pack waiting for 3-D Secure that lapses by the charge gives its balance back first (billing/pack-lapse.ts).
    const returned = await balanceReturnedByPacksBefore(deps.sql, workspace.id, new Date(upcoming.next_attempt_at), PACK_PAYMENT_TTL_MS);
    if (returned > 0) upcoming = upcomingInvoice(state, { ...context, customerBalanceCents: balance + returned });
  }
  if (!upcoming) throw new Refusal('no_upcoming_invoice', `no charge is scheduled while the subscription is ${state.cancelAtPeriodEnd ? 'canceling' : state.status}`);
  return upcoming;
}
