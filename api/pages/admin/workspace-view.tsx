/**
 * /admin/workspaces/:id (SPEC §10 "Operator console"): the workspace's subscription with its actions, its
 * balance and lots with the adjustment form, the customer balance, and its history (workspace-history.tsx).
 * No I/O.
 */
import type { AuditEntryView } from '../../../ledger/audit.js';
import type { BalanceView } from '../../../ledger/credits.js';
import type { LedgerEntryView, NotificationView } from '../../../ledger/history.js';
import type { InvoiceRow } from '../../../ledger/invoices.js';
import type { CreationView } from '../../../ledger/spend.js';
import type { SubscriptionRow } from '../../../ledger/subscriptions.js';
import type { WorkspaceSummary } from '../../../ledger/workspace-search.js';
import type { InvoiceRefundView } from '../../routes/admin-invoices.js';
import type { Notice } from '../billing-session.js';
import { LOT_LABELS, STATUS_LABELS } from '../billing/format.js';
import { dollars } from '../pricing.js';
import { When } from '../site.js';
import { AdminForm, AdminPage, MaybeNotice } from './layout.js';
import type { OperatorSession } from './session.js';
import { AuditSection, CreationsSection, InvoicesSection, JournalSection, NotificationsSection } from './workspace-history.js';

export interface WorkspacePageData {
  session: OperatorSession;
  workspace: WorkspaceSummary;
  subscription: SubscriptionRow | undefined;
  /** The subscription's workflow in the Temporal UI; null without a subscription. */
  workflowUrl: string | null;
  balance: BalanceView;
  customerBalanceCents: number;
  journal: { data: LedgerEntryView[]; has_more: boolean };
  invoices: { invoice: InvoiceRow; refunds: InvoiceRefundView }[];
  creations: CreationView[];
  notifications: NotificationView[];
  audit: AuditEntryView[];
  notice: Notice | undefined;
}

/** One workspace, everything an operator reads and does about it on one page (ids on elements for tests and readers). */
export function workspacePage(view: WorkspacePageData) {
  const { workspace, session } = view;
  return (
    <AdminPage title={workspace.name} session={session}>
      <p class="muted"><a href="/admin">← Workspaces</a></p>
      <h1 id="workspace-name">{workspace.name}</h1>
      <dl class="facts">
        <dt>Id</dt><dd class="mono" id="workspace-id">{workspace.id}</dd>
        <dt>External id</dt><dd class="mono">{workspace.external_id ?? '—'}</dd>
        <dt>Test clock</dt><dd class="mono">{workspace.test_clock_id ?? '—'}</dd>
        <dt>Created</dt><dd><When at={workspace.created_at} /></dd>
        <dt>Customer balance</dt><dd id="customer-balance" data-cents={String(view.customerBalanceCents)}>{dollars(view.customerBalanceCents)}</dd>
      </dl>
      <MaybeNotice notice={view.notice} />
      <SubscriptionSection session={session} workspaceId={workspace.id} subscription={view.subscription} workflowUrl={view.workflowUrl} />
      <BalanceSection session={session} workspaceId={workspace.id} balance={view.balance} />
      <InvoicesSection session={session} invoices={view.invoices} />
      <JournalSection journal={view.journal} />
      <CreationsSection creations={view.creations} />
      <NotificationsSection notifications={view.notifications} />
      <AuditSection audit={view.audit} />
    </AdminPage>
  );
}

