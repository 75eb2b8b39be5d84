import { createHmac, timingSafeEqual } from 'node:crypto';
import { Hono, type Context } from 'hono';
import { creditNotesOf } from '../../ledger/credit-notes.js';
import { getInvoice, type InvoiceRow } from '../../ledger/invoices.js';
import { type InvoiceSeller, sellerOfInvoice } from '../../ledger/seller.js';
import { workspaceDetails, workspaceNow } from '../../ledger/workspaces.js';
import { renderInvoicePdf } from '../../payments/invoice-pdf.js';
import { DEFAULT_SELLER } from '../../runtime/config.js';
import type { ApiDeps } from '../router.js';
import { SitePage as Page } from './site.js';
import { dollars } from './pricing.js';
import { TestModeBanner } from './test-mode.js';

/** The hosted page's own layout: readable from 390 px wide (a phone) up; long ids wrap instead of overflowing. */
const css = `
  .invoice-head h1 { margin-bottom: .3rem; overflow-wrap: anywhere; }
  .invoice-head p { margin: 0 0 .2rem; }
  .ids { overflow-wrap: anywhere; }
  .nowrap { white-space: nowrap; }
  .parties { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 1rem 1.5rem; margin: 1.5rem 0; }
  .parties h2 { font-size: .85rem; text-transform: uppercase; letter-spacing: .06em; color: var(--muted); margin: 0 0 .3rem; padding: 0; border: 0; }
  .parties address { font-style: normal; line-height: 1.5; overflow-wrap: anywhere; }
  table.invoice td:last-child, table.invoice th:last-child { text-align: right; white-space: nowrap; }
  table.invoice td:first-child { overflow-wrap: anywhere; }
  tr.settlement th { font-size: 1.05rem; }
  .paid-stamp { color: var(--accent); }
  @media (max-width: 30rem) {
    main { padding: 1rem 1rem 3rem; }
    .parties { grid-template-columns: 1fr; }
    table.invoice th, table.invoice td { padding: .45rem .3rem; }
  }
`;

const day = (at: Date) => at.toISOString().slice(0, 10);

/** What the customer sees of the invoice's state: the provider's word counts as soon as it has paid. */
interface Shown {
  invoice: InvoiceRow;
  status: 'paid' | 'open' | 'void' | 'draft';
  paidAt: Date | null;
}

function Settlement(props: { shown: Shown }) {
  const { invoice, status, paidAt } = props.shown;
  if (status === 'paid') {
    return <tr class="settlement" id="settlement"><th class="paid-stamp">Paid {day(paidAt ?? invoice.created_at)}</th><th>{dollars(invoice.amount_due_cents)}</th></tr>;
  }
  if (status === 'void') return <tr class="settlement" id="settlement"><th>Void: nothing to pay</th><th>{dollars(0)}</th></tr>;
  return <tr class="settlement" id="settlement"><th>Amount due</th><th>{dollars(invoice.amount_due_cents)}</th></tr>;
}

function InvoiceTable(props: { shown: Shown }) {
  const { invoice } = props.shown;
  return (
    <table class="invoice">
      <thead><tr><th>Description</th><th>Amount</th></tr></thead>
      <tbody>
        {invoice.lines.map((line) => <tr><td>{line.description}</td><td>{dollars(line.amount_cents)}</td></tr>)}
        <tr><td>Subtotal</td><td>{dollars(invoice.subtotal_cents)}</td></tr>
        <tr><td>Tax</td><td>{dollars(invoice.tax_cents)}</td></tr>
        <tr><th>Total</th><th>{dollars(invoice.total_cents)}</th></tr>
        {invoice.balance_applied_cents > 0 ? <tr><td>Paid from your balance</td><td>{dollars(-invoice.balance_applied_cents)}</td></tr> : ''}
        <Settlement shown={props.shown} />
      </tbody>
    </table>
  );
}

