/**
 * Every side effect of the subscription workflow, writes to our own database included. Each one is
 * idempotent by a business key, because Temporal may run an activity more than once.
 */
import { type Interval, planById, priceCents } from '../domain/catalog.js';
import { expireLot, grantLot } from '../ledger/credits.js';
import type { Sql } from '../ledger/db.js';
import { draftInvoice, markInvoice } from '../ledger/invoices.js';
import { markClockSynced, projectSubscription, type SubscriptionProjection } from '../ledger/subscriptions.js';
import { clockTimeOfWorkspace } from '../ledger/test-clocks.js';
import { getWorkspace } from '../ledger/workspaces.js';
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

export type ChargeResult =
  | { status: 'paid'; invoiceId: string }
  | { status: 'requires_action'; invoiceId: string; hostedUrl: string }
  | { status: 'declined'; invoiceId: string; code: string };

function isoDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export function createActivities({ sql, payments }: ActivityDeps) {
  return {
    /** Invoices and charges one billing period; a declined card is an outcome, not a failure. */
    async chargePeriod(input: ChargePeriodInput): Promise<ChargeResult> {
      const plan = planById(input.plan);
      // The cycle's anchor is part of the key: a re-anchored subscription starts its period count anew.
      const businessKey = `${input.subscriptionId}:${input.anchor}:period:${input.periodIndex}:subscription`;
      const invoice = await draftInvoice(sql, {
        businessKey,
        workspaceId: input.workspaceId,
        subscriptionId: input.subscriptionId,
        kind: 'subscription',
        lines: [{
          description: `${plan.name} (${input.interval}ly), ${isoDay(input.periodStart)} to ${isoDay(input.periodEnd)}`,
          amount_cents: priceCents(plan, input.interval),
        }],
        createdAt: new Date(input.at),
      });
      if (invoice.status === 'paid') return { status: 'paid', invoiceId: invoice.id };
      const workspace = await getWorkspace(sql, input.workspaceId);
      const outcome = await payments.charge({
        invoiceId: invoice.id,
        idempotencyKey: businessKey,
        workspaceId: input.workspaceId,
        paymentMethod: workspace?.payment_method ?? null,
        amountDueCents: invoice.amount_due_cents,
        description: invoice.lines[0]!.description,
      });
      switch (outcome.status) {
        case 'paid':
          await markInvoice(sql, invoice.id, { status: 'paid', paidAt: new Date(input.at) });
          return { status: 'paid', invoiceId: invoice.id };
        case 'requires_action':
          await markInvoice(sql, invoice.id, { status: 'open', hostedUrl: outcome.hostedUrl, error: 'authentication_required' });
          return { status: 'requires_action', invoiceId: invoice.id, hostedUrl: outcome.hostedUrl };
        case 'declined':
          await markInvoice(sql, invoice.id, { status: 'open', error: outcome.code });
          return { status: 'declined', invoiceId: invoice.id, code: outcome.code };
      }
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
