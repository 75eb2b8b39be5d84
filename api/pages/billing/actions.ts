/**
 * The billing page's form actions (SPEC §4, §10): each reads its form, calls the billing/ service the v1
 * API calls, and answers with a notice for /billing or a page to show. Every charge, plan change, pause
 * and cancel is two posts: the first renders its confirm view (nothing changes), the second (`confirm=1`)
 * carries out the request; a plan change or pack carries the amount confirmed, and when the amount due
 * moved meanwhile the fresh confirm view comes back with a notice and nothing is charged.
 */
import { randomBytes } from 'node:crypto';
import { setAutoTopUp } from '../../../billing/auto-top-up.js';
import { changeSubscriptionAsConfirmed } from '../../../billing/confirmed-change.js';
import { buyPack, type PackPreview, previewPack } from '../../../billing/packs.js';
import { previewSubscriptionChange } from '../../../billing/previews.js';
import { startSubscription, updateSubscription } from '../../../billing/subscriptions.js';
import { applyCustomerBalance } from '../../../domain/billing/customer-balance.js';
import { type Interval, planById, priceCents } from '../../../domain/catalog.js';
import type { ChangePreview } from '../../../domain/lifecycle/index.js';
import { offersFor, resumeCharges } from '../../../domain/lifecycle/offers.js';
import { Refusal } from '../../../domain/refusals.js';
import { customerBalanceCents, getInvoice, listInvoices } from '../../../ledger/invoices.js';
import { currentSubscription } from '../../../ledger/subscriptions.js';
import { type WorkspaceIdentity, workspaceNow } from '../../../ledger/workspaces.js';
import { cancelUpdate, pauseUpdate, resumeUpdate, withdrawScheduledChangeUpdate } from '../../../workflows/messages.js';
import type { ApiDeps } from '../../router.js';
import type { BillingSession, Notice } from '../billing-session.js';
import { dollars } from '../pricing.js';
import { readableDate } from '../site.js';
import {
  confirmCancelPage, confirmChangePage, confirmPackPage, confirmPausePage, confirmPeriodPage, confirmUnpricedChangePage, type DueToday,
} from './confirm-view.js';
import {
  confirmed, cyclesField, expectedAmountField, field, type Form, intervalField, invalidForm, packSizeField, planField, purchaseKeyField,
} from './form.js';
import { cadence, plural } from './format.js';
import { autoTopUpFormFields } from './auto-top-up-form.js';

type Page = ReturnType<typeof confirmCancelPage>;
/** What a form post leads to: back to /billing with a notice, or a page (a confirm view) shown in place. */
export type Outcome = { notice: Notice } | { page: Page; status: 200 | 409 };
export type Action = (session: BillingSession, form: Form) => Promise<Outcome>;

const ok = (text: string, link?: Notice['link']): Outcome => ({ notice: { kind: 'ok', text, ...(link ? { link } : {}) } });
const failed = (text: string): Outcome => ({ notice: { kind: 'error', text } });
const show = (page: Page, status: 200 | 409 = 200): Outcome => ({ page, status });

/** The notice when the amount moved between the confirm view and Confirm (SPEC §10 preview_outdated). */
const movedNotice = (dueCents: number): Notice => ({
  kind: 'error',
  text: `The amount changed since you looked: it is now ${dollars(dueCents)}. Nothing was charged. Confirm the new amount or cancel.`,
});

/** The preview a `preview_outdated` refusal carries, or undefined for any other error. */
function freshPreview<T>(error: unknown): T | undefined {
  return error instanceof Refusal && error.code === 'preview_outdated' ? error.detail.preview as T : undefined;
}

const rethrow = (error: unknown): never => {
  throw error;
};

