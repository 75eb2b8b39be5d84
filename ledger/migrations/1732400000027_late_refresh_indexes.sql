-- Up Migration
-- A refresh grant reads the workspace's refunded and open-disputed invoices (ledger/late-refresh.ts: a yearly
-- invoice's later refreshes follow its refund and dispute, SPEC §10). One index probe each instead of a scan.
CREATE INDEX invoice_clawbacks_by_workspace ON invoice_clawbacks(workspace_id);
CREATE INDEX disputes_open_by_workspace ON disputes(workspace_id) WHERE outcome IS NULL;

-- Down Migration
DROP INDEX disputes_open_by_workspace;
DROP INDEX invoice_clawbacks_by_workspace;
