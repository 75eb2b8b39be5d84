-- Up Migration
-- GET /v1/usage (SPEC §11) reads a window of one workspace's journal and creations. Indexes, and a daily rollup
-- written by the read path only (ledger/usage-rollup.ts): nothing is added to the spend path's statements.
-- bench/README.md ("Usage queries") records the figures.

-- The journal by time: the per-kind sums of a window's unfolded parts (an index-only scan) and the available
-- balance at each end (the balance_after of the last entry before an instant, one index probe).
CREATE INDEX ledger_entries_by_time ON ledger_entries(workspace_id, at, id)
  INCLUDE (kind, amount, remaining_delta, balance_after);

-- Creations by the instant they ended (a creation counts at its capture), with what the groups read, so the
-- unfolded parts of a window are an index-only scan. Running creations have no end.
CREATE INDEX creations_by_end ON creations(workspace_id, ended_at)
  INCLUDE (status, charged, model, api_key_id) WHERE status <> 'running';

-- The daily rollup. A workspace's folded set is exactly the journal entries with id <= entry_watermark and
-- at < folded_until, and the ended creations with ended_at < folded_until whose ending entries have
-- id <= entry_watermark (folding holds the workspace lock every ledger write takes, so no entry of the
-- workspace below the watermark commits later). folded_until is a UTC midnight.
CREATE TABLE usage_rollup_state (
  workspace_id    text PRIMARY KEY REFERENCES workspaces(id),
  folded_until    timestamptz NOT NULL,
  entry_watermark bigint NOT NULL
);
-- Journal sums per UTC day and kind (credits).
CREATE TABLE usage_journal_days (
  workspace_id    text NOT NULL REFERENCES workspaces(id),
  day             date NOT NULL,
  kind            text NOT NULL,
  amount          bigint NOT NULL,
  remaining_delta bigint NOT NULL,
  PRIMARY KEY (workspace_id, day, kind)
);
-- Ended creations per UTC day of their end, model and API key ('' stands for none: keys of a primary key).
CREATE TABLE usage_creation_days (
  workspace_id      text NOT NULL REFERENCES workspaces(id),
  day               date NOT NULL,
  model             text NOT NULL,
  api_key_id        text NOT NULL,
  credits_captured  bigint NOT NULL,
  creations         integer NOT NULL,
  creations_failed  integer NOT NULL,
  creations_expired integer NOT NULL,
  PRIMARY KEY (workspace_id, day, model, api_key_id)
);

-- Down Migration
DROP TABLE usage_creation_days, usage_journal_days, usage_rollup_state;
DROP INDEX creations_by_end;
DROP INDEX ledger_entries_by_time;
