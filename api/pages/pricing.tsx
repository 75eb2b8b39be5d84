import { Hono } from 'hono';
import { type Interval, PACKS, packPriceCents, type Plan, PLANS, planById, priceCents } from '../../domain/catalog.js';
import { creditRange, modelCostRows, planEquivalents, REFERENCE_VIDEO_S } from '../../domain/plan-equivalents.js';
import { SitePage } from './site.js';

/** US cents as dollars: 2900 → "$29.00", 215280 → "$2,152.80", -800 → "-$8.00". */
export function dollars(cents: number): string {
  const sign = cents < 0 ? '-' : '';
  const abs = Math.abs(cents);
  return `${sign}$${Math.trunc(abs / 100).toLocaleString('en-US')}.${String(abs % 100).padStart(2, '0')}`;
}

/** Whole percent saved by paying `price` instead of `full`, e.g. the yearly price against twelve months. */
function percentSaved(full: number, price: number): number {
  return Math.round(((full - price) * 100) / full);
}

/** Plans with a pack discount, named for the page ("Max, Generative and Team"). */
function discountedPlanNames(): string {
  const names = PLANS.filter((p) => p.packDiscountPercent > 0).map((p) => p.name);
  return names.length > 1 ? `${names.slice(0, -1).join(', ')} and ${names.at(-1)}` : (names[0] ?? '');
}

/**
 * Where a plan card's Subscribe goes: /billing with the plan and interval preselected in its subscribe form
 * (through sign-in first when the browser is not signed in). Nothing is charged before /billing's confirm step.
 */
export function subscribeHref(plan: Plan, interval: Interval): string {
  return `/billing?plan=${encodeURIComponent(plan.id)}&interval=${interval}#subscription`;
}

/** Whole percent less per credit than the smallest pack (500 credits: 18%). */
function packSavingPercent(credits: number): number {
  const base = PACKS[0]!;
  const pack = PACKS.find((p) => p.credits === credits) ?? base;
  return Math.round(100 - (pack.priceCents * base.credits * 100) / (base.priceCents * pack.credits));
}

const count = (n: number) => n.toLocaleString('en-US');

/** "roughly 133 high-resolution images, or 20 to 50 ten-second videos": the plan's credits in creations. */
function Equivalents(props: { plan: Plan }) {
  const eq = planEquivalents(props.plan);
  return (
    <span class="equivalents" data-images={String(eq.highResImages.count)} data-videos-min={String(eq.premiumVideos.count)} data-videos-max={String(eq.economyVideos.count)}>
      roughly {count(eq.highResImages.count)} high-resolution images, or {count(eq.premiumVideos.count)} to {count(eq.economyVideos.count)} ten-second videos depending on the model
    </span>
  );
}

function PlanCard(props: { plan: Plan }) {
  const { plan } = props;
  const monthly = priceCents(plan, 'month');
  const yearly = priceCents(plan, 'year');
  const twelveMonths = monthly * 12;
  // One Subscribe per interval, inside the interval's block: the CSS toggle shows the one matching the prices shown.
  return (
    <section class="plan" id={`plan-${plan.id}`} aria-labelledby={`plan-${plan.id}-name`}>
      <h3 id={`plan-${plan.id}-name`}>{plan.name}</h3>
      <p class="for muted">{plan.audience}</p>
      <div class="price">
        <div class="monthly">
          <p class="figure">{dollars(monthly)}<small> / month</small></p>
          <p class="muted">or {dollars(yearly)} a year, billed yearly</p>
          <p class="subscribe"><a class="button primary" href={subscribeHref(plan, 'month')}>Subscribe to {plan.name} monthly</a></p>
        </div>
        <div class="yearly">
          <p class="figure">{dollars(yearly)}<small> / year</small></p>
          <p class="muted">{dollars(Math.round(yearly / 12))} a month; you save {dollars(twelveMonths - yearly)} ({percentSaved(twelveMonths, yearly)}%)</p>
          <p class="subscribe"><a class="button primary" href={subscribeHref(plan, 'year')}>Subscribe to {plan.name} yearly</a></p>
        </div>
      </div>
      <ul>
        <li>{plan.monthlyCredits.toLocaleString('en-US')} credits every month: <Equivalents plan={plan} /></li>
        <li>{plan.customModelLimit} active custom model{plan.customModelLimit > 1 ? 's' : ''}</li>
        <li>Support: {plan.support}</li>
        {plan.packDiscountPercent > 0 ? <li>{plan.packDiscountPercent}% off every credit pack</li> : ''}
      </ul>
    </section>
  );
}

