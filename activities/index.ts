/**
 * Every side effect of the subscription workflow, writes to our own database included. Each one is
 * idempotent by a business key, because Temporal may run an activity more than once.
 */
import { ApplicationFailure } from '@temporalio/common';
import { isoDay } from '../domain/calendar.js';
import { type Interval, planById, priceCents } from '../domain/catalog.js';
import type { ChargeOutcome } from '../domain/lifecycle/effects.js';
import type { InvoiceLine } from '../domain/proration.js';
import { clawBack } from '../ledger/clawback.js';
import { expireLot, forfeitPlanLots, grantLot, type LotSource, setPacksFrozen } from '../ledger/credits.js';
import { availableOfGrants, lotOfGrant } from '../ledger/grants.js';
import { applyModelLimit } from '../ledger/custom-models.js';
import type { Sql } from '../ledger/db.js';
import { recordNotification } from '../ledger/notifications.js';
import { changeLedgerView } from '../ledger/period-in-force.js';
import { settleLateRefresh } from '../ledger/late-refresh.js';
import type { LedgerView } from '../domain/lifecycle/changes.js';
import { markClockSynced, markSubscriptionStatus, projectSubscription, type SubscriptionProjection } from '../ledger/subscriptions.js';
import { clockTimeOfWorkspace } from '../ledger/test-clocks.js';
import { chargeInvoice, type ChargeResult } from '../billing/charge-invoice.js';
import { AmountDueChanged, draftInvoice } from '../ledger/invoices.js';
import { voidUnpaidInvoice } from '../payments/void-invoice.js';
import { lapseOpenPacks } from '../billing/pack-lapse.js';
import type { PaymentProvider } from '../payments/provider.js';

export interface ActivityDeps {
  sql: Sql;
  payments: PaymentProvider;
}

export interface ChargePeriodInput {
  subscriptionId: string;
  workspaceId: string;
  plan: string;
  interval: Interval;
  anchor: number;
  periodIndex: number;
  periodStart: number;
  periodEnd: number;
  at: number;
  /** 0 on the due date; n for the n-th dunning retry. */
  attempt: number;
}

/** What the workflow learns of a charge (the invoice itself stays in Postgres). */
export type { ChargeOutcome };

function outcomeOf(result: ChargeResult, at: number): ChargeOutcome {
  switch (result.status) {
    case 'paid': return { status: 'paid', invoiceId: result.invoice.id, paidAt: result.invoice.paid_at?.getTime() ?? at };
    case 'requires_action': return { status: 'requires_action', invoiceId: result.invoice.id, hostedUrl: result.hostedUrl };
    case 'declined': return { status: 'declined', invoiceId: result.invoice.id, code: result.code, hostedUrl: result.invoice.hosted_url };
  }
}

