-- Up Migration
-- Automatic top-ups (SPEC §11): a workspace's setting, the top-ups its crossings recorded, and the spend
-- path's hook (declared as a no-op in 1732400000018) that records them. The hook only records, in the
-- transaction of the capture, expiry or refusal that crossed the threshold; the worker charges
-- (worker/auto-top-up.ts through billing/auto-top-up.ts).

-- One row per workspace that saved a setting. `armed`: the next crossing below the threshold buys a pack;
-- set when saved, cleared by the crossing that records a top-up, and armed again as soon as the balance was
-- at or above the threshold since: a check that sees it so, or a journal entry after `seen_entry_id` whose
-- balance_after is (a grant of any kind, a release, a thaw: every change that raises the balance is
-- journaled, so no grant path needs to know about top-ups). `seen_entry_id`: the workspace's journal was
-- read up to this entry while disarmed (each entry is read once). `failures_in_row` counts failed top-ups since the last paid one; two disable it
-- (enabled = false, disabled_reason 'payment_failed_twice'); saving again clears both.
CREATE TABLE auto_top_up_settings (
  workspace_id        text PRIMARY KEY REFERENCES workspaces(id),
  enabled             boolean NOT NULL,
  threshold           integer NOT NULL CHECK (threshold BETWEEN 0 AND 1000000000),
  pack_credits        integer NOT NULL CHECK (pack_credits IN (100, 500)),
  monthly_limit_cents integer NOT NULL CHECK (monthly_limit_cents > 0),
  armed               boolean NOT NULL DEFAULT true,
  seen_entry_id       bigint NOT NULL DEFAULT 0,
  failures_in_row     integer NOT NULL DEFAULT 0 CHECK (failures_in_row >= 0),
  disabled_reason     text,
  updated_at          timestamptz NOT NULL
);

-- One row per crossing that asked for a pack, keyed by the business key of the change that crossed
-- (trigger_key: a capture's, an expiry's or a refused hold's operation key), so a replayed change records
-- nothing new. Times are the workspace's (its test clock's when it has one). amount_cents: the pack
-- invoice's total once the worker priced it. H5's events trigger reads status changes of this table.
CREATE TABLE auto_top_ups (
  id            text PRIMARY KEY,
  workspace_id  text NOT NULL REFERENCES workspaces(id),
  trigger_key   text NOT NULL UNIQUE,
  cause         text NOT NULL CHECK (cause IN ('capture', 'expiry', 'refusal')),
  status        text NOT NULL CHECK (status IN ('pending', 'paid', 'failed', 'skipped')),
  pack_credits  integer NOT NULL CHECK (pack_credits IN (100, 500)),
  amount_cents  integer CHECK (amount_cents >= 0),
  invoice_id    text REFERENCES invoices(id),
  failure_code  text,
  available     integer NOT NULL,
  created_at    timestamptz NOT NULL,
  updated_at    timestamptz NOT NULL,
  -- Recording order (created_at ties on a frozen test clock).
  seq           bigint GENERATED ALWAYS AS IDENTITY UNIQUE
);
-- At most one in flight per workspace; also the hook's and the worker's lookup of it.
CREATE UNIQUE INDEX auto_top_ups_one_pending ON auto_top_ups(workspace_id) WHERE status = 'pending';
-- The worker's sweep: pending ones, oldest first.
CREATE INDEX auto_top_ups_pending ON auto_top_ups(seq) WHERE status = 'pending';
-- The monthly cap and the listing: a workspace's top-ups by time.
CREATE INDEX auto_top_ups_by_workspace ON auto_top_ups(workspace_id, created_at);

-- Whether the available balance was at or above `threshold` after a transaction that journaled after entry
-- `after_id` (the hook's and GET /v1/auto-top-up's arming rule). A transaction's last entry carries the balance
-- it left; an entry inside one is no balance anyone could see, and may be above it for a moment: a release of
-- credits that a pending refund's clawback beside it takes back, a frozen pack's grant before its freeze.
CREATE FUNCTION auto_top_up_rose(ws text, after_id bigint, threshold integer) RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT coalesce(bool_or(t.balance_after >= threshold), false)
  FROM (SELECT DISTINCT ON (e.xmin::text) e.balance_after FROM ledger_entries e
        WHERE e.workspace_id = ws AND e.id > after_id ORDER BY e.xmin::text, e.id DESC) t
$$;

