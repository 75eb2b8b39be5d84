import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Typed search attributes that let an operator find and filter subscriptions in the Temporal UI. */
export const WorkspaceId = defineSearchAttributeKey('WorkspaceId', SearchAttributeType.KEYWORD);
export const PlanId = defineSearchAttributeKey('PlanId', SearchAttributeType.KEYWORD);
export const BillingInterval = defineSearchAttributeKey('BillingInterval', SearchAttributeType.KEYWORD);
export const SubscriptionStatus = defineSearchAttributeKey('SubscriptionStatus', SearchAttributeType.KEYWORD);
export const NextDueAt = defineSearchAttributeKey('NextDueAt', SearchAttributeType.DATETIME);
export const CancelAtPeriodEnd = defineSearchAttributeKey('CancelAtPeriodEnd', SearchAttributeType.BOOL);

export const ALL_SEARCH_ATTRIBUTES = [WorkspaceId, PlanId, BillingInterval, SubscriptionStatus, NextDueAt, CancelAtPeriodEnd];
