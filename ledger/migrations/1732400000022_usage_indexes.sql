-- Up Migration
-- GET /v1/usage (SPEC §11) reads a window of one workspace's journal and creations. Indexes only, no rollup:
-- nothing is added to the spend path's statements, and bench/README.md ("Usage queries") records the figure.

-- The journal by time: the window's per-kind sums (an index-only scan of the window) and the available
-- balance at each end (the balance_after of the last entry before an instant, one index probe).
CREATE INDEX ledger_entries_by_time ON ledger_entries(workspace_id, at, id)
  INCLUDE (kind, amount, remaining_delta, balance_after);

-- Creations by the instant they ended (a creation counts at its capture), with what the groups read, so the
-- groups by day, model or API key are an index-only scan of the window. Running creations have no end.
CREATE INDEX creations_by_end ON creations(workspace_id, ended_at)
  INCLUDE (status, charged, model, api_key_id) WHERE status <> 'running';

-- Down Migration
DROP INDEX creations_by_end;
DROP INDEX ledger_entries_by_time;