export function billingActions(deps: ApiDeps): Record<string, Action> {
  const hostedLink = async (invoiceId: string | undefined) => {
    const invoice = invoiceId ? await getInvoice(deps.sql, invoiceId) : undefined;
    return invoice?.hosted_url ? { href: invoice.hosted_url, label: 'Confirm the payment' } : undefined;
  };

  /** A whole period of `plan` charged now (subscribe, resume now, restart): the catalog price with the customer balance applied. */
  const periodDue = async (workspace: WorkspaceIdentity, plan: string, interval: Interval): Promise<DueToday> => {
    const total = priceCents(planById(plan), interval);
    const { appliedCents, amountDueCents } = applyCustomerBalance(total, await customerBalanceCents(deps.sql, workspace.id));
    return {
      lines: [{ description: `${planById(plan).name}, billed ${cadence(interval)}: first period`, amount_cents: total }],
      total_cents: total, balance_applied_cents: appliedCents, amount_due_cents: amountDueCents,
    };
  };

  const liveSubscription = async (workspace: WorkspaceIdentity) => {
    const sub = await currentSubscription(deps.sql, workspace.id);
    if (!sub) throw new Refusal('no_subscription', 'this workspace has no subscription');
    return sub;
  };

  return {
    // Saving the setting charges nothing now (no confirm view); the limit must allow one pack (SPEC §11).
    '/billing/auto-top-up': async ({ workspace }, form) => {
      const saved = await setAutoTopUp(deps.sql, workspace.id, autoTopUpFormFields(form));
      if ('invalid' in saved) return failed(`Nothing was saved: the monthly limit ${saved.invalid.reason}.`);
      const { enabled, threshold, pack } = saved.view;
      return ok(enabled ? `Automatic top-up is on: below ${plural(threshold, 'credit')} we buy ${pack} credits.` : 'Automatic top-up is off.');
    },

    '/billing/subscribe': async (session, form) => {
      const { workspace } = session;
      const plan = planField(form);
      const interval = intervalField(form);
      if (!plan || !interval) throw invalidForm('choose a plan and a billing frequency');
      if (!confirmed(form)) {
        const page = confirmPeriodPage({
          session, title: `Subscribe to ${planById(plan).name}`, action: '/billing/subscribe', fields: { plan, interval },
          plan: planById(plan), interval, due: await periodDue(workspace, plan, interval), at: await workspaceNow(deps.sql, workspace.id),
        });
        return show(page);
      }
      const view = await startSubscription(deps, workspace, { plan, interval });
      const name = planById(view.plan).name;
      if (view.status === 'active') return ok(`Welcome to ${name}: your credits are ready.`);
      const [latest] = await listInvoices(deps.sql, workspace.id);
      if (latest?.status === 'open' && latest.last_payment_error === 'authentication_required' && latest.hosted_url) {
        return ok(`Your bank asks you to confirm the first payment; ${name} starts once it is confirmed.`, { href: latest.hosted_url, label: 'Confirm the payment' });
      }
      return failed(`${name} is not active yet: the first payment did not go through. Check your payment method in the portal.`);
    },

    '/billing/change': async (session, form) => {
      const { workspace } = session;
      const plan = planField(form);
      const interval = intervalField(form);
      if (!plan && !interval) throw invalidForm('choose a plan or a billing frequency');
      const request = { ...(plan ? { plan } : {}), ...(interval ? { interval } : {}) };
      const confirmView = async (preview: ChangePreview, notice?: Notice) =>
        confirmChangePage({ session, sub: await liveSubscription(workspace), request, preview, ...(notice ? { notice } : {}) });
      if (!confirmed(form)) {
        const preview = await previewSubscriptionChange(deps, workspace, request).catch((error: unknown) => {
          if (error instanceof Refusal && error.code === 'preview_unavailable') return undefined;
          throw error;
        });
        if (preview) return show(await confirmView(preview));
        // A subscription of the first workflow type cannot be previewed: confirm with the catalog prices only.
        return show(confirmUnpricedChangePage({ session, sub: await liveSubscription(workspace), request }));
      }
      const expected = field(form, 'unpriced') === '1' ? undefined : expectedAmountField(form);
      const outcome = await changeSubscriptionAsConfirmed(deps, workspace, request, expected).then(
        (change) => ({ change }),
        (error: unknown) => ({ outdated: freshPreview<ChangePreview>(error) ?? rethrow(error) }),
      );
      if ('outdated' in outcome) {
        // The amount due moved since the confirm view (time passed, the balance changed): nothing was charged.
        return show(await confirmView(outcome.outdated, movedNotice(outcome.outdated.invoice?.amount_due_cents ?? 0)), 409);
      }
      const { change } = outcome;
      if (change.pending) {
        return ok('Your bank asks you to confirm this payment; the change applies once it is confirmed.', await hostedLink(change.invoice_id));
      }
      if (change.kind === 'downgrade') {
        return ok(`Your plan changes to ${planById(plan!).name} on ${readableDate(change.effective_at!)}. Until then nothing changes.`);
      }
      if (change.kind === 'upgrade') {
        const granted = change.credits_granted ? ` ${plural(change.credits_granted, 'credit')} were added to your balance.` : '';
        return ok(`You are now on ${planById(plan!).name}.${granted}`);
      }
      const sub = await currentSubscription(deps.sql, workspace.id);
      return ok(`You are now billed ${cadence(sub?.interval ?? interval ?? 'month')}; a new period started today.`);
    },

    '/billing/withdraw-change': async ({ workspace }) => {
      const view = await updateSubscription(deps, workspace, withdrawScheduledChangeUpdate);
      return ok(`The scheduled change was withdrawn: you stay on ${planById(view.plan).name}.`);
    },

    '/billing/cancel': async (session, form) => {
      if (!confirmed(form)) return show(confirmCancelPage({ session, sub: await liveSubscription(session.workspace) }));
      const view = await updateSubscription(deps, session.workspace, cancelUpdate);
      if (view.status === 'canceled') return ok('The subscription has ended. Packs you bought are kept until you subscribe again.');
      return ok(`Renewals are canceled. Everything stays usable until ${readableDate(view.current_period_end)}.`);
    },

    '/billing/resume': async (session, form) => {
      const { workspace } = session;
      const sub = await liveSubscription(workspace);
      const offer = offersFor(sub).resume;
      if (offer && resumeCharges(offer) && !confirmed(form)) {
        const title = offer === 'restart' ? `Restart ${planById(sub.plan).name}` : 'Resume now';
        return show(confirmPeriodPage({
          session, title, action: '/billing/resume', fields: {}, plan: planById(sub.plan), interval: sub.interval,
          due: await periodDue(workspace, sub.plan, sub.interval), at: await workspaceNow(deps.sql, workspace.id),
        }));
      }
      const view = await updateSubscription(deps, workspace, resumeUpdate);
      if (view.status === 'active' || view.status === 'paused') {
        return ok(`Your ${planById(view.plan).name} subscription continues; the next renewal is on ${readableDate(view.current_period_end)}.`);
      }
      return failed('The restart payment did not go through. Check your payment method in the portal.');
    },

    '/billing/pause': async (session, form) => {
      const cycles = cyclesField(form);
      if (!confirmed(form)) return show(confirmPausePage({ session, sub: await liveSubscription(session.workspace), cycles }));
      const view = await updateSubscription(deps, session.workspace, pauseUpdate, { cycles });
      return ok(`Your subscription pauses on ${readableDate(view.pause?.starts_at ?? view.current_period_end)} for ${plural(cycles, 'cycle')}.`);
    },

    '/billing/packs': async (session, form) => {
      const { workspace } = session;
      const size = packSizeField(form);
      if (!confirmed(form)) {
        return show(confirmPackPage({ session, preview: await previewPack(deps, workspace, size), purchaseKey: randomBytes(16).toString('hex') }));
      }
      const expected = expectedAmountField(form);
      const purchaseKey = purchaseKeyField(form);
      const bought = await buyPack(deps, workspace, { size, expectedAmountDueCents: expected, ...(purchaseKey ? { idempotencyKey: purchaseKey } : {}) })
        .catch((error: unknown) => {
          if (error instanceof Refusal && (error.code === 'payment_declined' || error.code === 'preview_outdated')) return error;
          throw error;
        });
      if (bought instanceof Refusal) {
        const preview = freshPreview<PackPreview>(bought);
        if (preview) {
          const page = confirmPackPage({
            session, preview, purchaseKey: randomBytes(16).toString('hex'), notice: movedNotice(preview.invoice.amount_due_cents),
          });
          return show(page, 409);
        }
        return failed(`The payment was declined (${String(bought.detail.decline_code)}). Check your payment method in the portal.`);
      }
      const { charge } = bought;
      if (charge.status === 'requires_action') {
        return ok(`Your bank asks you to confirm this payment; the ${size} credits arrive once it is confirmed.`, { href: charge.hostedUrl, label: 'Confirm the payment' });
      }
      return ok(`${size} credits were added to your balance (${dollars(charge.invoice.total_cents)}).`);
    },
  };
}
