import { Hono } from 'hono';
import { BEST_PACK_DISCOUNT_PLAN, PACKS, packPriceCents, PLANS, priceCents } from '../../domain/catalog.js';
import { Page } from './layout.js';

export function dollars(cents: number): string {
  return `$${Math.trunc(cents / 100)}.${String(cents % 100).padStart(2, '0')}`;
}

/** The public pricing page, rendered from the catalog so it can never disagree with billing. */
export function pricingPage() {
  const pages = new Hono();
  pages.get('/pricing', (c) =>
    c.html(
      <Page title="Pricing & billing">
        <h1>Pricing & billing</h1>
        <p>Everything you need to know about credits, renewals, invoices and upgrades lives here, in one calm page.</p>
        <div class="plans">
          {PLANS.map((plan) => (
            <section class="plan" id={`plan-${plan.id}`}>
              <h3>{plan.name}</h3>
              <p class="muted">{plan.audience}</p>
              <p class="price">{dollars(priceCents(plan, 'month'))}<span class="muted"> / month</span></p>
              <p class="muted">or {dollars(priceCents(plan, 'year'))} a year (40% off)</p>
              <p>{plan.monthlyCredits.toLocaleString('en-US')} credits a month, {plan.customModelLimit} active custom model{plan.customModelLimit > 1 ? 's' : ''}, support: {plan.support}.</p>
            </section>
          ))}
        </div>
        <h2>Credits 101</h2>
        <p>Monthly credits refresh on your billing anniversary and unused credits roll over for 30 days. Extra packs never expire as long as your account stays active.</p>
        <h2>Top-ups</h2>
        <table>
          <tr><th>Pack</th><th>Price</th><th>Max, Generative, Team ({BEST_PACK_DISCOUNT_PLAN.packDiscountPercent}% off)</th></tr>
          {PACKS.map((pack) => (
            <tr><td>{pack.credits} credits</td><td>{dollars(pack.priceCents)}</td><td>{dollars(packPriceCents(pack, BEST_PACK_DISCOUNT_PLAN))}</td></tr>
          ))}
        </table>
        <h2>Billing cycles</h2>
        <p>Monthly plans renew every 30 days from the date you subscribed. Yearly plans renew on the same calendar day every year. Prices are in USD and exclude tax.</p>
      </Page>,
    ),
  );
  return pages;
}