function PackTable() {
  const discounts = [...new Set(PLANS.map((p) => p.packDiscountPercent).filter((d) => d > 0))];
  const base = PACKS[0]!;
  return (
    <table id="packs">
      <caption>Prices in USD, before tax. Packs are delivered as soon as the payment succeeds.</caption>
      <thead>
        <tr>
          <th>Pack</th>
          <th class="num">Price</th>
          {discounts.map((d) => {
            const plans = PLANS.filter((p) => p.packDiscountPercent === d).map((p) => p.name).join(', ');
            return <th class="num">On {plans} ({d}% off)</th>;
          })}
        </tr>
      </thead>
      <tbody>
        {PACKS.map((pack) => {
          const perCredit = pack.priceCents / pack.credits;
          const cheaper = Math.round(100 - (perCredit * 100) / (base.priceCents / base.credits));
          return (
            <tr id={`pack-${pack.credits}`}>
              <td>{pack.credits.toLocaleString('en-US')} credits{cheaper > 0 ? <span class="muted"> · {cheaper}% less per credit</span> : ''}</td>
              <td class="num">{dollars(pack.priceCents)}</td>
              {discounts.map((d) => {
                const plan = PLANS.find((p) => p.packDiscountPercent === d)!;
                return <td class="num">{dollars(packPriceCents(pack, plan))}</td>;
              })}
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

/** The cost table (domain/costs.ts) as the page shows it: images per resolution, videos per second. */
function ModelCostTables() {
  const rows = modelCostRows();
  return (
    <>
      <table id="image-costs">
        <caption>Images: credits per image, times the number of images.</caption>
        <thead><tr><th>Model</th><th class="num">Standard (up to 1024 px)</th><th class="num">High resolution (2048 px)</th></tr></thead>
        <tbody>
          {rows.filter((r) => r.perImage).map((r) => (
            <tr id={`cost-${r.model}`}><td>{r.model}</td><td class="num">{r.perImage!.standard}</td><td class="num">{r.perImage!.high}</td></tr>
          ))}
        </tbody>
      </table>
      <table id="video-costs">
        <caption>Videos: credits per second, rounded up to a whole credit per video.</caption>
        <thead><tr><th>Model</th><th class="num">Per second</th><th class="num">A {REFERENCE_VIDEO_S} second video</th></tr></thead>
        <tbody>
          {rows.filter((r) => r.referenceVideo !== undefined).map((r) => (
            <tr id={`cost-${r.model}`}><td>{r.model}</td><td class="num">{r.perSecond}</td><td class="num">{r.referenceVideo}</td></tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

/** The seed's "Practical examples" with numbers from the cost table instead of hand-written ones. */
function PracticalExample(props: { planId: string; children?: unknown }) {
  const plan = planById(props.planId);
  const eq = planEquivalents(plan);
  return (
    <p id={`example-${plan.id}`}>
      <strong>{plan.name} plan.</strong> With {count(plan.monthlyCredits)} credits you can generate
      roughly {count(eq.highResImages.count)} high-resolution images, or {count(eq.premiumVideos.count)} ten-second
      videos on {eq.premiumVideos.model} ({count(eq.economyVideos.count)} on {eq.economyVideos.model}), per month.{' '}
      {props.children}
    </p>
  );
}

function Faq(props: { q: string; children: unknown }) {
  return (
    <details>
      <summary>{props.q}</summary>
      <p>{props.children}</p>
    </details>
  );
}

/** The public pricing page, rendered from the catalog so it can never disagree with billing. */
export function pricingPage() {
  const pages = new Hono();
  const yearlySaving = percentSaved(PLANS[0]!.monthlyPriceCents * 12, priceCents(PLANS[0]!, 'year'));
  pages.get('/pricing', (c) =>
    c.html(
      <SitePage title="Pricing & billing" current="pricing">
        <h1>Pricing &amp; billing</h1>
        <p class="lede">
          Everything you need to know about credits, renewals, invoices and upgrades lives here, in one calm page
          designed for long-form reading.
        </p>
        <p>
          Share this resource with finance teams or clients so everyone understands how plans behave before and after
          you subscribe.
        </p>

        <h2 id="plans">Plans</h2>
        <p>
          The four paid tiers share the same studio experience. What changes is the amount of monthly credits, how many
          custom models you can keep active and the level of support available to your team.
        </p>
        <input type="radio" name="interval" id="show-month" class="sr-only" checked />
        <input type="radio" name="interval" id="show-year" class="sr-only" />
        <div class="toggle">
          <label for="show-month">Monthly</label>
          <label for="show-year">Yearly{' '}<span class="save">save {yearlySaving}%</span></label>
        </div>
        <div class="plans">
          {PLANS.map((plan) => <PlanCard plan={plan} />)}
        </div>
        <p class="muted">All prices are in USD and exclude tax. Yearly plans cost twelve months less {yearlySaving}%.</p>

        <h2 id="credits-101">Credits 101</h2>
        <p>
          Credits are the common currency across every workflow. They let us expose the newest models without forcing
          you to learn a different pricing table for each provider.
        </p>
        <h3>What counts as a credit?</h3>
        <p>
          Every workflow consumes a range of credits based on duration, resolution or complexity. Imagen 3 portraits
          usually spend {creditRange('image').min}–{creditRange('image').max} credits, while a {REFERENCE_VIDEO_S} second
          video can use {creditRange('video').min}–{creditRange('video').max} credits depending on the model. This is
          the whole table; every estimate is computed from it.
        </p>
        <ModelCostTables />
        <h3>Do credits expire?</h3>
        <p>
          Monthly credits refresh on your billing anniversary and unused credits roll over for 30 days: each month's
          credits stay usable until 30 days after the next refresh, and the oldest credits are always spent first.
          Extra packs never expire as long as your account stays active; while no subscription is running they are
          kept safe, and become spendable again when you subscribe.
        </p>
        <h3>Top-ups and add-ons</h3>
        <p>
          You can buy credit packs at any time. They are delivered instantly and stack on top of your monthly
          allowance. {discountedPlanNames()} enjoy a permanent {PLANS.find((p) => p.packDiscountPercent > 0)?.packDiscountPercent}% discount
          on every pack.
        </p>
        <PackTable />
        <h3>Transparency first</h3>
        <p>
          Every creation shows the estimated credit cost before you run it, and the estimate is a ceiling: the credits
          are set aside when the creation starts, and after completion only the exact amount is deducted. You can
          review quoted and charged credits for each creation on your billing page.
        </p>

        <h3>Practical examples</h3>
        <PracticalExample planId="max">Buying a 500 credit pack drops the per-credit price by {packSavingPercent(500)}%.</PracticalExample>
        <PracticalExample planId="generative">Enough for multi-market launches, all without touching add-ons.</PracticalExample>
        <PracticalExample planId="team">Discount packs on top supply entire departments; most teams pair it with automated credit alerts for producers.</PracticalExample>
        <p class="muted">Numbers above are estimates. Actual usage depends on duration, quality settings and provider availability.</p>

        <h2 id="billing">Billing &amp; payments</h2>
        <h3>Billing cycles</h3>
        <p>
          Monthly plans renew every 30 days based on the date you subscribed. Yearly plans renew on the same calendar
          day every year with a {yearlySaving}% discount baked in; when that day does not exist (29 February), the
          last day of the month is used. Yearly plans still receive their credits month by month.
        </p>
        <h3>Charges and receipts</h3>
        <p>
          We charge your default payment method immediately after renewal. A PDF invoice becomes available inside the
          billing section and via the Stripe email receipt.
        </p>
        <h3>Currency &amp; taxes</h3>
        <p>
          All prices are in USD. Applicable taxes are calculated automatically based on your billing address and
          country-level legislation.
        </p>
        <h3>Changing frequency</h3>
        <p>
          You can switch from monthly to yearly (or back) at any time. The switch starts a new cycle that day: the
          unused time of the current cycle is credited, and anything left over is kept as account credit for your
          next invoices.
        </p>
        <h3>Security &amp; compliance</h3>
        <p>
          We never store card numbers. All payments are processed through Stripe with PCI DSS compliance and optional
          3D Secure when required by your bank.
        </p>

        <h2 id="manage">Manage your subscription</h2>
        <p>
          Open the secure Stripe portal to change plans, download invoices or update your payment method in seconds.
          The button opens a new tab with Stripe (after you sign in with your workspace key, if you have not yet).
          When you finish, you will return to this pricing page. Your plan, credits and invoices are also on
          the <a href="/billing">billing page</a>.
        </p>
        <p>
          <a class="button primary" id="manage-subscription" href="/billing/portal" target="_blank" rel="noopener">Manage subscription</a>
        </p>
        <h3>How upgrades and downgrades behave</h3>
        <p>
          <strong>Instant upgrades.</strong> Move from Plus to Max, Generative or Team and the new credits are granted
          right away, in proportion to the time left in your cycle. The invoice shows both the upgrade and a credit
          for unused time.
        </p>
        <p>
          <strong>Scheduled downgrades.</strong> Downgrading keeps your existing benefits until the end of the cycle.
          Once the next renewal hits, the new credit amount is applied automatically. You can withdraw a scheduled
          downgrade until then.
        </p>
        <p>
          <strong>Cancel or pause.</strong> You can cancel renewals with one click. Your workspace remains accessible
          until the period expires and you can restart the subscription whenever you need it again. A pause of one to
          three cycles starts at the end of the current one: no charges and no new credits meanwhile, and the credits
          you have stay spendable.
        </p>

        <h2 id="faq">Pricing FAQ</h2>
        <Faq q="When exactly am I charged?">
          When you subscribe, and then at every renewal: every 30 days on monthly plans, on the same calendar day each
          year on yearly plans. Upgrades and frequency switches are charged when you make them.
        </Faq>
        <Faq q="What happens if a payment fails?">
          Your subscription becomes past due and no new credits are granted. We retry 1, 3, 5 and 7 days later, and at
          once when you update your card. When the payment goes through, the month's credits arrive with their usual
          expiry date.
        </Faq>
        <Faq q="Why is my credit balance lower than what I bought?">
          Credits set aside for a creation that is still running are held, not spent. When it finishes, only the exact
          cost is deducted and the rest is released.
        </Faq>
        <Faq q="Can I get money back when I switch to a cheaper frequency?">
          The unused time of your current cycle is credited on the switch invoice. When that credit is larger than the
          new price, the difference is kept as account credit and pays your next invoices; there is no cash refund.
        </Faq>
        <Faq q="What happens to my custom models when I downgrade?">
          At the renewal that applies the downgrade, models above the new plan's limit are deactivated, keeping the
          ones you used most recently.
        </Faq>

        <h3>Need a human reply?</h3>
        <p>Average response time: under 24 business hours.</p>
        <footer class="muted">Prices in USD, excluding tax. All dates are in UTC.</footer>
      </SitePage>,
    ),
  );
  return pages;
}
