/** The history parts of /billing: creations (quoted vs charged credits) and invoices with their documents. No I/O. */
import { creationLabel } from '../../../domain/creation-label.js';
import type { InvoiceRow } from '../../../ledger/invoices.js';
import type { CreationView } from '../../../ledger/spend.js';
import { dollars } from '../pricing.js';
import { When } from '../site.js';
import { INVOICE_LABELS } from './format.js';

export function CreationsSection(props: { creations: CreationView[] }) {
  return (
    <>
      <h2 id="creations">Creations</h2>
      <p>Each creation reserves its quoted credits when it starts; only the exact cost is charged when it finishes.</p>
      {props.creations.length === 0 ? <p class="muted">No creations yet.</p> : (
        <table id="creation-rows">
          <thead>
            <tr><th>Started</th><th>What</th><th>Status</th><th class="num">Quoted</th><th class="num">Charged</th><th class="num">Released</th></tr>
          </thead>
          <tbody>
            {props.creations.map((creation) => (
              <tr id={`creation-${creation.id}`}>
                <td><When at={creation.created_at} /></td>
                <td class="creation-what">
                  {creationLabel(creation)}
                  {creation.external_id === null ? null : <span class="muted"> · {creation.external_id}</span>}
                </td>
                <td>{creation.status}</td>
                <td class="num">{creation.quoted}</td>
                <td class="num">{creation.charged ?? '—'}</td>
                <td class="num">{creation.released}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

export function InvoicesSection(props: { invoices: InvoiceRow[] }) {
  return (
    <>
      <h2 id="invoices">Invoices</h2>
      {props.invoices.length === 0 ? <p class="muted">No invoices yet.</p> : (
        <table id="invoice-rows">
          <thead>
            <tr><th>Date</th><th>Details</th><th class="num">Total</th><th>Status</th><th>Documents</th></tr>
          </thead>
          <tbody>
            {props.invoices.map((invoice) => (
              <tr id={`invoice-${invoice.id}`} data-kind={invoice.kind}>
                <td><When at={invoice.created_at} /></td>
                <td>
                  {INVOICE_LABELS[invoice.kind]}
                  {invoice.number ? <> <span class="muted invoice-number" title={invoice.id}>{invoice.number}</span></> : ''}
                  {invoice.lines.map((line) => <div class="muted">{line.description}: {dollars(line.amount_cents)}</div>)}
                  {invoice.balance_applied_cents > 0 ? <div class="muted">Paid from account credit: {dollars(-invoice.balance_applied_cents)}</div> : ''}
                </td>
                <td class="num">{dollars(invoice.total_cents)}</td>
                <td>{invoice.status === 'open' ? <span class="tag warn">open</span> : invoice.status}</td>
                <td>
                  {invoice.pdf_url ? <a class="pdf" href={invoice.pdf_url} target="_blank" rel="noopener">PDF</a> : ''}
                  {invoice.pdf_url && invoice.hosted_url ? ' · ' : ''}
                  {invoice.hosted_url ? <a href={invoice.hosted_url} target="_blank" rel="noopener">{invoice.status === 'open' ? 'Pay' : 'View'}</a> : ''}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
