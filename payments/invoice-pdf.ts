import PDFDocument from 'pdfkit';
import type { CreditNoteRow } from '../ledger/credit-notes.js';
import type { InvoiceRow } from '../ledger/invoices.js';
import type { InvoiceSeller } from '../ledger/seller.js';

function dollars(cents: number): string {
  const sign = cents < 0 ? '-' : '';
  const abs = Math.abs(cents);
  return `${sign}$${Math.trunc(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

const day = (at: Date) => at.toISOString().slice(0, 10);

/** Who the invoice is from and to, as the PDF shows them. */
export interface InvoiceParties {
  seller: InvoiceSeller;
  customer: { name: string; externalId: string | null };
}

/**
 * The invoice as a PDF (pdfkit), a document a finance team can file (SPEC §5, §10): the seller's name,
 * address and tax id, the invoice number beside its id, the customer, the lines, subtotal, tax, total and
 * balance applied; then "Paid <date>" on a paid invoice, "Amount due" on an open one, "Void" on a void one.
 * Dates are UTC days.
 */
export function renderInvoicePdf(invoice: InvoiceRow, parties: InvoiceParties, creditNotes: CreditNoteRow[] = []): Promise<Buffer> {
  const title = `Invoice ${invoice.number ?? invoice.id}`;
  return new Promise((resolve, reject) => {
    const doc = new PDFDocument({ size: 'A4', margin: 56, info: { Title: title, Author: parties.seller.name } });
    const chunks: Buffer[] = [];
    doc.on('data', (chunk: Buffer) => chunks.push(chunk));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);

    const top = doc.y;
    doc.fontSize(20).font('Helvetica-Bold').text('Invoice', 56, top, { width: 240 });
    // The seller, top right, as on any filed invoice.
    doc.fontSize(10).font('Helvetica-Bold').text(parties.seller.name, 300, top, { width: 240, align: 'right' });
    doc.font('Helvetica').fillColor('#333');
    for (const line of parties.seller.address.split('\n')) doc.text(line, { width: 240, align: 'right' });
    doc.text(`Tax ID: ${parties.seller.tax_id}`, { width: 240, align: 'right' });

    doc.moveDown(1.5).fontSize(10).fillColor('#333');
    const left = (text: string) => doc.text(text, 56, doc.y, { width: 480 });
    left(`Invoice number: ${invoice.number ?? 'not issued (draft)'}`);
    left(`Invoice id: ${invoice.id}`);
    left(`Date of issue: ${day(invoice.created_at)}`);
    left(`Billed to: ${parties.customer.name}${parties.customer.externalId ? ` (${parties.customer.externalId})` : ''}`);
    doc.moveDown().fillColor('#000').fontSize(11);
    const row = (label: string, amount: string, bold = false) => {
      const y = doc.y;
      doc.font(bold ? 'Helvetica-Bold' : 'Helvetica').text(label, 56, y, { width: 360 });
      doc.text(amount, 420, y, { width: 120, align: 'right' });
      doc.moveDown(0.3);
    };
    for (const line of invoice.lines) row(line.description, dollars(line.amount_cents));
    doc.moveDown(0.5);
    row('Subtotal', dollars(invoice.subtotal_cents));
    row('Tax', dollars(invoice.tax_cents));
    row('Total', dollars(invoice.total_cents), true);
    if (invoice.balance_applied_cents > 0) row('Applied customer balance', dollars(-invoice.balance_applied_cents));
    if (invoice.status === 'paid') row(`Paid ${day(invoice.paid_at ?? invoice.created_at)}`, dollars(invoice.amount_due_cents), true);
    else if (invoice.status === 'void') row('Void: nothing to pay', dollars(0), true);
    else row('Amount due', dollars(invoice.amount_due_cents), true);
    // SPEC §10: the invoice's credit notes (refunds, lost disputes), each with where the money went and the credits taken back.
    if (creditNotes.length > 0) {
      doc.moveDown(0.8).font('Helvetica-Bold');
      left('Credit notes');
      doc.moveDown(0.3);
      for (const note of creditNotes) {
        row(`${note.id} (${day(note.created_at)})`, dollars(-Number(note.amount_cents)));
        doc.fontSize(9).fillColor('#555');
        left(`${note.reason}: to the card ${dollars(Number(note.refunded_to_card_cents))}, to the customer balance `
          + `${dollars(Number(note.credited_to_balance_cents))}; credits clawed back ${note.credits_clawed_back}, shortfall ${note.shortfall}`);
        doc.moveDown(0.3).fontSize(11).fillColor('#000');
      }
      row('Refunded in all', dollars(-creditNotes.reduce((sum, note) => sum + Number(note.amount_cents), 0)), true);
    }
    doc.moveDown().font('Helvetica').fontSize(9).fillColor('#555').text('Prices in USD. Card payments are processed by Stripe.', 56, doc.y);
    doc.end();
  });
}
