/**
 * Automatic top-ups (SPEC §11): saving the setting, and charging a top-up the spend path recorded. The
 * charge is the pack service's own purchase (billing/packs.ts buyPack), off-session, with an idempotency
 * key derived from the top-up's id, so a pass that stops midway and the next one charge once.
 */
import { capMonth, chargeDecision, limitAllowsOnePack, refreshAwaited } from '../domain/auto-top-up.js';
import { findPlan, PACKS, packPriceCents } from '../domain/catalog.js';
import { isLive } from '../domain/lifecycle/status.js';
import { Refusal } from '../domain/refusals.js';
import {
  type AutoTopUpRow, type AutoTopUpSettings, type AutoTopUpView, invoiceByBusinessKey, monthSpend, readAutoTopUp, refreshGrantedSince,
  saveAutoTopUp, settleTopUp, topUpSetting,
} from '../ledger/auto-top-up.js';
import { getBalance } from '../ledger/credits.js';
import type { Sql } from '../ledger/db.js';
import { currentSubscription } from '../ledger/subscriptions.js';
import { getWorkspace, workspaceNow } from '../ledger/workspaces.js';
import type { PaymentProvider } from '../payments/provider.js';
import { voidUnpaidInvoice } from '../payments/void-invoice.js';
import { buyPack } from './packs.js';

/** What one pack of `credits` costs this workspace now (cents): its live plan's pack discount applied. */
async function packPriceNow(sql: Sql, workspaceId: string, credits: number): Promise<number> {
  const sub = await currentSubscription(sql, workspaceId);
  return packPriceCents(PACKS.find((p) => p.credits === credits)!, sub && isLive(sub.status) ? findPlan(sub.plan) : undefined);
}

/**
 * Saves the setting (PUT /v1/auto-top-up): armed at once, failures forgotten. Answers the field at fault when
 * `monthly_limit_cents` is below one pack's price for this workspace now (a 400 at the edge), else the view.
 */
export async function setAutoTopUp(
  sql: Sql, workspaceId: string, settings: AutoTopUpSettings,
): Promise<{ view: AutoTopUpView } | { invalid: { field: 'monthly_limit_cents'; reason: string } }> {
  const price = await packPriceNow(sql, workspaceId, settings.pack);
  if (!limitAllowsOnePack(settings.monthly_limit_cents, price)) {
    return { invalid: { field: 'monthly_limit_cents', reason: `must be at least one ${settings.pack}-credit pack's price, ${price} cents` } };
  }
  const now = await workspaceNow(sql, workspaceId);
  await saveAutoTopUp(sql, workspaceId, settings, now);
  return { view: (await readAutoTopUp(sql, workspaceId, now))! };
}

/** The setting and its state (the billing page); undefined when never saved. */
export async function getAutoTopUp(sql: Sql, workspaceId: string): Promise<AutoTopUpView | undefined> {
  return (await autoTopUpState(sql, workspaceId)).view;
}

/** GET /v1/auto-top-up: the setting and its state (undefined when never saved) and the cap's month now (`YYYY-MM`). */
export async function autoTopUpState(sql: Sql, workspaceId: string): Promise<{ view: AutoTopUpView | undefined; month: string }> {
  const now = await workspaceNow(sql, workspaceId);
  return { view: await readAutoTopUp(sql, workspaceId, now), month: capMonth(now).key };
}

/** The pack purchase's idempotency key (billing/packs.ts makes the invoice's business key `pack:<ws>:<this>`). */
const purchaseKey = (topUp: AutoTopUpRow) => `auto-top-up:${topUp.id}`;

/**
 * Charges one pending top-up and records how it ended: `paid` (the pack delivered), `failed` (declined, or
 * 3-D Secure required: its invoice voided; not retried for this crossing), or `skipped` (disabled since, the
 * balance back at or above the threshold after an expiry's instant, no live subscription, past due, canceling
 * at the period end, or over the monthly limit). Answers `pending` (nothing recorded) for an expiry's top-up
 * while the refresh due at the same instant is still to come (domain/auto-top-up.ts refreshAwaited). The decision is
 * taken once: when an earlier pass already made the invoice, the purchase is carried on, not re-decided.
 * Provider and database errors propagate (the top-up stays pending; the next pass carries it on).
 */
export async function chargeTopUp(deps: { sql: Sql; payments: PaymentProvider }, topUp: AutoTopUpRow): Promise<AutoTopUpRow['status']> {
  const { sql } = deps;
  const ws = topUp.workspace_id;
  const now = await workspaceNow(sql, ws);
  const businessKey = `pack:${ws}:${purchaseKey(topUp)}`;
  const settle = async (status: 'paid' | 'failed' | 'skipped', failureCode: string | null) => {
    const invoice = await invoiceByBusinessKey(sql, businessKey);
    await settleTopUp(sql, topUp.id, { status, failureCode, invoiceId: invoice?.id ?? null, amountCents: invoice?.total_cents ?? null, at: now });
    return status;
  };
  if (!await invoiceByBusinessKey(sql, businessKey)) {
    const [setting, sub, price] = await Promise.all([
      topUpSetting(sql, ws), currentSubscription(sql, ws), packPriceNow(sql, ws, topUp.pack_credits),
    ]);
    // An expiry at an instant where the subscription's refresh is also due (every renewal of a monthly plan)
    // is processed first; the balance at that instant is the one after its refresh. Until the refresh is
    // granted or has failed, nothing is decided: the top-up stays pending for a later pass.
    if (topUp.cause === 'expiry' && refreshAwaited(topUp.created_at, sub, await refreshGrantedSince(sql, ws, topUp.created_at))) {
      return 'pending';
    }
    // The cap's month is the one this top-up counts in (monthSpend: by recording time), not the charge's:
    // one recorded on the 31st and charged after midnight must fit the month it is counted in.
    // Only an expiry's top-up is decided on the balance now (a capture's or a refusal's is the crossing itself).
    const [spent, balance] = await Promise.all([
      monthSpend(sql, ws, topUp.created_at, { excludeId: topUp.id, pendingPriceCents: price }),
      topUp.cause === 'expiry' ? getBalance(sql, ws) : undefined,
    ]);
    const decision = chargeDecision({
      enabled: setting?.enabled ?? false, subscription: sub, spentThisMonthCents: spent.spent_cents, priceCents: price,
      monthlyLimitCents: setting?.monthly_limit_cents ?? 0, cause: topUp.cause, available: balance?.available ?? 0,
      threshold: setting?.threshold ?? 0,
    });
    // Another pass may have charged this top-up since the look-up above: its purchase is carried on (the
    // pack service replays it by its idempotency key), never recorded as skipped beside a paid invoice.
    if (!decision.charge && !await invoiceByBusinessKey(sql, businessKey)) return settle('skipped', decision.reason);
  }
  const workspace = (await getWorkspace(sql, ws))!;
  try {
    const { charge } = await buyPack(deps, workspace, { size: topUp.pack_credits, idempotencyKey: purchaseKey(topUp) });
    if (charge.status === 'paid') return settle('paid', null);
    // 3-D Secure needs the customer, who is not here: no payable invoice is left behind. One the provider
    // reports paid meanwhile is delivered by its webhook.
    return await voidUnpaidInvoice(sql, deps.payments, charge.invoice.id) === 'paid' ? settle('paid', null) : settle('failed', 'authentication_required');
  } catch (error) {
    if (error instanceof Refusal && error.code === 'payment_declined') return settle('failed', String(error.detail.decline_code ?? 'declined'));
    if (error instanceof Refusal && error.code === 'subscription_required') return settle('skipped', 'no_live_subscription');
    throw error;
  }
}
