/**
 * The history parts of the console's workspace page (SPEC §10): invoices with their numbers, credit notes,
 * dispute and a Refund action; the journal; creations; notifications; the workspace's audit trail. No I/O.
 */
import type { AuditEntryView } from '../../../ledger/audit.js';
import type { LedgerEntryView, NotificationView } from '../../../ledger/history.js';
import type { InvoiceRow } from '../../../ledger/invoices.js';
import type { CreationView } from '../../../ledger/spend.js';
import type { InvoiceRefundView } from '../../routes/admin-invoices.js';
import { dollars } from '../pricing.js';
import { When } from '../site.js';
import { AdminForm } from './layout.js';
import type { OperatorSession } from './session.js';

/** What the invoice's issued credit notes gave back (cents): the Refund form is offered while some is left. */
const refundedCents = (refunds: InvoiceRefundView) => refunds.credit_notes.reduce((sum, note) => sum + note.amount_cents, 0);

export function InvoicesSection(props: { session: OperatorSession; invoices: { invoice: InvoiceRow; refunds: InvoiceRefundView }[] }) {
  return (
    <>
      <h2 id="invoices">Invoices</h2>
      {props.invoices.length === 0 ? <p class="muted">No invoices.</p> : (
        <table id="invoice-rows">
          <thead><tr><th>Number</th><th>Created</th><th>Kind</th><th class="num">Total</th><th class="num">Card</th><th>Status</th><th>Credit notes</th><th>Dispute</th><th>Refund</th></tr></thead>
          <tbody>
            {props.invoices.map(({ invoice, refunds }) => (
              <tr id={`invoice-${invoice.id}`} data-kind={invoice.kind} data-status={invoice.status}>
                <td class="mono">{invoice.number ?? '—'}<div class="muted">{invoice.id}</div></td>
                <td><When at={invoice.created_at} /></td>
                <td>{invoice.kind}</td>
                <td class="num">{dollars(invoice.total_cents)}</td>
                <td class="num">{dollars(invoice.amount_due_cents)}</td>
                <td>{invoice.status}{invoice.last_payment_error ? <div class="muted">{invoice.last_payment_error}</div> : ''}</td>
                <td class="credit-notes">
                  {refunds.credit_notes.map((note) => (
                    <div class="credit-note" id={`credit-note-${note.id}`}>
                      <span class="mono">{note.id}</span>: {dollars(note.amount_cents)} ({dollars(note.refunded_to_card_cents)} card,
                      {' '}{dollars(note.credited_to_balance_cents)} balance), {note.credits_clawed_back} credits clawed back
                      {note.credits_pending > 0 ? `, ${note.credits_pending} pending` : ''}{note.shortfall > 0 ? `, shortfall ${note.shortfall}` : ''}
                      {' '}· {note.source} · “{note.reason}”
                    </div>
                  ))}
                </td>
                <td class="dispute">{refunds.dispute ? <><span class="mono">{refunds.dispute.id}</span> {refunds.dispute.status}</> : '—'}</td>
                <td>
                  {invoice.status === 'paid' && invoice.total_cents > 0 && refundedCents(refunds) >= invoice.total_cents ? <span class="muted">refunded in full</span> : ''}
                  {invoice.status === 'paid' && invoice.total_cents > 0 && refundedCents(refunds) < invoice.total_cents ? (
                    <AdminForm action={`/admin/invoices/${encodeURIComponent(invoice.id)}/refund`} session={props.session} class="refund-form">
                      <input type="text" name="amount" size={7} placeholder="all" aria-label={`Amount to refund of ${invoice.number ?? invoice.id} (dollars, empty: all that is left)`} />
                      <input type="text" name="reason" size={14} placeholder="reason" required aria-label={`Reason for refunding ${invoice.number ?? invoice.id}`} />
                      <button type="submit">Refund</button>
                    </AdminForm>
                  ) : ''}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

export function JournalSection(props: { journal: { data: LedgerEntryView[]; has_more: boolean } }) {
  return (
    <>
      <h2 id="journal">Ledger</h2>
      <table id="journal-rows">
        <thead><tr><th>Entry</th><th>At</th><th>Kind</th><th>Lot</th><th class="num">Amount</th><th class="num">Balance change</th><th class="num">Balance after</th><th>Operation</th><th>Reason</th></tr></thead>
        <tbody>
          {props.journal.data.map((entry) => (
            <tr id={`entry-${entry.id}`} data-kind={entry.kind}>
              <td class="mono">{entry.id}</td>
              <td><When at={entry.at} /></td>
              <td>{entry.kind}</td>
              <td class="mono">{entry.lot}</td>
              <td class="num">{entry.amount}</td>
              <td class="num">{entry.balance_change}</td>
              <td class="num">{entry.balance_after}</td>
              <td class="mono">{entry.operation}</td>
              <td>{entry.reason ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {props.journal.has_more ? <p class="muted">Older entries: GET /v1/admin/workspaces/&lt;id&gt;/ledger/export (CSV).</p> : ''}
    </>
  );
}

export function CreationsSection(props: { creations: CreationView[] }) {
  return (
    <>
      <h2 id="creations">Creations</h2>
      {props.creations.length === 0 ? <p class="muted">No creations.</p> : (
        <table id="creation-rows">
          <thead><tr><th>Creation</th><th>Started</th><th>Status</th><th class="num">Quoted</th><th class="num">Held</th><th class="num">Charged</th><th class="num">Released</th></tr></thead>
          <tbody>
            {props.creations.map((c) => (
              <tr id={`creation-${c.id}`}>
                <td class="mono">{c.id}</td><td><When at={c.created_at} /></td><td>{c.status}</td>
                <td class="num">{c.quoted}</td><td class="num">{c.held}</td><td class="num">{c.charged ?? '—'}</td><td class="num">{c.released}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

export function NotificationsSection(props: { notifications: NotificationView[] }) {
  return (
    <>
      <h2 id="notifications">Notifications</h2>
      {props.notifications.length === 0 ? <p class="muted">No notifications.</p> : (
        <table id="notification-rows">
          <thead><tr><th>At</th><th>Kind</th><th>Payload</th></tr></thead>
          <tbody>
            {props.notifications.map((n) => (
              <tr id={`notification-${n.id}`}><td><When at={n.at} /></td><td>{n.kind}</td><td class="mono">{JSON.stringify(n.payload)}</td></tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

export function AuditSection(props: { audit: AuditEntryView[] }) {
  return (
    <>
      <h2 id="audit">Audit trail</h2>
      {props.audit.length === 0 ? <p class="muted">No operator action on this workspace yet.</p> : (
        <table id="audit-rows">
          <thead><tr><th>At (real time)</th><th>Operator key</th><th>Request</th><th>Target</th><th>Body</th><th>Outcome</th></tr></thead>
          <tbody>
            {props.audit.map((a) => (
              <tr id={`audit-${a.id}`} data-outcome={a.outcome}>
                <td><When at={a.at} /></td>
                <td class="mono">{a.operator_key_id}</td>
                <td class="mono">{a.method} {a.path}</td>
                <td class="mono">{a.target ?? '—'}</td>
                <td class="mono">{a.request === null ? '' : JSON.stringify(a.request)}</td>
                <td>{a.status} {a.outcome}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
