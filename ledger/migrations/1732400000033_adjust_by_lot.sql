-- Up Migration
-- An interval switch's view of its plan lots (ledger/grants.ts planCreditsOfGrants) counts what operators'
-- negative adjustments took from those lots, so that those credits are neither charged as already used nor
-- deducted. Adjustments are rare; without this index the read walks the workspace's journal since the oldest plan
-- lot's grant through ledger_entries_by_time (2,706 buffers, 30–50 ms with 100,000 entries in that window), with it
-- 6 buffers (~0.5 ms). Partial: the spend path's entries (holds, captures, releases) never enter it.
CREATE INDEX ledger_entries_adjust_by_lot ON ledger_entries (lot_id) WHERE kind = 'adjust';

-- Down Migration
DROP INDEX ledger_entries_adjust_by_lot;
