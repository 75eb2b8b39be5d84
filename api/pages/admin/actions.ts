/**
 * The console's actions (SPEC §10 operator tools): each reads its form, and calls the billing/ or ledger/
 * service the admin API route calls. Every action is two posts: the first renders its confirm view (nothing
 * changes), the second (`confirm=1`) carries it out; the router records the second in the audit log.
 */
import { randomBytes } from 'node:crypto';
import { adjustWorkspaceCredits } from '../../../billing/adjustments.js';
import { currentBalance } from '../../../billing/balance.js';
import { refundInvoice } from '../../../billing/refunds.js';
import { retrySubscriptionPayment } from '../../../billing/retry-payment.js';
import { updateSubscription } from '../../../billing/subscriptions.js';
import { refundableCents, splitRefund } from '../../../domain/billing/refunds.js';
import { Refusal } from '../../../domain/refusals.js';
import { workspaceOfInvoice } from '../../../ledger/audit.js';
import { refundedSoFar } from '../../../ledger/credit-notes.js';
import type { Sql } from '../../../ledger/db.js';
import { getInvoice } from '../../../ledger/invoices.js';
import { listOperatorKeys, revokeOperatorKey, ROOT_OPERATOR_KEY_ID } from '../../../ledger/operator-keys.js';
import { currentSubscription } from '../../../ledger/subscriptions.js';
import { getWorkspace, type WorkspaceRow } from '../../../ledger/workspaces.js';
import { cancelNowUpdate, cancelUpdate, pauseUpdate, resumeUpdate } from '../../../workflows/messages.js';
import { ApiError, notFound } from '../../errors.js';
import type { ApiDeps } from '../../router.js';
import type { Notice } from '../billing-session.js';
import { dollars } from '../pricing.js';
import { readableDate } from '../site.js';
import {
  confirmAdjustmentPage, confirmRefundPage, confirmRevokeKeyPage, confirmSubscriptionActionPage, type SubscriptionAction,
} from './confirm-view.js';
import {
  actionKeyField, atPeriodEndField, confirmed, creditsField, cyclesField, expiresAtField, type Form, reasonField, refundAmountField,
} from './form.js';
import type { OperatorSession } from './session.js';

type Page = ReturnType<typeof confirmRefundPage>;
/**
 * What a post leads to: the confirm view shown in place, or back to a page with a notice; `status` is what
 * the admin API answers for the same action (recorded in the audit log).
 */
export type Outcome = { page: Page } | { notice: Notice; status: 200 | 201 | 202 };

/** What an action concerns, for the audit log (as api/audit.ts derives it for /v1), and where to go back to. */
export interface Concerned {
  workspaceId: string | null;
  target: string | null;
  back: string;
}

export interface AdminAction {
  concerns(id: string): Promise<Concerned>;
  run(session: OperatorSession, id: string, form: Form): Promise<Outcome>;
}

const newActionKey = () => randomBytes(16).toString('hex');
const workspacePath = (id: string) => `/admin/workspaces/${encodeURIComponent(id)}`;

async function existingWorkspace(sql: Sql, id: string): Promise<WorkspaceRow> {
  const workspace = await getWorkspace(sql, id);
  if (!workspace) throw notFound('workspace');
  return workspace;
}

/** The action key of a confirmed post; a Confirm without one did not come from a confirm view. */
function requiredActionKey(form: Form): string {
  const key = actionKeyField(form);
  if (!key) throw new ApiError(400, 'invalid_request', 'the confirmation is incomplete; start again from the workspace page');
  return key;
}

