import PDFDocument from 'pdfkit';
import type { InvoiceRow } from '../ledger/invoices.js';

function dollars(cents: number): string {
  const sign = cents < 0 ? '-' : '';
  const abs = Math.abs(cents);
  return `${sign}$${Math.trunc(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

/** The invoice as a PDF (pdfkit): its lines, subtotal, tax, total, balance applied and amount due. */
export function renderInvoicePdf(invoice: InvoiceRow, workspaceName: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const doc = new PDFDocument({ size: 'A4', margin: 56, info: { Title: `Invoice ${invoice.id}` } });
    const chunks: Buffer[] = [];
    doc.on('data', (chunk: Buffer) => chunks.push(chunk));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);

    doc.fontSize(20).text('Invoice', { continued: false });
    doc.moveDown(0.5).fontSize(10).fillColor('#555')
      .text(`Number: ${invoice.id}`)
      .text(`Billed to: ${workspaceName}`)
      .text(`Date: ${invoice.created_at.toISOString().slice(0, 10)}`)
      .text(`Status: ${invoice.status}`);
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
    row('Amount due', dollars(invoice.amount_due_cents), true);
    doc.moveDown().font('Helvetica').fontSize(9).fillColor('#555').text('Prices in USD. Card payments are processed by Stripe.');
    doc.end();
  });
}
