-- Up Migration
-- Issue 15, fewer writes per spend: two indexes of `creations` that no query needs. Every creation is inserted
-- by its hold and rewritten by its end (a non-HOT update: its status is in partial indexes' predicates), so
-- each index of the table costs up to two B-tree entries per spend (bench/spend-writes.ts counts 22 per
-- spend before this migration, 19 after).
--
-- creations_running (hold_expires_at) WHERE running: the sweep's query (ledger/spend.ts expireStaleHolds)
-- compares each hold's expiry with its own workspace's time, so no index bound applies; it reads the
-- running set (only the holds in flight) through creations_running_by_workspace just as well, and that
-- index already serves the per-workspace sweep and every balance read's lapsed-hold check.
DROP INDEX creations_running;
-- UNIQUE (seq): seq is an identity column (GENERATED ALWAYS: unique by construction) that only breaks ties of
-- created_at in keyset pages, which read it through creations_by_workspace; nothing looks a creation up by it.
ALTER TABLE creations DROP CONSTRAINT creations_seq_key;

-- ledger_hold of 1732400000019 (same signature and answers; ledger_batch of 1732400000024 calls it per item)
-- with one WAL record less per hold made with an API key: the key's day counter is updated in place, without
-- INSERT … ON CONFLICT DO UPDATE's lock of the conflicting row (pg_waldump: one Heap/LOCK of 54 bytes per hold).
CREATE OR REPLACE FUNCTION ledger_hold(ws text, quote text, creation text, hold_ttl_ms integer, default_thresholds jsonb,
  api_key text DEFAULT NULL, external_ref text DEFAULT NULL, meta jsonb DEFAULT '{}')
  RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  ws_now timestamptz;
  threshold integer;
  existing text;
  q record;
  k record;
  key_id text;
  key_view jsonb;
  spend_day date;
  used_today integer;
  lot record;
  available integer;
  balance integer;
  left_to_hold integer;
  take integer;
  portions jsonb := '[]';
  op_key text := 'hold:' || creation;
  expires timestamptz;
BEGIN
  ws_now := ledger_lock_workspace(ws);
  SELECT id INTO existing FROM creations WHERE quote_id = quote AND workspace_id = ws;
  IF FOUND THEN
    RETURN ledger_creation(ws, existing) || jsonb_build_object('replayed', true);
  END IF;
  SELECT credits, expires_at, request INTO q FROM quotes WHERE id = quote AND workspace_id = ws;
  IF NOT FOUND THEN
    RETURN ledger_refusal('quote_not_found', 'no quote with this id');
  END IF;
  IF q.expires_at <= ws_now THEN
    RETURN ledger_refusal('quote_expired', 'the quote expired; ask for a new estimate');
  END IF;

  -- SPEC §11: a key's holds of one UTC day (of the workspace's time) stay within its daily_credit_limit.
  -- Checked before the balance, and never a top-up trigger.
  IF api_key IS NOT NULL THEN
    SELECT id, name, daily_credit_limit INTO k FROM api_keys WHERE id = api_key AND workspace_id = ws;
    IF FOUND THEN
      key_id := k.id;
      key_view := jsonb_build_object('id', k.id, 'name', k.name);
      spend_day := (ws_now AT TIME ZONE 'UTC')::date;
      IF k.daily_credit_limit IS NOT NULL THEN
        SELECT s.used INTO used_today FROM api_key_daily_spend s WHERE s.api_key_id = k.id AND s.day = spend_day;
        used_today := coalesce(used_today, 0);
        IF used_today + q.credits > k.daily_credit_limit THEN
          RETURN ledger_refusal('spending_limit_reached',
            format('this creation needs %s credits; this API key has used %s of its %s credits today', q.credits, used_today, k.daily_credit_limit),
            jsonb_build_object('daily_credit_limit', k.daily_credit_limit, 'used', used_today, 'required', q.credits,
              'resets_at', ledger_iso((spend_day + 1)::timestamp AT TIME ZONE 'UTC')));
        END IF;
      END IF;
    END IF;
  END IF;

  SELECT coalesce(sum(s.available), 0)::integer INTO available FROM spendable_lots(ws, ws_now) s;
  IF available < q.credits THEN
    -- The automatic top-up's hook (1732400000018) records a trigger in this transaction; its answer (e.g.
    -- top_up_pending) joins the refusal's detail, whose own fields win.
    RETURN ledger_refusal('insufficient_credits',
      format('this creation needs %s credits; %s are available', q.credits, available),
      ledger_auto_top_up_check(ws, available, 'refusal', 'refusal:' || quote, ws_now)
        || jsonb_build_object('required', q.credits, 'available', available));
  END IF;

  expires := ws_now + hold_ttl_ms * interval '1 millisecond';
  INSERT INTO creations (id, workspace_id, quote_id, status, quoted, created_at, hold_expires_at,
    model, api_key_id, external_id, metadata)
  VALUES (creation, ws, quote, 'running', q.credits, ws_now, expires,
    q.request ->> 'model', key_id, external_ref, coalesce(meta, '{}'));
  UPDATE quotes SET used = true WHERE id = quote;
  IF key_view IS NOT NULL THEN
    -- An UPDATE first: INSERT … ON CONFLICT DO UPDATE locks the row it conflicts with before updating it (one WAL
    -- record more per hold). Holds of one key are serial (one workspace, its lock), so the INSERT runs once a day.
    UPDATE api_key_daily_spend SET used = used + q.credits WHERE api_key_id = key_id AND day = spend_day;
    IF NOT FOUND THEN
      INSERT INTO api_key_daily_spend (api_key_id, day, used) VALUES (key_id, spend_day, q.credits)
      ON CONFLICT (api_key_id, day) DO UPDATE SET used = api_key_daily_spend.used + EXCLUDED.used;
    END IF;
  END IF;
  balance := available;
  left_to_hold := q.credits;
  -- spendable_lots gives its rows in burn order.
  FOR lot IN SELECT s.id, s.available AS free FROM spendable_lots(ws, ws_now) s LOOP
    EXIT WHEN left_to_hold = 0;
    take := least(left_to_hold, lot.free);
    left_to_hold := left_to_hold - take;
    balance := balance - take;
    INSERT INTO hold_portions (creation_id, lot_id, amount) VALUES (creation, lot.id, take);
    UPDATE lots SET held = held + take WHERE id = lot.id;
    INSERT INTO ledger_entries (workspace_id, kind, lot_id, remaining_delta, held_delta, amount, balance_after, at, operation_key)
    VALUES (ws, 'hold', lot.id, 0, take, -take, balance, ws_now, op_key);
    portions := portions || jsonb_build_object('lot_id', lot.id, 'amount', take, 'captured', 0);
  END LOOP;

  -- A low-balance alert once per crossing of the threshold, keyed by the operation that crossed.
  threshold := ledger_low_balance_threshold(ws, default_thresholds);
  IF threshold IS NOT NULL AND available >= threshold AND balance < threshold THEN
    INSERT INTO notifications (workspace_id, kind, dedupe_key, payload, at)
    VALUES (ws, 'low_balance', 'low_balance:' || op_key, jsonb_build_object('available', balance, 'threshold', threshold), ws_now)
    ON CONFLICT (dedupe_key) DO NOTHING;
  END IF;
  -- What ledger_creation would read back, from what this call already knows.
  RETURN jsonb_build_object('id', creation, 'status', 'running', 'quoted', q.credits, 'charged', NULL, 'variance', NULL,
    'created_at', ledger_iso(ws_now), 'hold_expires_at', ledger_iso(expires),
    'model', q.request ->> 'model', 'request', q.request, 'external_id', external_ref, 'metadata', coalesce(meta, '{}'),
    'api_key', key_view, 'portions', portions, 'replayed', false);
