/**
 * Which requests a customer page offers for a subscription as the customer sees it (SPEC §4), so the page
 * shows only buttons the workflow would accept. The same conditions as the requests' own checks
 * (changes.ts assertChangeAllowed and planChange's kind, requests.ts cancel / pause / resume), read
 * from the subscription's view; the workflow's validators still decide every request. Pure.
 */
import { type Interval, planById } from '../catalog.js';
import type { SubscriptionView } from './view.js';

type Offered = Pick<SubscriptionView, 'status' | 'cancel_at_period_end' | 'pause'> & { pending_upgrade: unknown; incomplete_payment: unknown };

/** What resume does in this state: withdraw a cancellation or a scheduled pause (free), or start a charged period. */
export type ResumeOffer = 'withdraw_cancel' | 'resume_now' | 'withdraw_pause' | 'restart';

export interface Offers {
  /** Plan and interval changes (active, not canceling, no change waiting for 3-D Secure). */
  change: boolean;
  pause: boolean;
  /** Cancel renewals; not offered while a first payment is unpaid (its invoice is paid, or lapses, instead). */
  cancel: boolean;
  resume: ResumeOffer | null;
}

export function offersFor(sub: Offered): Offers {
  const change = sub.status === 'active' && !sub.cancel_at_period_end && !sub.pending_upgrade;
  const resume: ResumeOffer | null = sub.cancel_at_period_end ? 'withdraw_cancel'
    : sub.status === 'paused' ? 'resume_now'
      : sub.pause ? 'withdraw_pause'
        : sub.status === 'canceled' && !sub.incomplete_payment ? 'restart' : null;
  return {
    change,
    pause: change && !sub.pause,
    cancel: sub.status !== 'canceled' && sub.status !== 'incomplete' && !sub.cancel_at_period_end,
    resume,
  };
}

/** Whether resuming charges a new period at once (resuming a pause now, restarting a canceled subscription). */
export function resumeCharges(offer: ResumeOffer): boolean {
  return offer === 'resume_now' || offer === 'restart';
}

/**
 * What changing from (plan, interval) to (toPlan, toInterval) is, as planChange decides it: another
 * interval is a switch (at once) even to a lower plan; a lower tier waits for the renewal; else an upgrade.
 */
export function changeKindOf(
  from: { plan: string; interval: Interval }, to: { plan: string; interval: Interval },
): 'upgrade' | 'downgrade' | 'interval_switch' {
  if (to.interval !== from.interval) return 'interval_switch';
  return planById(to.plan).tier < planById(from.plan).tier ? 'downgrade' : 'upgrade';
}