function SubscriptionSection(props: { session: OperatorSession; workspaceId: string; subscription: SubscriptionRow | undefined; workflowUrl: string | null }) {
  const { subscription: sub, session } = props;
  if (!sub) return <><h2 id="subscription">Subscription</h2><p class="muted" id="no-subscription">Never subscribed.</p></>;
  const base = `/admin/workspaces/${encodeURIComponent(props.workspaceId)}/subscription`;
  return (
    <>
      <h2 id="subscription">Subscription</h2>
      <dl class="facts">
        <dt>Id</dt><dd class="mono">{sub.id}</dd>
        <dt>Status</dt><dd id="subscription-status" data-status={sub.status}>{STATUS_LABELS[sub.status]}{sub.cancel_at_period_end ? ' · cancels at the period end' : ''}</dd>
        <dt>Plan</dt><dd id="subscription-plan">{sub.plan}, billed {sub.interval}ly</dd>
        <dt>Period</dt><dd><When at={sub.current_period_start} /> → <When at={sub.current_period_end} /></dd>
        <dt>Scheduled change</dt><dd id="scheduled-change">{sub.scheduled_change ? <>to {sub.scheduled_change.plan} on <When at={sub.scheduled_change.effective_at} /></> : '—'}</dd>
        <dt>Pause</dt>
        <dd id="pause">
          {sub.pause
            ? <>{sub.pause.cycles} cycle(s){sub.pause.starts_at ? <>, from <When at={sub.pause.starts_at} /></> : ''}{sub.pause.resumes_at ? <>, resumes <When at={sub.pause.resumes_at} /></> : ''}</>
            : '—'}
        </dd>
        {sub.incomplete_payment ? <><dt>First payment</dt><dd>{sub.incomplete_payment.outcome} ({sub.incomplete_payment.decline_code ?? 'no code'})</dd></> : ''}
        <dt>Workflow</dt>
        <dd>{props.workflowUrl ? <a id="workflow-link" href={props.workflowUrl} target="_blank" rel="noopener">Open in the Temporal UI</a> : '—'}</dd>
      </dl>
      <div class="actions" id="subscription-actions">
        <AdminForm action={`${base}/cancel`} session={session} fields={{ at_period_end: '1' }}><button type="submit">Cancel at period end</button></AdminForm>
        <AdminForm action={`${base}/cancel`} session={session} fields={{ at_period_end: '0' }}><button type="submit" class="danger">Cancel now</button></AdminForm>
        <AdminForm action={`${base}/pause`} session={session}>
          <div>
            <label for="pause-cycles">Cycles</label>
            <select id="pause-cycles" name="cycles">{[1, 2, 3].map((n) => <option value={String(n)}>{n}</option>)}</select>
          </div>
          <button type="submit">Pause</button>
        </AdminForm>
        <AdminForm action={`${base}/resume`} session={session}><button type="submit">Resume</button></AdminForm>
        <AdminForm action={`${base}/retry-payment`} session={session}><button type="submit">Retry payment</button></AdminForm>
      </div>
    </>
  );
}

function BalanceSection(props: { session: OperatorSession; workspaceId: string; balance: BalanceView }) {
  const { balance } = props;
  return (
    <>
      <h2 id="balance">Balance and lots</h2>
      <p>
        Available <strong id="balance-available">{balance.available}</strong> credits, held <span id="balance-held">{balance.held}</span>,
        {' '}as of <When at={balance.as_of} />.
      </p>
      <table id="lots">
        <thead><tr><th>Lot</th><th>Source</th><th class="num">Granted</th><th class="num">Remaining</th><th class="num">Held</th><th>Granted at</th><th>Expires</th><th /></tr></thead>
        <tbody>
          {balance.lots.map((lot) => (
            <tr id={`lot-${lot.id}`} data-source={lot.source}>
              <td class="mono">{lot.id}</td>
              <td>{LOT_LABELS[lot.source]}</td>
              <td class="num">{lot.granted}</td>
              <td class="num">{lot.remaining}</td>
              <td class="num">{lot.held}</td>
              <td><When at={lot.granted_at} /></td>
              <td>{lot.expires_at ? <When at={lot.expires_at} /> : 'never'}</td>
              <td>{lot.frozen ? <span class="tag warn">frozen</span> : ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3>Credit adjustment</h3>
      <AdminForm action={`/admin/workspaces/${encodeURIComponent(props.workspaceId)}/credit-adjustments`} session={props.session} id="adjust-form" class="actions">
        <div><label for="adjust-credits">Credits (+ grant, − take)</label><input type="text" id="adjust-credits" name="credits" size={8} required /></div>
        <div><label for="adjust-reason">Reason</label><input type="text" id="adjust-reason" name="reason" size={36} required /></div>
        <div><label for="adjust-expires">Expires (optional, YYYY-MM-DD UTC)</label><input type="text" id="adjust-expires" name="expires_at" size={12} /></div>
        <button type="submit">Adjust credits</button>
      </AdminForm>
    </>
  );
}
