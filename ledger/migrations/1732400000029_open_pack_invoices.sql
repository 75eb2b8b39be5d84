-- Up Migration
-- A pack invoice waiting for 3-D Secure lapses (voided, its customer balance given back) 23 hours after the
-- purchase or when the subscription ends (billing/pack-lapse.ts). The sweep reads open pack invoices only: a
-- partial index keeps that to the few waiting ones instead of a scan of every invoice.
CREATE INDEX invoices_open_packs ON invoices(created_at) WHERE status = 'open' AND kind = 'pack';

-- Down Migration
DROP INDEX invoices_open_packs;