export function createActivities({ sql, payments }: ActivityDeps) {
  /**
   * A charge at `at` (ms) first lapses the workspace's pack invoices whose 23 hours ended by then, so the customer
   * balance they held is back for it, as in real time (a test clock's advance may pass both at once).
   */
  const lapsePacksDueBy = (workspaceId: string, at: number) => lapseOpenPacks({ sql, payments }, { workspaceId, asOf: new Date(at) });
  return {
    /** (First workflow type) Invoices and charges one billing period; a declined card is an outcome, not a failure. */
    async chargePeriod(input: ChargePeriodInput): Promise<ChargeOutcome> {
      await lapsePacksDueBy(input.workspaceId, input.at);
      const plan = planById(input.plan);
      const result = await chargeInvoice(sql, payments, {
        // The cycle's anchor is part of the key: a re-anchored subscription starts its period count anew.
        businessKey: `${input.subscriptionId}:${input.anchor}:period:${input.periodIndex}:subscription`,
        workspaceId: input.workspaceId,
        subscriptionId: input.subscriptionId,
        kind: 'subscription',
        lines: [{
          description: `${plan.name} (${input.interval}ly), ${isoDay(input.periodStart)} to ${isoDay(input.periodEnd)}`,
          amount_cents: priceCents(plan, input.interval),
        }],
        createdAt: new Date(input.at),
      }, input.attempt);
      return outcomeOf(result, input.at);
    },

    /**
     * Invoices and charges what the lifecycle core decided (SPEC §4): the business key names the invoice,
     * `attempt` the payment attempt (0 first, n the n-th retry, each with its own provider key).
     */
    async charge(input: {
      subscriptionId: string; workspaceId: string; businessKey: string; kind: 'subscription' | 'upgrade' | 'interval_switch';
      lines: InvoiceLine[]; at: number; attempt: number;
    }): Promise<ChargeOutcome> {
      await lapsePacksDueBy(input.workspaceId, input.at);
      const result = await chargeInvoice(sql, payments, {
        businessKey: input.businessKey, workspaceId: input.workspaceId, subscriptionId: input.subscriptionId,
        kind: input.kind, lines: input.lines, createdAt: new Date(input.at),
      }, input.attempt);
      return outcomeOf(result, input.at);
    },

    /**
     * Drafts a confirmed change's invoice before anything of the change is carried out (SPEC §10): the
     * customer balance is applied and the amount due compared with `expectedAmountDueCents` (cents) in one
     * transaction. A different amount fails non-retryably with type `preview_outdated` (nothing drafted);
     * the charge that follows finds this draft by its business key.
     */
    async draftConfirmedCharge(input: {
      subscriptionId: string; workspaceId: string; businessKey: string; kind: 'subscription' | 'upgrade' | 'interval_switch';
      lines: InvoiceLine[]; at: number; expectedAmountDueCents: number;
    }): Promise<{ invoiceId: string; amountDueCents: number }> {
      try {
        const invoice = await draftInvoice(sql, {
          businessKey: input.businessKey, workspaceId: input.workspaceId, subscriptionId: input.subscriptionId,
          kind: input.kind, lines: input.lines, createdAt: new Date(input.at), expectedAmountDueCents: input.expectedAmountDueCents,
        });
        return { invoiceId: invoice.id, amountDueCents: invoice.amount_due_cents };
      } catch (error) {
        if (!(error instanceof AmountDueChanged)) throw error;
        throw ApplicationFailure.create({
          type: 'preview_outdated', message: error.message, nonRetryable: true,
          details: [{ amount_due_cents: error.amountDueCents, expected_amount_due_cents: error.expectedAmountDueCents }],
        });
      }
    },

    /** Credits still available in the lots of the given grants (an interval switch prices the ones already used). */
    async availablePlanCredits(input: { workspaceId: string; grantKeys: string[]; at: number }): Promise<number> {
      return availableOfGrants(sql, input.workspaceId, input.grantKeys, new Date(input.at));
    },

    /**
     * What pricing a change reads from the ledger (SPEC §4, §10): what the period in force was paid and refunded
     * (a refund before the change lowers its unused-time credit) and, for an interval switch (`switching`), the
     * plan credits still available in the lots of `grantKeys` at `at` (epoch ms).
     */
    async changeLedgerView(input: { workspaceId: string; subscriptionId: string; grantKeys: string[]; at: number; switching: boolean }): Promise<LedgerView> {
      return changeLedgerView(sql, { ...input, at: new Date(input.at) });
    },

    /** Takes back unspent, unheld credits from the lots of the given grants (SPEC §4 interval switch). */
    async clawBack(input: { key: string; workspaceId: string; grantKeys: string[]; credits: number; at: number }): Promise<{ clawedBack: number; shortfall: number }> {
      return clawBack(sql, { ...input, at: new Date(input.at) });
    },

    /** Journals the expiry of the lot a grant created (by the grant's business key); none granted, nothing to do. */
    async expireGrant(input: { workspaceId: string; grantKey: string; at: number }): Promise<{ expired: number }> {
      const lotId = await lotOfGrant(sql, input.workspaceId, input.grantKey);
      if (lotId === undefined) return { expired: 0 };
      return expireLot(sql, { workspaceId: input.workspaceId, lotId, at: new Date(input.at) });
    },

    /** (First workflow type) Invoices and charges an upgrade or interval switch, with the lines the workflow priced. */
    async chargeChange(input: {
      subscriptionId: string; workspaceId: string; businessKey: string; kind: 'upgrade' | 'interval_switch';
      lines: InvoiceLine[]; at: number;
    }): Promise<ChargeOutcome> {
      await lapsePacksDueBy(input.workspaceId, input.at);
      const result = await chargeInvoice(sql, payments, {
        businessKey: input.businessKey, workspaceId: input.workspaceId, subscriptionId: input.subscriptionId,
        kind: input.kind, lines: input.lines, createdAt: new Date(input.at),
      });
      return outcomeOf(result, input.at);
    },

    /**
     * Voids an unpaid invoice: first at the provider, so the customer can no longer pay it there, then ours.
     * One paid at the provider meanwhile is left open here: its payment webhook settles it.
     */
    async voidInvoice(input: { invoiceId: string }): Promise<'void' | 'paid'> {
      return voidUnpaidInvoice(sql, payments, input.invoiceId);
    },

    async grantLot(input: {
      key: string; workspaceId: string; source: LotSource; credits: number; grantedAt: number; expiresAt: number;
    }): Promise<{ lotId: number }> {
      const granted = await grantLot(sql, {
        key: input.key, workspaceId: input.workspaceId, source: input.source, amount: input.credits,
        grantedAt: new Date(input.grantedAt), expiresAt: new Date(input.expiresAt),
      });
      // A yearly invoice's later refresh: clawed back if that invoice was refunded in full, frozen while it is disputed (SPEC §10).
      await settleLateRefresh(sql, { workspaceId: input.workspaceId, grantKey: input.key, lotId: granted.lotId, credits: input.credits, at: new Date(input.grantedAt) });
      return granted;
    },

    async expireLot(input: { workspaceId: string; lotId: number; at: number }): Promise<{ expired: number }> {
      return expireLot(sql, { workspaceId: input.workspaceId, lotId: input.lotId, at: new Date(input.at) });
    },

    /** The subscription ended: its monthly and upgrade lots are forfeited, packs freeze, open pack invoices lapse. */
    async endPlanCredits(input: { key: string; subscriptionId: string; workspaceId: string; at: number }): Promise<{ forfeited: number }> {
      const at = new Date(input.at);
      await markSubscriptionStatus(sql, input.subscriptionId, 'canceled');
      const result = await forfeitPlanLots(sql, { key: `${input.key}:forfeit`, workspaceId: input.workspaceId, at });
      await setPacksFrozen(sql, { key: `${input.key}:freeze`, workspaceId: input.workspaceId, at, frozen: true });
      // A pack still waiting for 3-D Secure has nothing left to be delivered to: it lapses now (SPEC §1).
      await lapseOpenPacks({ sql, payments }, { workspaceId: input.workspaceId });
      return result;
    },

    /** A subscription (re)started: packs bought meanwhile become spendable. */
    async thawPacks(input: { key: string; subscriptionId: string; workspaceId: string; at: number }): Promise<void> {
      await markSubscriptionStatus(sql, input.subscriptionId, 'active');
      await setPacksFrozen(sql, { key: input.key, workspaceId: input.workspaceId, at: new Date(input.at), frozen: false });
    },

    /**
     * A plan takes effect for custom models: writes it onto the projection and deactivates the models above
     * `keep`, under the workspace lock activations take (SPEC §4). `subscriptionId`/`plan` are absent in
     * histories of the legacy v1 workflow.
     */
    async deactivateCustomModels(input: { workspaceId: string; keep: number; subscriptionId?: string; plan?: string }): Promise<{ deactivated: string[] }> {
      return { deactivated: await applyModelLimit(sql, input) };
    },

    async notify(input: { workspaceId: string; kind: 'payment_failed' | 'downgrade_applied'; dedupeKey: string; payload: Record<string, unknown>; at: number }): Promise<void> {
      await recordNotification(sql, { ...input, at: new Date(input.at) });
    },

    async recordSubscription(projection: SubscriptionProjection): Promise<void> {
      await projectSubscription(sql, projection);
    },

    async readClockTime(input: { workspaceId: string }): Promise<number | null> {
      return (await clockTimeOfWorkspace(sql, input.workspaceId))?.getTime() ?? null;
    },

    async reportClockSynced(input: { subscriptionId: string; clockTime: number }): Promise<void> {
      // Packs past their 23 hours by the clock's time lapse once the subscription's own events up to it are done.
      await lapseOpenPacks({ sql, payments }, { subscriptionId: input.subscriptionId, asOf: new Date(input.clockTime) });
      await markClockSynced(sql, input.subscriptionId, new Date(input.clockTime));
    },
  };
}