-- The hook (the contract is 1732400000018's): runs in the caller's transaction under the workspace lock.
-- The common case, no setting or armed and at or above the threshold, is one primary-key lookup.
-- A refused hold is a crossing whatever the balance (the customer wanted more than there is); a capture or
-- an expiry is one when it leaves available below the threshold. Answers {"top_up_pending": true}
-- whenever a top-up of this workspace is in flight (a refusal's 402 says so), except to a capture or an
-- expiry at or above the threshold: that common case answers {} at once (those callers ignore the answer).
CREATE OR REPLACE FUNCTION ledger_auto_top_up_check(ws text, available integer, cause text, cause_key text, at timestamptz)
  RETURNS jsonb LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  s record;
  last_entry bigint;
  rose boolean;
BEGIN
  SELECT enabled, threshold, armed, pack_credits, seen_entry_id INTO s FROM auto_top_up_settings WHERE workspace_id = ws;
  IF NOT FOUND THEN
    RETURN '{}';
  END IF;
  IF cause <> 'refusal' AND available >= s.threshold THEN
    IF NOT s.armed THEN
      UPDATE auto_top_up_settings SET armed = true WHERE workspace_id = ws;
    END IF;
    RETURN '{}';
  END IF;
  IF s.enabled AND NOT s.armed THEN
    -- Was the balance at or above the threshold since the last crossing? Then this is a new crossing.
    SELECT max(e.id) INTO last_entry FROM ledger_entries e WHERE e.workspace_id = ws AND e.id > s.seen_entry_id;
    rose := auto_top_up_rose(ws, s.seen_entry_id, s.threshold);
    IF rose THEN
      s.armed := true;
    ELSIF last_entry IS NOT NULL THEN
      UPDATE auto_top_up_settings SET seen_entry_id = last_entry WHERE workspace_id = ws;
    END IF;
  END IF;
  IF s.enabled AND s.armed THEN
    INSERT INTO auto_top_ups (id, workspace_id, trigger_key, cause, status, pack_credits, available, created_at, updated_at)
    VALUES ('atu_' || substr(replace(gen_random_uuid()::text, '-', ''), 1, 24), ws, cause_key, cause, 'pending',
            s.pack_credits, available, at, at)
    ON CONFLICT DO NOTHING;
    -- The crossing is served by the top-up it records, or by the one already in flight: disarmed either way.
    -- A trigger that recorded nothing with none in flight (a refused hold of a quote whose earlier refusal
    -- already bought one, retried after the balance rose) serves nothing: it stays armed for the next crossing.
    IF FOUND OR EXISTS (SELECT 1 FROM auto_top_ups t WHERE t.workspace_id = ws AND t.status = 'pending') THEN
      UPDATE auto_top_up_settings
         SET armed = false,
             seen_entry_id = coalesce((SELECT max(e.id) FROM ledger_entries e WHERE e.workspace_id = ws), 0)
       WHERE workspace_id = ws;
    END IF;
  END IF;
  IF EXISTS (SELECT 1 FROM auto_top_ups t WHERE t.workspace_id = ws AND t.status = 'pending') THEN
    RETURN '{"top_up_pending": true}';
  END IF;
  RETURN '{}';
END $$;

-- The notifications of automatic top-ups, added to whatever the kind check allows now (as 1732400000017).
DO $$
DECLARE
  def text;
  new_kind text;
BEGIN
  FOREACH new_kind IN ARRAY ARRAY['top_up_skipped', 'top_up_failed', 'auto_top_up_disabled'] LOOP
    SELECT pg_get_constraintdef(oid) INTO def FROM pg_constraint
     WHERE conrelid = 'notifications'::regclass AND conname = 'notifications_kind_check';
    ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
    EXECUTE format('ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check CHECK (kind = %L OR %s)',
                   new_kind, substring(def FROM '^CHECK \((.*)\)$'));
  END LOOP;
END $$;

-- Down Migration
DELETE FROM notifications WHERE kind IN ('top_up_skipped', 'top_up_failed', 'auto_top_up_disabled');
DO $$
DECLARE
  def text;
  old_kind text;
BEGIN
  FOREACH old_kind IN ARRAY ARRAY['auto_top_up_disabled', 'top_up_failed', 'top_up_skipped'] LOOP
    SELECT pg_get_constraintdef(oid) INTO def FROM pg_constraint
     WHERE conrelid = 'notifications'::regclass AND conname = 'notifications_kind_check';
    ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
    EXECUTE format('ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check CHECK (%s)',
                   replace(substring(def FROM '^CHECK \((.*)\)$'), format('(kind = %L::text) OR ', old_kind), ''));
  END LOOP;
END $$;
CREATE OR REPLACE FUNCTION ledger_auto_top_up_check(ws text, available integer, cause text, cause_key text, at timestamptz)
  RETURNS jsonb LANGUAGE sql STABLE AS $$ SELECT '{}'::jsonb $$;
DROP FUNCTION auto_top_up_rose(text, bigint, integer);
DROP TABLE auto_top_ups, auto_top_up_settings;
