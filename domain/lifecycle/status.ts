/**
 * Subscription statuses (SPEC §4) and the one definition of "live": a subscription whose workspace may
 * spend its packs, buy packs and keep custom models (active, past due or paused). Canceled and incomplete
 * subscriptions are not live.
 */
export const SUBSCRIPTION_STATUSES = ['incomplete', 'active', 'past_due', 'paused', 'canceled'] as const;

export type SubscriptionStatus = (typeof SUBSCRIPTION_STATUSES)[number];

export const LIVE_STATUSES: readonly SubscriptionStatus[] = ['active', 'past_due', 'paused'];

export function isLive(status: SubscriptionStatus): boolean {
  return LIVE_STATUSES.includes(status);
}
