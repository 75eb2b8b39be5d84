-- Up Migration
-- A clawback takes back unspent, unheld credits a grant gave (SPEC §4: an interval switch onto fewer
-- credits than the old lot's unused part; SPEC §10: refunds). It is journaled as its own kind.
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_kind_check;
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_kind_check
  CHECK (kind IN ('grant', 'hold', 'capture', 'release', 'expire', 'freeze', 'thaw', 'forfeit', 'clawback'));

-- Down Migration
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_kind_check;
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_kind_check
  CHECK (kind IN ('grant', 'hold', 'capture', 'release', 'expire', 'freeze', 'thaw', 'forfeit'));
