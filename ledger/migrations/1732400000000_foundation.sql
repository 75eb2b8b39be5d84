-- Up Migration

-- Simulated time (like Stripe's test clocks): a workspace on a clock runs its ledger and its
-- subscription timers on frozen_time instead of the wall clock.
CREATE TABLE test_clocks (
  id          text PRIMARY KEY,
  frozen_time timestamptz NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE workspaces (
  id             text PRIMARY KEY,
  name           text NOT NULL,
  test_clock_id  text REFERENCES test_clocks(id),
  payment_method text,
  created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX workspaces_by_clock ON workspaces(test_clock_id) WHERE test_clock_id IS NOT NULL;

-- The workspace's current time: its test clock's when it has one, else the database's.
CREATE FUNCTION workspace_now(ws text) RETURNS timestamptz LANGUAGE sql STABLE AS $$
  SELECT coalesce((SELECT c.frozen_time FROM workspaces w JOIN test_clocks c ON c.id = w.test_clock_id
                   WHERE w.id = ws), now())
$$;

-- Only a hash of each key is kept; the key itself is shown once, at creation.
CREATE TABLE api_keys (
  key_hash     text PRIMARY KEY,
  id           text NOT NULL UNIQUE,
  -- The key's last four characters, so a customer can tell their keys apart.
  hint         text NOT NULL,
  workspace_id text NOT NULL REFERENCES workspaces(id),
  created_at   timestamptz NOT NULL DEFAULT now(),
  revoked_at   timestamptz
);

-- Projection of each subscription workflow's state, written by its activities, for listing and
-- for test-clock bookkeeping. The workflow is the source of truth.
CREATE TABLE subscriptions (
  id                   text PRIMARY KEY,
  workspace_id         text NOT NULL REFERENCES workspaces(id),
  plan                 text NOT NULL,
  interval             text NOT NULL CHECK (interval IN ('month', 'year')),
  status               text NOT NULL CHECK (status IN ('incomplete', 'active', 'past_due', 'paused', 'canceled')),
  current_period_start timestamptz NOT NULL,
  current_period_end   timestamptz NOT NULL,
  cancel_at_period_end boolean NOT NULL DEFAULT false,
  next_due_at          timestamptz,
  -- For a workspace on a test clock: the clock time the workflow has processed every due event up to.
  clock_synced_to      timestamptz,
  -- Monotonic projection version (the workflow's event counter), so a late write never overwrites a newer one.
  version              bigint NOT NULL DEFAULT 0,
  created_at           timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX one_live_subscription_per_workspace ON subscriptions(workspace_id) WHERE status <> 'canceled';

-- A lot is one grant of credits. Burn order: earliest expires_at first, packs (NULL) last,
-- then granted_at, then id.
CREATE TABLE lots (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  workspace_id text NOT NULL REFERENCES workspaces(id),
  source       text NOT NULL CHECK (source IN ('monthly', 'upgrade', 'pack')),
  granted      integer NOT NULL CHECK (granted > 0),
  remaining    integer NOT NULL CHECK (remaining >= 0),
  held         integer NOT NULL DEFAULT 0 CHECK (held >= 0 AND held <= remaining),
  granted_at   timestamptz NOT NULL,
  expires_at   timestamptz,
  expired_at   timestamptz,
  frozen       boolean NOT NULL DEFAULT false,
  CHECK (remaining <= granted)
);
CREATE INDEX lots_burn_order ON lots(workspace_id, expires_at NULLS LAST, granted_at, id) WHERE remaining > 0;

-- One row per balance-changing business operation: the idempotency record. Replaying an operation
-- with the same key returns the stored result and changes nothing.
CREATE TABLE ledger_operations (
  key          text PRIMARY KEY,
  workspace_id text NOT NULL REFERENCES workspaces(id),
  result       jsonb NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now()
);

-- Append-only journal. Each entry records its effect on one lot: remaining_delta and held_delta
-- (grant +g/0, hold 0/+h, capture -c/-c, release 0/-r, expire and forfeit -e/0, freeze and thaw 0/0),
-- so summing a lot's entries gives its row. amount is the entry as the customer reads it (grant +,
-- hold -, capture - (consumed), release +, expire/forfeit -, freeze - / thaw + of the spendable part).
-- balance_after is the workspace's available balance right after the entry, at the entry's time.
-- operation_key names the business operation.
CREATE TABLE ledger_entries (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  workspace_id    text NOT NULL REFERENCES workspaces(id),
  kind            text NOT NULL CHECK (kind IN ('grant', 'hold', 'capture', 'release', 'expire', 'freeze', 'thaw', 'forfeit')),
  lot_id          bigint NOT NULL REFERENCES lots(id),
  remaining_delta integer NOT NULL,
  held_delta      integer NOT NULL,
  amount          integer NOT NULL,
  balance_after   integer NOT NULL,
  at              timestamptz NOT NULL,
  operation_key   text NOT NULL
);
CREATE INDEX ledger_entries_by_workspace ON ledger_entries(workspace_id, id DESC);

-- Mirror of every charge (the provider's invoice), keyed by its business operation so a retried
-- charge finds the first attempt instead of charging again.
CREATE TABLE invoices (
  id                  text PRIMARY KEY,
  -- Insertion order: breaks ties of created_at (a test clock's time does not move between invoices).
  seq                 bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  business_key        text NOT NULL UNIQUE,
  workspace_id        text NOT NULL REFERENCES workspaces(id),
  subscription_id     text REFERENCES subscriptions(id),
  kind                text NOT NULL CHECK (kind IN ('subscription', 'upgrade', 'interval_switch', 'pack')),
  status              text NOT NULL CHECK (status IN ('draft', 'open', 'paid', 'void')),
  lines               jsonb NOT NULL,
  subtotal_cents      bigint NOT NULL,
  tax_cents           bigint NOT NULL DEFAULT 0,
  total_cents         bigint NOT NULL,
  amount_due_cents    bigint NOT NULL,
  hosted_url          text,
  pdf_url             text,
  provider_invoice_id text,
  last_payment_error  text,
  -- What the invoice delivers once paid (e.g. {"pack_credits": 100}), so a late payment can deliver it.
  metadata            jsonb NOT NULL DEFAULT '{}',
  created_at          timestamptz NOT NULL,
  paid_at             timestamptz
);
CREATE INDEX invoices_by_workspace ON invoices(workspace_id, created_at DESC, seq DESC);

-- Down Migration
DROP TABLE invoices, ledger_entries, ledger_operations, lots, subscriptions, api_keys;
DROP FUNCTION workspace_now(text);
DROP TABLE workspaces, test_clocks;
