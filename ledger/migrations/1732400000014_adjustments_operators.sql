-- Up Migration

-- SPEC §10, adjustments: an operator grants credits (a lot of source `adjustment`) or takes unspent, unheld
-- credits back; both are journaled as `adjust` entries carrying the operator's reason.
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_kind_check;
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_kind_check
  CHECK (kind IN ('grant', 'hold', 'capture', 'release', 'expire', 'freeze', 'thaw', 'forfeit', 'clawback', 'adjust'));
-- Why an entry was written, when someone said why (an adjustment's reason); NULL for every other entry.
ALTER TABLE ledger_entries ADD COLUMN reason text;

ALTER TABLE lots DROP CONSTRAINT lots_source_check;
ALTER TABLE lots ADD CONSTRAINT lots_source_check CHECK (source IN ('monthly', 'upgrade', 'pack', 'adjustment'));

-- Burn order (SPEC §2 and §10): earliest expires_at first; of the lots without expiry, adjustments before
-- packs (goodwill credits go before credits the customer paid for); then the grant time, then the lot id.
-- The key gains a `tier` between the expiry and the grant time. Every caller (spendable_lots, ledger_hold,
-- ledger_end, ledger_creation, the balance read) names lot_burn_key(l) in a body stored as text, so
-- replacing the function and its type here changes the order everywhere at once.
DROP FUNCTION lot_burn_key(lots);
DROP TYPE lot_burn_key;
CREATE TYPE lot_burn_key AS (expires_at timestamptz, tier smallint, granted_at timestamptz, id bigint);
CREATE FUNCTION lot_burn_key(l lots) RETURNS lot_burn_key LANGUAGE sql IMMUTABLE AS $$
  SELECT ROW(coalesce(l.expires_at, 'infinity'), CASE WHEN l.source = 'pack' THEN 1 ELSE 0 END, l.granted_at, l.id)::lot_burn_key
$$;
DROP INDEX lots_burn_order;
CREATE INDEX lots_burn_order ON lots(workspace_id, expires_at NULLS LAST, (source = 'pack'), granted_at, id) WHERE remaining > 0;
-- The worker's sweep looks for adjustment lots whose expiry is not journaled yet every tick: without this it
-- would scan every lot (no workflow timer expires these lots).
CREATE INDEX lots_adjustments_to_expire ON lots(expires_at) WHERE source = 'adjustment' AND expired_at IS NULL AND expires_at IS NOT NULL;

-- What happens to a lot when the workspace's last live subscription ends (SPEC §4, §10): plan credits
-- (monthly, upgrade) are forfeited; packs and adjustments outlive the plan: frozen (kept, not spendable)
-- while nothing is live, thawed when a subscription starts again. An adjustment with an expiry still
-- expires on its date, frozen or not.
CREATE FUNCTION lot_outlives_plan(l lots) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
  SELECT l.source IN ('pack', 'adjustment')
$$;

-- Operator keys (SPEC §10): named, listable, revocable like workspace keys. Only a hash is kept; the key is
-- shown once. ADMIN_API_KEY from the environment is the first operator key (id opk_root) and is not stored.
CREATE TABLE operator_keys (
  id         text PRIMARY KEY,
  name       text NOT NULL,
  key_hash   text NOT NULL UNIQUE,
  -- The key's last four characters, so operators can tell their keys apart.
  hint       text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz
);

-- Every operator action (any non-GET request made with an operator key), written by the API after the
-- handler answered, in real time (not a test clock's). `workspace_id` is the workspace the action concerns
-- when there is one (for GET /v1/admin/audit?workspace_id=); `target` the object it acted on.
CREATE TABLE audit_log (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  operator_key_id text NOT NULL,
  at              timestamptz NOT NULL,
  method          text NOT NULL,
  path            text NOT NULL,
  workspace_id    text,
  target          text,
  request         jsonb,
  status          integer NOT NULL,
  -- 'ok' for a 2xx answer, else the problem's code.
  outcome         text NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_by_workspace ON audit_log(workspace_id, id DESC) WHERE workspace_id IS NOT NULL;

-- Down Migration
DROP INDEX lots_adjustments_to_expire;
DROP TABLE audit_log;
DROP TABLE operator_keys;
DROP FUNCTION lot_outlives_plan(lots);
DROP INDEX lots_burn_order;
CREATE INDEX lots_burn_order ON lots(workspace_id, expires_at NULLS LAST, granted_at, id) WHERE remaining > 0;
DROP FUNCTION lot_burn_key(lots);
DROP TYPE lot_burn_key;
CREATE TYPE lot_burn_key AS (expires_at timestamptz, granted_at timestamptz, id bigint);
CREATE FUNCTION lot_burn_key(l lots) RETURNS lot_burn_key LANGUAGE sql IMMUTABLE AS $$
  SELECT ROW(coalesce(l.expires_at, 'infinity'), l.granted_at, l.id)::lot_burn_key
$$;
-- Adjustment lots and entries cannot go back under the old checks: remove them first by hand.
ALTER TABLE lots DROP CONSTRAINT lots_source_check;
ALTER TABLE lots ADD CONSTRAINT lots_source_check CHECK (source IN ('monthly', 'upgrade', 'pack'));
ALTER TABLE ledger_entries DROP COLUMN reason;
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_kind_check;
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_kind_check
  CHECK (kind IN ('grant', 'hold', 'capture', 'release', 'expire', 'freeze', 'thaw', 'forfeit', 'clawback'));
