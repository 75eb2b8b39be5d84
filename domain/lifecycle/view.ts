/**
 * The subscription as customers, the API projection and operators see it (SPEC §8 GET /v1/subscription).
 * Nothing upcoming is ever in the past once due events are handled: while paused the period shown is the
 * pause; a scheduled change or pause shows the period end it waits for.
 */
import type { Interval } from '../catalog.js';
import { currentPeriod, nextChargeAt } from './schedule.js';
import type { LifecycleState } from './state.js';
import type { SubscriptionStatus } from './status.js';

export interface SubscriptionView {
  id: string;
  status: SubscriptionStatus;
  plan: string;
  interval: Interval;
  current_period_start: string;
  current_period_end: string;
  cancel_at_period_end: boolean;
  scheduled_change: { plan: string; effective_at: string } | null;
  pause: { cycles: number; starts_at: string | null; resumes_at: string | null } | null;
  pending_upgrade: { plan: string; interval: Interval; invoice_id: string; expires_at: string } | null;
  /** Why the first payment (of a subscribe or a restart) is not done, the invoice to pay and when the attempt lapses. */
  incomplete_payment: {
    outcome: 'declined' | 'requires_action'; decline_code: string | null; invoice_id: string; hosted_url: string | null; expires_at: string;
  } | null;
  /** The next charge the schedule makes by itself (renewal, pause end, dunning retry), or null. */
  next_due_at: string | null;
}

const iso = (ms: number) => new Date(ms).toISOString();

export function viewOf(state: LifecycleState): SubscriptionView {
  const paused = state.status === 'paused' && state.pause?.startsAt != null && state.pause.resumesAt != null;
  const period = paused ? { start: state.pause!.startsAt!, end: state.pause!.resumesAt! } : currentPeriod(state);
  const next = nextChargeAt(state);
  const { incomplete } = state;
  return {
    id: state.subscriptionId,
    status: state.status,
    plan: state.plan,
    interval: state.interval,
    current_period_start: iso(period.start),
    current_period_end: iso(period.end),
    cancel_at_period_end: state.cancelAtPeriodEnd,
    scheduled_change: state.scheduledChange ? { plan: state.scheduledChange.plan, effective_at: iso(period.end) } : null,
    pause: state.pause
      ? { cycles: state.pause.cycles, starts_at: iso(state.pause.startsAt ?? period.end),
          resumes_at: state.pause.resumesAt === null ? null : iso(state.pause.resumesAt) }
      : null,
    pending_upgrade: state.pendingChange
      ? { plan: state.pendingChange.plan, interval: state.pendingChange.interval, invoice_id: state.pendingChange.invoiceId,
          expires_at: iso(state.pendingChange.deadline) }
      : null,
    incomplete_payment: incomplete
      ? { outcome: incomplete.outcome, decline_code: incomplete.declineCode, invoice_id: incomplete.invoiceId, hosted_url: incomplete.hostedUrl,
          expires_at: iso(incomplete.deadline) }
      : null,
    next_due_at: next === null ? null : iso(next),
  };
}