/** Console actions by route (Hono paths, `:id` the workspace, invoice or key acted on). */
export function adminActions(deps: ApiDeps): Record<string, AdminAction> {
  const onWorkspace = async (id: string): Promise<Concerned> => ({ workspaceId: id, target: id, back: workspacePath(id) });

  /** One of the subscription actions of the admin API, on the customer's behalf (the same workflow Updates). */
  const subscriptionAction = (kindOf: (form: Form) => SubscriptionAction, path: string): AdminAction => ({
    concerns: onWorkspace,
    async run(session, id, form) {
      const workspace = await existingWorkspace(deps.sql, id);
      const kind = kindOf(form);
      const cycles = kind === 'pause' ? cyclesField(form) : 1;
      if (!confirmed(form)) {
        const sub = await currentSubscription(deps.sql, id);
        if (!sub) throw new Refusal('no_subscription', 'this workspace has no subscription');
        const fields: Record<string, string> = kind === 'pause' ? { cycles: String(cycles) } : kind.startsWith('cancel') ? { at_period_end: kind === 'cancel_now' ? '0' : '1' } : {};
        return { page: confirmSubscriptionActionPage({ session, workspace, sub, kind, cycles, action: `${workspacePath(id)}/subscription/${path}`, fields }) };
      }
      if (kind === 'retry_payment') {
        await retrySubscriptionPayment(deps, id);
        return { notice: { kind: 'ok', text: 'A retry of the unpaid invoice was requested; its outcome follows shortly.' }, status: 202 };
      }
      const view = kind === 'pause'
        ? await updateSubscription(deps, workspace, pauseUpdate, { cycles })
        : await updateSubscription(deps, workspace, kind === 'cancel_now' ? cancelNowUpdate : kind === 'resume' ? resumeUpdate : cancelUpdate);
      const said: Record<Exclude<SubscriptionAction, 'retry_payment'>, string> = {
        cancel_at_period_end: `Renewals canceled: usable until ${readableDate(view.current_period_end)}.`,
        cancel_now: 'The subscription was canceled now.',
        pause: `Paused for ${cycles} cycle(s) from ${readableDate(view.pause?.starts_at ?? view.current_period_end)}.`,
        resume: `Resumed: the subscription is ${view.status}.`,
      };
      return { notice: { kind: 'ok', text: said[kind] }, status: 200 };
    },
  });

  return {
    '/admin/workspaces/:id/credit-adjustments': {
      concerns: onWorkspace,
      async run(session, id, form) {
        const workspace = await existingWorkspace(deps.sql, id);
        const credits = creditsField(form);
        const reason = reasonField(form);
        const expiresAt = expiresAtField(form, credits);
        if (!confirmed(form)) {
          const { available } = await currentBalance(deps.sql, id);
          const fields = { credits: String(credits), reason, expires_at: expiresAt?.toISOString() ?? '', action_key: newActionKey() };
          return { page: confirmAdjustmentPage({ session, workspace, action: `${workspacePath(id)}/credit-adjustments`, fields, credits, reason, expiresAt, available }) };
        }
        try {
          const adjustment = await adjustWorkspaceCredits(deps, { workspaceId: id, credits, reason, expiresAt, idempotencyKey: `console:${requiredActionKey(form)}` });
          const verb = credits > 0 ? `Granted ${credits}` : `Took ${-credits}`;
          return { notice: { kind: 'ok', text: `${verb} credits (${adjustment.id}); available now ${adjustment.balance_after}.` }, status: 201 };
        } catch (error) {
          // As POST /v1/admin/workspaces/{id}/credit-adjustments answers them: the operator's request conflicts with the balance.
          if (error instanceof Refusal && error.code === 'insufficient_credits') throw new ApiError(409, 'insufficient_credits', error.message);
          if (error instanceof Refusal && error.code === 'invalid_request') throw new ApiError(400, 'invalid_request', `expires_at: ${error.message}`);
          throw error;
        }
      },
    },

    '/admin/invoices/:id/refund': {
      async concerns(id) {
        const workspaceId = await workspaceOfInvoice(deps.sql, id);
        return { workspaceId, target: id, back: workspaceId ? workspacePath(workspaceId) : '/admin' };
      },
      async run(session, id, form) {
        const reason = reasonField(form);
        const amountCents = refundAmountField(form);
        if (!confirmed(form)) {
          const invoice = await getInvoice(deps.sql, id);
          if (!invoice) throw new Refusal('invoice_not_found', `no invoice ${id}`);
          // What the confirm view shows, by the arithmetic refundInvoice uses; its checks run when confirmed.
          const so = await refundedSoFar(deps.sql, id);
          const left = refundableCents(invoice.total_cents, so);
          const amount = amountCents ?? left;
          const { cardCents, balanceCents } = splitRefund(amount, invoice.amount_due_cents, so);
          const fields = { ...(amountCents === undefined ? {} : { amount: (amountCents / 100).toFixed(2) }), reason, action_key: newActionKey() };
          return { page: confirmRefundPage({ session, invoice, action: `/admin/invoices/${encodeURIComponent(id)}/refund`, fields, amountCents: amount, refundableCents: left, cardCents, balanceCents, reason }) };
        }
        const note = await refundInvoice(deps, { invoiceId: id, amountCents, reason, idempotencyKey: `console:${requiredActionKey(form)}`, operatorKeyId: session.operatorKeyId });
        const text = `Refunded ${dollars(note.amount_cents)} as credit note ${note.id}: ${dollars(note.refunded_to_card_cents)} to the card, `
          + `${dollars(note.credited_to_balance_cents)} to the customer balance; ${note.credits_clawed_back} credits clawed back`
          + `${note.credits_pending > 0 ? `, ${note.credits_pending} when their hold ends` : ''}${note.shortfall > 0 ? `, shortfall ${note.shortfall}` : ''}.`;
        return { notice: { kind: 'ok', text }, status: 201 };
      },
    },

    '/admin/workspaces/:id/subscription/cancel': subscriptionAction((form) => (atPeriodEndField(form) ? 'cancel_at_period_end' : 'cancel_now'), 'cancel'),
    '/admin/workspaces/:id/subscription/pause': subscriptionAction(() => 'pause', 'pause'),
    '/admin/workspaces/:id/subscription/resume': subscriptionAction(() => 'resume', 'resume'),
    '/admin/workspaces/:id/subscription/retry-payment': subscriptionAction(() => 'retry_payment', 'retry-payment'),

    '/admin/operator-keys/:id/revoke': {
      concerns: async (id) => ({ workspaceId: null, target: id, back: '/admin/operator-keys' }),
      async run(session, id, form) {
        if (id === ROOT_OPERATOR_KEY_ID) {
          throw new Refusal('root_key_not_revocable', 'opk_root is ADMIN_API_KEY from the environment: replace it there, it cannot be revoked here');
        }
        if (!confirmed(form)) {
          const key = (await listOperatorKeys(deps.sql)).find((k) => k.id === id);
          if (!key) throw notFound('operator key');
          return { page: confirmRevokeKeyPage({ session, key, action: `/admin/operator-keys/${encodeURIComponent(id)}/revoke` }) };
        }
        const key = await revokeOperatorKey(deps.sql, id);
        deps.apiKeys.forgetAll();
        if (!key) throw notFound('operator key');
        return { notice: { kind: 'ok', text: `The operator key ${key.name} (${key.id}) is revoked.` }, status: 200 };
      },
    },
  };
}
