-- Up Migration

-- Found by `npm run bench` (EXPLAIN ANALYZE of the spend path and balance reads; see bench/README.md).

-- Every capture and balance read sums the workspace's lots (availableAt), a hold picks its lots and a
-- balance read lists them, without `remaining > 0`, so lots_burn_order (partial on remaining > 0) cannot
-- serve them and each one scanned the whole lots table: 11-14 ms at 240,000 lots (a year of 20,000
-- workspaces), 0.02 ms with this index.
CREATE INDEX lots_by_workspace ON lots(workspace_id);

-- Every balance read (and every refused hold) first releases the workspace's lapsed holds. Without this
-- index that scans all of the workspace's creations ever made (creations_by_workspace), or every running
-- creation of every workspace (creations_running); with it, only this workspace's running ones.
CREATE INDEX creations_running_by_workspace ON creations(workspace_id, hold_expires_at) WHERE status = 'running';

-- Down Migration
DROP INDEX creations_running_by_workspace;
DROP INDEX lots_by_workspace;
