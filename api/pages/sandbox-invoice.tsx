import { Hono } from 'hono';
import { getInvoice, type InvoiceRow } from '../../ledger/invoices.js';
import { getWorkspace } from '../../ledger/workspaces.js';
import { renderInvoicePdf } from '../../payments/invoice-pdf.js';
import type { ApiDeps } from '../router.js';
import { SitePage as Page } from './site.js';
import { dollars } from './pricing.js';

function InvoiceTable(props: { invoice: InvoiceRow }) {
  const { invoice } = props;
  return (
    <table>
      {invoice.lines.map((line) => <tr><td>{line.description}</td><td>{dollars(line.amount_cents)}</td></tr>)}
      <tr><th>Total</th><th>{dollars(invoice.total_cents)}</th></tr>
      {invoice.balance_applied_cents > 0 ? <tr><td>Paid from your balance</td><td>{dollars(-invoice.balance_applied_cents)}</td></tr> : ''}
      <tr><th>Amount due</th><th>{dollars(invoice.amount_due_cents)}</th></tr>
    </table>
  );
}

/**
 * The sandbox's hosted invoice page (what Stripe's hosted_invoice_url is in production): shows the
 * invoice and, while a payment waits for 3-D Secure, lets the customer complete it.
 */
export function sandboxInvoicePages(deps: ApiDeps & { sandbox: NonNullable<ApiDeps['sandbox']> }) {
  const pages = new Hono();
  pages.get('/sandbox/invoices/:id', async (c) => {
    const invoice = await getInvoice(deps.sql, c.req.param('id'));
    if (!invoice) return c.html(<Page title="Invoice not found"><h1>Invoice not found</h1></Page>, 404);
    const waiting = invoice.status === 'open' && invoice.last_payment_error === 'authentication_required';
    return c.html(
      <Page title={`Invoice ${invoice.id}`}>
        <h1>Invoice {invoice.id}</h1>
        <p class="muted">Sandbox payment page. Status: <strong id="status">{invoice.status}</strong></p>
        <InvoiceTable invoice={invoice} />
        {waiting ? (
          <form method="post" action={`/sandbox/invoices/${invoice.id}/authenticate`}>
            <p>Your bank asks you to confirm this payment (3-D Secure).</p>
            <button type="submit" id="authenticate">Complete authentication</button>
          </form>
        ) : ''}
      </Page>,
    );
  });
  // Like Stripe's invoice_pdf: anyone with the (unguessable) invoice id can download it.
  pages.get('/sandbox/invoices/:id/pdf', async (c) => {
    const invoice = await getInvoice(deps.sql, c.req.param('id'));
    if (!invoice) return c.text('invoice not found', 404);
    const workspace = await getWorkspace(deps.sql, invoice.workspace_id);
    const pdf = await renderInvoicePdf(invoice, workspace?.name ?? invoice.workspace_id);
    return c.body(new Uint8Array(pdf), 200, {
      'content-type': 'application/pdf', 'content-disposition': `inline; filename="${invoice.id}.pdf"`,
    });
  });
  // Stands in for Stripe's Billing Portal: opened in a new tab, it leads back to the pricing page.
  pages.get('/sandbox/portal', (c) => c.html(
    <Page title="Billing portal (sandbox)">
      <h1>Billing portal</h1>
      <p>In production this is Stripe's secure portal: change plans, download invoices, update your card.</p>
      <p><a id="return" href="/pricing">Return to the pricing page</a></p>
    </Page>,
  ));
  pages.post('/sandbox/invoices/:id/authenticate', async (c) => {
    const invoice = await getInvoice(deps.sql, c.req.param('id'));
    if (!invoice) return c.text('invoice not found', 404);
    if (invoice.status === 'open') await deps.sandbox.completeAuthentication(invoice);
    return c.redirect(`/sandbox/invoices/${invoice.id}`, 303);
  });
  return pages;
}
