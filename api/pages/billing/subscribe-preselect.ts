/**
 * The pricing page's Subscribe (issue 13): a plan card links to /billing?plan=…&interval=…, whose subscribe
 * form then shows that plan and interval selected; through sign-in, the choice travels in `next` as
 * `subscribe-<plan>-<interval>`. Only catalog plans and the two intervals pass, so `next` can never name
 * another page. Pure.
 */
import { findPlan, type Interval, INTERVALS } from '../../../domain/catalog.js';

export interface SubscribePreselect { plan: string; interval: Interval }

/** The preselection of /billing's query (`plan`, `interval`), or undefined when either is missing or unknown. */
export function preselectOf(plan: string | undefined, interval: string | undefined): SubscribePreselect | undefined {
  if (!plan || !findPlan(plan) || !INTERVALS.includes(interval as Interval)) return undefined;
  return { plan, interval: interval as Interval };
}

/** The sign-in `next` value carrying a preselection. */
export function nextOfPreselect(p: SubscribePreselect): string {
  return `subscribe-${p.plan}-${p.interval}`;
}

/** The preselection a sign-in `next` value carries, if it is one. */
export function preselectOfNext(next: string | undefined): SubscribePreselect | undefined {
  const match = /^subscribe-([a-z0-9_]+)-(month|year)$/.exec(next ?? '');
  return match ? preselectOf(match[1], match[2]) : undefined;
}

/** Where the preselection lands: /billing with the query, at the subscribe form. */
export function billingUrlOf(p: SubscribePreselect): string {
  return `/billing?plan=${encodeURIComponent(p.plan)}&interval=${p.interval}#subscription`;
}