END $$;



-- Down Migration
ALTER TABLE creations ADD CONSTRAINT creations_seq_key UNIQUE (seq);
CREATE INDEX creations_running ON creations(hold_expires_at) WHERE status = 'running';
-- ledger_hold as 1732400000019 made it.
CREATE OR REPLACE FUNCTION ledger_hold(ws text, quote text, creation text, hold_ttl_ms integer, default_thresholds jsonb,
  api_key text DEFAULT NULL, external_ref text DEFAULT NULL, meta jsonb DEFAULT '{}')
  RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  ws_now timestamptz;
  threshold integer;
  existing text;
  q record;
  k record;
  key_id text;
  key_view jsonb;
  spend_day date;
  used_today integer;
  lot record;
  available integer;
  balance integer;
  left_to_hold integer;
  take integer;
  portions jsonb := '[]';
  op_key text := 'hold:' || creation;
  expires timestamptz;
BEGIN
  ws_now := ledger_lock_workspace(ws);
  SELECT id INTO existing FROM creations WHERE quote_id = quote AND workspace_id = ws;
  IF FOUND THEN
    RETURN ledger_creation(ws, existing) || jsonb_build_object('replayed', true);
  END IF;
  SELECT credits, expires_at, request INTO q FROM quotes WHERE id = quote AND workspace_id = ws;
  IF NOT FOUND THEN
    RETURN ledger_refusal('quote_not_found', 'no quote with this id');
  END IF;
  IF q.expires_at <= ws_now THEN
    RETURN ledger_refusal('quote_expired', 'the quote expired; ask for a new estimate');
  END IF;

  -- SPEC §11: a key's holds of one UTC day (of the workspace's time) stay within its daily_credit_limit.
  -- Checked before the balance, and never a top-up trigger.
  IF api_key IS NOT NULL THEN
    SELECT id, name, daily_credit_limit INTO k FROM api_keys WHERE id = api_key AND workspace_id = ws;
    IF FOUND THEN
      key_id := k.id;
      key_view := jsonb_build_object('id', k.id, 'name', k.name);
      spend_day := (ws_now AT TIME ZONE 'UTC')::date;
      IF k.daily_credit_limit IS NOT NULL THEN
        SELECT s.used INTO used_today FROM api_key_daily_spend s WHERE s.api_key_id = k.id AND s.day = spend_day;
        used_today := coalesce(used_today, 0);
        IF used_today + q.credits > k.daily_credit_limit THEN
          RETURN ledger_refusal('spending_limit_reached',
            format('this creation needs %s credits; this API key has used %s of its %s credits today', q.credits, used_today, k.daily_credit_limit),
            jsonb_build_object('daily_credit_limit', k.daily_credit_limit, 'used', used_today, 'required', q.credits,
              'resets_at', ledger_iso((spend_day + 1)::timestamp AT TIME ZONE 'UTC')));
        END IF;
      END IF;
    END IF;
  END IF;

  SELECT coalesce(sum(s.available), 0)::integer INTO available FROM spendable_lots(ws, ws_now) s;
  IF available < q.credits THEN
    -- The automatic top-up's hook (1732400000018) records a trigger in this transaction; its answer (e.g.
    -- top_up_pending) joins the refusal's detail, whose own fields win.
    RETURN ledger_refusal('insufficient_credits',
      format('this creation needs %s credits; %s are available', q.credits, available),
      ledger_auto_top_up_check(ws, available, 'refusal', 'refusal:' || quote, ws_now)
        || jsonb_build_object('required', q.credits, 'available', available));
  END IF;

  expires := ws_now + hold_ttl_ms * interval '1 millisecond';
  INSERT INTO creations (id, workspace_id, quote_id, status, quoted, created_at, hold_expires_at,
    model, api_key_id, external_id, metadata)
  VALUES (creation, ws, quote, 'running', q.credits, ws_now, expires,
    q.request ->> 'model', key_id, external_ref, coalesce(meta, '{}'));
  UPDATE quotes SET used = true WHERE id = quote;
  IF key_view IS NOT NULL THEN
    INSERT INTO api_key_daily_spend (api_key_id, day, used) VALUES (key_id, spend_day, q.credits)
    ON CONFLICT (api_key_id, day) DO UPDATE SET used = api_key_daily_spend.used + EXCLUDED.used;
  END IF;
  balance := available;
  left_to_hold := q.credits;
  -- spendable_lots gives its rows in burn order.
  FOR lot IN SELECT s.id, s.available AS free FROM spendable_lots(ws, ws_now) s LOOP
    EXIT WHEN left_to_hold = 0;
    take := least(left_to_hold, lot.free);
    left_to_hold := left_to_hold - take;
    balance := balance - take;
    INSERT INTO hold_portions (creation_id, lot_id, amount) VALUES (creation, lot.id, take);
    UPDATE lots SET held = held + take WHERE id = lot.id;
    INSERT INTO ledger_entries (workspace_id, kind, lot_id, remaining_delta, held_delta, amount, balance_after, at, operation_key)
    VALUES (ws, 'hold', lot.id, 0, take, -take, balance, ws_now, op_key);
    portions := portions || jsonb_build_object('lot_id', lot.id, 'amount', take, 'captured', 0);
  END LOOP;

  -- A low-balance alert once per crossing of the threshold, keyed by the operation that crossed.
  threshold := ledger_low_balance_threshold(ws, default_thresholds);
  IF threshold IS NOT NULL AND available >= threshold AND balance < threshold THEN
    INSERT INTO notifications (workspace_id, kind, dedupe_key, payload, at)
    VALUES (ws, 'low_balance', 'low_balance:' || op_key, jsonb_build_object('available', balance, 'threshold', threshold), ws_now)
    ON CONFLICT (dedupe_key) DO NOTHING;
  END IF;
  -- What ledger_creation would read back, from what this call already knows.
  RETURN jsonb_build_object('id', creation, 'status', 'running', 'quoted', q.credits, 'charged', NULL, 'variance', NULL,
    'created_at', ledger_iso(ws_now), 'hold_expires_at', ledger_iso(expires),
    'model', q.request ->> 'model', 'request', q.request, 'external_id', external_ref, 'metadata', coalesce(meta, '{}'),
    'api_key', key_view, 'portions', portions, 'replayed', false);
END $$;

