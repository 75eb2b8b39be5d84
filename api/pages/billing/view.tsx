/**
 * The billing pages' whole views: /billing itself, sign-in, and the error pages. Plain functions of the data
 * they show (no I/O), called by the router (index.ts).
 */
import type { UpcomingInvoice } from '../../../domain/lifecycle/index.js';
import type { AutoTopUpView } from '../../../ledger/auto-top-up.js';
import type { BalanceView } from '../../../ledger/credits.js';
import type { InvoiceRow } from '../../../ledger/invoices.js';
import type { CreationView } from '../../../ledger/spend.js';
import type { SubscriptionRow } from '../../../ledger/subscriptions.js';
import type { BillingSession, Notice } from '../billing-session.js';
import { SitePage } from '../site.js';
import { TestModeBanner } from '../test-mode.js';
import { ActionForm, NoticeBanner } from './components.js';
import { AutoTopUpSection } from './auto-top-up-section.js';
import { CreditsSection } from './credits-section.js';
import { CreationsSection, InvoicesSection } from './history-sections.js';
import { PlanSection } from './plan-section.js';
import type { SubscribePreselect } from './subscribe-preselect.js';
import type { UsageChartInput } from './usage-chart.js';
import { UsageChartSection } from './usage-chart-section.js';

export interface BillingPageData {
  session: BillingSession;
  subscription: SubscriptionRow | undefined;
  balance: BalanceView;
  creations: CreationView[];
  invoices: InvoiceRow[];
  /** The next scheduled charge (SPEC §10 upcoming invoice), when there is one and it could be read. */
  upcoming: UpcomingInvoice | undefined;
  notice: Notice | undefined;
  /** The automatic top-up setting and its state (SPEC §11); undefined when never saved. */
  autoTopUp?: AutoTopUpView;
  /** The usage chart's data (SPEC §11): spend per day and model, balances, marks. */
  usage?: UsageChartInput;
  /** The plan and interval the subscribe form shows selected (from the pricing page's Subscribe). */
  preselect?: SubscribePreselect;
  /** Sandbox payments (no Stripe key): the page carries the Test mode banner (issue 16). */
  testMode?: boolean;
}

/** The sign-out button of the top navigation. */
export function SignOut(props: { session: BillingSession }) {
  return (
    <ActionForm action="/billing/sign-out" session={props.session}>
      <button type="submit" class="quiet">Sign out</button>
    </ActionForm>
  );
}

/** /billing: plan, credits, creations and invoices of the signed-in workspace. */
export function billingPage(view: BillingPageData) {
  return (
    <SitePage title="Billing" current="billing" signOut={<SignOut session={view.session} />}>
      {view.testMode ? <TestModeBanner /> : ''}
      <h1>Billing</h1>
      <p class="lede">Workspace <strong id="workspace-name">{view.session.workspace.name}</strong>. All dates are in UTC.</p>
      {/* Signed in through a billing session URL: the app that sent the customer here said where to go back. */}
      {view.session.returnUrl ? <p><a id="return-url" href={view.session.returnUrl}>← Back to your app</a></p> : ''}
      {view.notice ? <NoticeBanner notice={view.notice} /> : ''}
      <h2 id="plan">Your plan</h2>
      <PlanSection session={view.session} subscription={view.subscription} upcoming={view.upcoming} preselect={view.preselect} />
      <CreditsSection session={view.session} balance={view.balance} subscription={view.subscription} />
      <AutoTopUpSection session={view.session} autoTopUp={view.autoTopUp} subscription={view.subscription} />
      {view.usage ? <UsageChartSection usage={view.usage} /> : ''}
      <CreationsSection creations={view.creations} />
      <InvoicesSection invoices={view.invoices} />
      <footer class="muted">
        Questions about a charge? See <a href="/pricing#billing">how billing works</a>. Average response time: under 24 business hours.
      </footer>
    </SitePage>
  );
}

/** /billing/sign-in, with an error or a notice; `next` says where to go once signed in. */
export function signInPage(props: { error?: string; notice?: Notice; next?: string }) {
  return (
    <SitePage title="Sign in to billing" current="billing">
      <h1>Sign in to billing</h1>
      <p class="lede">Enter your workspace API key to see your plan, credits and invoices.</p>
      {props.notice ? <NoticeBanner notice={props.notice} /> : ''}
      {props.error ? <p class="notice error" role="alert" id="notice">{props.error}</p> : ''}
      <form method="post" action="/billing/sign-in" class="panel">
        {props.next ? <input type="hidden" name="next" value={props.next} /> : ''}
        <p>
          <label for="key">Workspace key</label><br />
          <input type="password" id="key" name="key" autocomplete="off" required spellcheck={false} />
        </p>
        <p><button type="submit" class="primary">Sign in</button></p>
        <p class="muted">The key stays in a secure cookie of this browser until you sign out or eight hours pass.</p>
      </form>
    </SitePage>
  );
}

/** A form post without this session's token: nothing was done. */
export function formExpiredPage() {
  return (
    <SitePage title="Form expired" current="billing">
      <h1>This form has expired</h1>
      <p>For your safety, the request was not carried out. Reload the <a href="/billing">billing page</a> and try again.</p>
    </SitePage>
  );
}

/** The portal could not be opened (the provider failed). */
export function portalUnavailablePage(props: { reason: string }) {
  return (
    <SitePage title="Billing portal unavailable" current="billing">
      <h1>The billing portal could not be opened</h1>
      <p class="notice error" role="alert">{props.reason}</p>
      <p><a href="/billing">Back to billing</a></p>
    </SitePage>
  );
}
