/**
 * Words of the billing page: status, lot and invoice labels, cadences and plurals. Text only, no rules.
 */
import type { Interval } from '../../../domain/catalog.js';
import type { LotView } from '../../../ledger/credits.js';
import type { InvoiceRow } from '../../../ledger/invoices.js';
import type { SubscriptionRow } from '../../../ledger/subscriptions.js';

export const STATUS_LABELS: Record<SubscriptionRow['status'], string> = {
  incomplete: 'Awaiting first payment', active: 'Active', past_due: 'Payment past due', paused: 'Paused', canceled: 'Canceled',
};
export const LOT_LABELS: Record<LotView['source'], string> = { monthly: 'Monthly credits', upgrade: 'Upgrade credits', pack: 'Credit pack', adjustment: 'Credits from support' };
export const INVOICE_LABELS: Record<InvoiceRow['kind'], string> = {
  subscription: 'Subscription', upgrade: 'Upgrade', interval_switch: 'Billing frequency switch', pack: 'Credit pack',
};

/** "month" / "year", as in "$29.00 a month". */
export const per = (interval: Interval) => (interval === 'month' ? 'month' : 'year');
/** "monthly" / "yearly", as in "billed monthly". */
export const cadence = (interval: Interval) => (interval === 'month' ? 'monthly' : 'yearly');
/** "1 credit", "1,200 credits". */
export const plural = (n: number, word: string) => `${n.toLocaleString('en-US')} ${word}${n === 1 ? '' : 's'}`;
