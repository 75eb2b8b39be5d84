-- Up Migration

-- Low-balance alert threshold; NULL means the default, 10% of the plan's monthly credits.
ALTER TABLE workspaces ADD COLUMN low_balance_threshold integer CHECK (low_balance_threshold >= 0);

-- Everything a workspace is told about (low balance, expiring lots, failed payments, applied downgrades).
-- Delivery as signed webhooks belongs to the alerts issue; detection records them here, once per key.
CREATE TABLE notifications (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  workspace_id text NOT NULL REFERENCES workspaces(id),
  kind         text NOT NULL CHECK (kind IN ('low_balance', 'lot_expiring', 'payment_failed', 'downgrade_applied')),
  dedupe_key   text NOT NULL UNIQUE,
  payload      jsonb NOT NULL,
  at           timestamptz NOT NULL,
  delivered_at timestamptz
);
CREATE INDEX notifications_by_workspace ON notifications(workspace_id, id DESC);

-- Down Migration
DROP TABLE notifications;
ALTER TABLE workspaces DROP COLUMN low_balance_threshold;
