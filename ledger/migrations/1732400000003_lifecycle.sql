-- Up Migration

-- Credit owed to the customer (e.g. unused time after a yearly → monthly switch); applied to later
-- invoices, never paid out in cash.
ALTER TABLE workspaces ADD COLUMN customer_balance_cents bigint NOT NULL DEFAULT 0 CHECK (customer_balance_cents >= 0);
ALTER TABLE invoices ADD COLUMN balance_applied_cents bigint NOT NULL DEFAULT 0;
-- The payment provider's customer (Stripe `cus_…`), created on first need.
ALTER TABLE workspaces ADD COLUMN provider_customer_id text;

-- Custom models count against the plan's limit; a downgrade deactivates the least recently used.
CREATE TABLE custom_models (
  id           text PRIMARY KEY,
  workspace_id text NOT NULL REFERENCES workspaces(id),
  name         text NOT NULL,
  active       boolean NOT NULL DEFAULT true,
  last_used_at timestamptz NOT NULL,
  created_at   timestamptz NOT NULL
);
CREATE INDEX custom_models_by_workspace ON custom_models(workspace_id, active, last_used_at DESC);

-- What the customer sees of pending and scheduled changes (projection of the workflow's state).
ALTER TABLE subscriptions
  ADD COLUMN scheduled_change jsonb,
  ADD COLUMN pause jsonb,
  ADD COLUMN pending_upgrade jsonb;

-- Down Migration
ALTER TABLE subscriptions DROP COLUMN scheduled_change, DROP COLUMN pause, DROP COLUMN pending_upgrade;
DROP TABLE custom_models;
ALTER TABLE invoices DROP COLUMN balance_applied_cents;
ALTER TABLE workspaces DROP COLUMN customer_balance_cents, DROP COLUMN provider_customer_id;