function Parties(props: { seller: InvoiceSeller; customer: { name: string; externalId: string | null } }) {
  return (
    <div class="parties">
      <section id="seller">
        <h2>From</h2>
        <address>
          <strong>{props.seller.name}</strong>
          {props.seller.address.split('\n').map((line) => <><br />{line}</>)}
          <br />Tax ID: {props.seller.tax_id}
        </address>
      </section>
      <section id="customer">
        <h2>Billed to</h2>
        <address>
          <strong>{props.customer.name}</strong>
          {props.customer.externalId ? <><br /><span class="muted">{props.customer.externalId}</span></> : ''}
        </address>
      </section>
    </div>
  );
}

/**
 * The hosted page's authentication token: an HMAC, under the server's sandbox secret, of the invoice and of
 * the payment attempt waiting for 3-D Secure. Only a page shown for that attempt carries it, and it is
 * worthless once the attempt is paid or replaced by another (a declined retry, a new card).
 */
export function authenticationToken(secret: string, invoiceId: string, attemptId: string): string {
  return createHmac('sha256', secret).update(`sandbox-authenticate\n${invoiceId}\n${attemptId}`).digest('base64url');
}

function sameToken(submitted: unknown, expected: string): boolean {
  if (typeof submitted !== 'string') return false;
  const [a, b] = [Buffer.from(submitted), Buffer.from(expected)];
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Whether a form post comes from our own pages: its Origin (or, when a browser sends none, its Referer's
 * origin) is PUBLIC_URL's or the request's own. A post with neither header is refused.
 */
function fromOwnPage(c: Context, publicOrigin: string): boolean {
  const origin = c.req.header('origin') ?? (() => {
    try {
      return new URL(c.req.header('referer') ?? '').origin;
    } catch {
      return undefined;
    }
  })();
  return origin !== undefined && origin !== 'null' && (origin === publicOrigin || origin === new URL(c.req.url).origin);
}

/**
 * The sandbox's hosted invoice page (what Stripe's hosted_invoice_url is in production): the invoice as a
 * finance team files it (seller, number, customer, lines, "Paid <date>" or "Amount due") and, while a
 * payment waits for 3-D Secure, the button that completes it. Like Stripe's page it shows the provider's
 * state: once the customer has authenticated, a reload shows Paid even before the invoice.paid webhook has
 * reached our invoice mirror.
 */
export function sandboxInvoicePages(deps: ApiDeps & { sandbox: NonNullable<ApiDeps['sandbox']> }) {
  const pages = new Hono();
  const configured = deps.seller ?? DEFAULT_SELLER;

  async function partiesOf(invoice: InvoiceRow) {
    const workspace = await workspaceDetails(deps.sql, invoice.workspace_id);
    return {
      seller: sellerOfInvoice(invoice, configured),
      customer: { name: workspace?.name ?? invoice.workspace_id, externalId: workspace?.external_id ?? null },
    };
  }

  async function shownOf(invoice: InvoiceRow): Promise<Shown> {
    if (invoice.status === 'open' && (await deps.sandbox.isInvoicePaid({ id: invoice.id, providerInvoiceId: invoice.provider_invoice_id }))) {
      return { invoice, status: 'paid', paidAt: await workspaceNow(deps.sql, invoice.workspace_id) };
    }
    return { invoice, status: invoice.status, paidAt: invoice.paid_at };
  }

  pages.get('/sandbox/invoices/:id', async (c) => {
    const invoice = await getInvoice(deps.sql, c.req.param('id'));
    if (!invoice) return c.html(<Page title="Invoice not found"><h1>Invoice not found</h1></Page>, 404);
    const [shown, parties] = await Promise.all([shownOf(invoice), partiesOf(invoice)]);
    // The sandbox's word on what waits for 3-D Secure, and our invoice still open: nothing else shows the form.
    const pending = shown.status === 'open' ? await deps.sandbox.pendingAuthentication(invoice.id) : null;
    const label = invoice.number ?? invoice.id;
    c.header('cache-control', 'no-store');
    return c.html(
      <Page title={`Invoice ${label}`}>
        <style>{css}</style>
        <TestModeBanner />
        <div class="invoice-head">
          <h1>Invoice <span id="number">{label}</span></h1>
          <p class="muted ids">Invoice id <span id="invoice-id">{invoice.id}</span> · <span class="nowrap">Issued {day(invoice.created_at)}</span></p>
          <p class="muted">Sandbox payment page. Status: <strong id="status">{shown.status}</strong></p>
        </div>
        <Parties seller={parties.seller} customer={parties.customer} />
        <InvoiceTable shown={shown} />
        {pending ? (
          <form method="post" action={`/sandbox/invoices/${invoice.id}/authenticate`}>
            <input type="hidden" name="attempt" value={pending.attemptId} />
            <input type="hidden" name="token" value={authenticationToken(deps.webhookSecret, invoice.id, pending.attemptId)} />
            <p>Your bank asks you to confirm this payment (3-D Secure).</p>
            <button type="submit" id="authenticate" class="primary">Complete authentication</button>
          </form>
        ) : shown.status === 'open' && invoice.last_payment_error && invoice.last_payment_error !== 'authentication_required' ? (
          // A declined payment is never completed here: a new card pays it (PUT /v1/payment-method, or Stripe's portal).
          <p id="declined" class="notice error">The card was declined ({invoice.last_payment_error}). This invoice is paid by a new card:
            update it from <a href="/billing">your billing page</a> and the payment is retried at once.</p>
        ) : ''}
        <p><a id="pdf" href={`/sandbox/invoices/${invoice.id}/pdf`}>Download the PDF</a></p>
      </Page>,
    );
  });
  // Like Stripe's invoice_pdf: anyone with the (unguessable) invoice id can download it.
  pages.get('/sandbox/invoices/:id/pdf', async (c) => {
    const invoice = await getInvoice(deps.sql, c.req.param('id'));
    if (!invoice) return c.text('invoice not found', 404);
    const shown = await shownOf(invoice);
    const creditNotes = (await creditNotesOf(deps.sql, [invoice.id])).get(invoice.id) ?? [];
    const pdf = await renderInvoicePdf({ ...invoice, status: shown.status, paid_at: shown.paidAt }, await partiesOf(invoice), creditNotes);
    return c.body(new Uint8Array(pdf), 200, {
      'content-type': 'application/pdf', 'content-disposition': `inline; filename="${invoice.number ?? invoice.id}.pdf"`,
      'cache-control': 'no-store',
    });
  });
  // Stands in for Stripe's Billing Portal: opened in a new tab, it leads back to the pricing page.
  pages.get('/sandbox/portal', (c) => c.html(
    <Page title="Billing portal (sandbox)">
      <TestModeBanner />
      <h1>Billing portal</h1>
      <p>In production this is Stripe's secure portal: change plans, download invoices, update your card.</p>
      <p><a id="return" href="/pricing">Return to the pricing page</a></p>
    </Page>,
  ));
  // Completes 3-D Secure (issue 16, finding 1): only from the invoice's own hosted page (same origin, with the
  // token the page was shown with), only for the attempt waiting for it, once. A declined or past-due invoice is
  // paid only by a new card (PUT /v1/payment-method, the billing page), never here. Refusals change nothing.
  const publicOrigin = new URL(deps.publicUrl).origin;
  const refused = (c: Context, status: 403 | 409, text: string) => {
    c.header('cache-control', 'no-store');
    return c.html(<Page title="Not authenticated"><TestModeBanner /><h1>Not authenticated</h1><p id="refusal">{text}</p></Page>, status);
  };
  pages.post('/sandbox/invoices/:id/authenticate', async (c) => {
    const invoice = await getInvoice(deps.sql, c.req.param('id'));
    if (!invoice) return c.text('invoice not found', 404);
    if (!fromOwnPage(c, publicOrigin)) return refused(c, 403, 'This form must be sent from the invoice page.');
    const form = await c.req.parseBody().catch(() => ({} as Record<string, unknown>));
    const attempt = typeof form.attempt === 'string' ? form.attempt : '';
    if (!sameToken(form.token, authenticationToken(deps.webhookSecret, invoice.id, attempt))) {
      return refused(c, 403, 'This form is not the one shown on the invoice page.');
    }
    const paid = invoice.status === 'open' && await deps.sandbox.completeAuthentication(invoice, attempt);
    if (!paid) return refused(c, 409, 'This invoice is not waiting for 3-D Secure (a declined card is replaced on the billing page).');
    return c.redirect(`/sandbox/invoices/${invoice.id}`, 303);
  });
  return pages;
}
