-- Up Migration
-- What a take-back after a bank-side return (a lost dispute, a refund made at the provider) could not find in
-- the customer balance stays owed on its note (balance_shortfall_cents > 0); every later credit to the balance
-- (an open invoice's void, a change's negative total, a refund's balance part) settles it first
-- (ledger/owed-takebacks.ts). A partial index keeps that read to the workspace's few owing notes, so a credit
-- with nothing owed costs one index probe instead of a scan of every credit note.
CREATE INDEX credit_notes_takeback_owed ON credit_notes(workspace_id, seq) WHERE balance_shortfall_cents > 0;

-- Down Migration
DROP INDEX credit_notes_takeback_owed;
