/**
 * Every side effect of the subscription workflow, writes to our own database included. Each one is
 * idempotent by a business key, because Temporal may run an activity more than once.
 */
import { type Interval, planById, priceCents } from '../domain/catalog.js';
import { expireLot, grantLot } from '../ledger/credits.js';
import type { Sql } from '../ledger/db.js';
import { markClockSynced, projectSubscription, type SubscriptionProjection } from '../ledger/subscriptions.js';
import { clockTimeOfWorkspace } from '../ledger/test-clocks.js';
import { chargeInvoice, type ChargeResult } from '../payments/charge-invoice.js';
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
}

/** What the workflow learns of a charge (the invoice itself stays in Postgres). */
export type ChargeOutcome =
  | { status: 'paid'; invoiceId: string }
  | { status: 'requires_action'; invoiceId: string; hostedUrl: string }
  | { status: 'declined'; invoiceId: string; code: string };

function outcomeOf(result: ChargeResult): ChargeOutcome {
  switch (result.status) {
    case 'paid': return { status: 'paid', invoiceId: result.invoice.id };
    case 'requires_action': return { status: 'requires_action', invoiceId: result.invoice.id, hostedUrl: result.hostedUrl };
    case 'declined': return { status: 'declined', invoiceId: result.invoice.id, code: result.code };
  }
}

function isoDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export function createActivities({ sql, payments }: ActivityDeps) {
  return {
    /** Invoices and charges one billing period; a declined card is an outcome, not a failure. */
    async chargePeriod(input: ChargePeriodInput): Promise<ChargeOutcome> {
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
      });
      return outcomeOf(result);
    },

    async grantRefreshLot(input: {
      subscriptionId: string; workspaceId: string; anchor: number; refreshIndex: number;
      credits: number; grantedAt: number; expiresAt: number;
    }): Promise<{ lotId: number }> {
      return grantLot(sql, {
        key: `${input.subscriptionId}:${input.anchor}:refresh:${input.refreshIndex}:grant`,
        workspaceId: input.workspaceId,
        source: 'monthly',
        amount: input.credits,
        grantedAt: new Date(input.grantedAt),
        expiresAt: new Date(input.expiresAt),
      });
    },

    async expireLot(input: { workspaceId: string; lotId: number; at: number }): Promise<{ expired: number }> {
      return expireLot(sql, { workspaceId: input.workspaceId, lotId: input.lotId, at: new Date(input.at) });
    },

    async recordSubscription(projection: SubscriptionProjection): Promise<void> {
      await projectSubscription(sql, projection);
    },

    async readClockTime(input: { workspaceId: string }): Promise<number | null> {
      return (await clockTimeOfWorkspace(sql, input.workspaceId))?.getTime() ?? null;
    },

    /** clockTime null: the workflow has ended and no longer follows its clock. */
    async reportClockSynced(input: { subscriptionId: string; clockTime: number | null }): Promise<void> {
      await markClockSynced(sql, input.subscriptionId, input.clockTime === null ? null : new Date(input.clockTime));
    },
  };
}
