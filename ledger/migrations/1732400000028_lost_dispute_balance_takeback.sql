-- Up Migration
-- A dispute lost after an upgrade or interval switch takes back from the customer balance the unused-time
-- credit that change gave for the disputed period (domain/billing/lost-dispute-takeback.ts): recorded on the
-- dispute's credit note, with what the balance could not cover (shortfall, never collected otherwise).
ALTER TABLE credit_notes
  ADD COLUMN balance_taken_back_cents bigint NOT NULL DEFAULT 0 CHECK (balance_taken_back_cents >= 0),
  ADD COLUMN balance_shortfall_cents bigint NOT NULL DEFAULT 0 CHECK (balance_shortfall_cents >= 0);

-- Down Migration
ALTER TABLE credit_notes DROP COLUMN balance_shortfall_cents, DROP COLUMN balance_taken_back_cents;
