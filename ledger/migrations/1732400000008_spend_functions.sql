-- Up Migration

-- The spend path as server-side functions: a hold and a capture each cost the API one round trip
-- (one statement, its own transaction) instead of a dozen statements sent one after another. The rules
-- are those of the former TypeScript implementation (ledger/spend.ts keeps the contract and the error
-- codes); the ledger's property test runs against these functions.

-- The workspace's time (its test clock's when it has one), as before, in PL/pgSQL: a SQL function with a
-- sub-select cannot be inlined and was planned again at every call (the top statements of the spend path
-- in pg_stat_statements); PL/pgSQL keeps its plan for the session.
CREATE OR REPLACE FUNCTION workspace_now(ws text) RETURNS timestamptz LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN coalesce((SELECT c.frozen_time FROM workspaces w JOIN test_clocks c ON c.id = w.test_clock_id WHERE w.id = ws), now());
END $$;

-- Locks the workspace row (every balance change of one workspace runs in a serial order) and returns its time.
CREATE FUNCTION ledger_lock_workspace(ws text) RETURNS timestamptz LANGUAGE plpgsql AS $$
DECLARE
  ws_now timestamptz;
BEGIN
  -- workspace_now()'s rule, in the locking query itself: the spend path pays no nested call for it.
  SELECT coalesce(c.frozen_time, now()) INTO ws_now
  FROM workspaces w LEFT JOIN test_clocks c ON c.id = w.test_clock_id WHERE w.id = ws FOR UPDATE OF w;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'workspace % not found', ws USING ERRCODE = 'no_data_found';
  END IF;
  RETURN ws_now;
END $$;

-- The workspace's low-balance threshold: its own, else its live plan's default (given by the caller from
-- the catalog, domain/catalog.ts defaultLowBalanceThreshold), else none.
CREATE FUNCTION ledger_low_balance_threshold(ws text, default_thresholds jsonb) RETURNS integer LANGUAGE sql STABLE AS $$
  SELECT coalesce(w.low_balance_threshold, (default_thresholds ->> (
    SELECT s.plan FROM subscriptions s WHERE s.workspace_id = w.id AND s.status IN ('active', 'past_due', 'paused') LIMIT 1))::integer)
  FROM workspaces w WHERE w.id = ws
$$;

-- Milliseconds in UTC with a Z, as JavaScript's toISOString writes them.
CREATE FUNCTION ledger_iso(t timestamptz) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

-- A creation and its portions in burn order, as ledger/spend.ts turns them into the API's view.
CREATE FUNCTION ledger_creation(ws text, creation text) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'id', c.id, 'status', c.status, 'quoted', c.quoted, 'charged', c.charged, 'variance', c.variance,
    'created_at', ledger_iso(c.created_at),
    'portions', coalesce((
      SELECT jsonb_agg(jsonb_build_object('lot_id', p.lot_id, 'amount', p.amount, 'captured', p.captured)
                       ORDER BY l.expires_at NULLS LAST, l.granted_at, l.id)
      FROM hold_portions p JOIN lots l ON l.id = p.lot_id WHERE p.creation_id = c.id), '[]'::jsonb))
  FROM creations c WHERE c.id = creation AND c.workspace_id = ws
$$;

CREATE FUNCTION ledger_refusal(code text, message text, detail jsonb DEFAULT '{}') RETURNS jsonb
  LANGUAGE sql IMMUTABLE AS $$ SELECT jsonb_build_object('error', code, 'message', message, 'detail', detail) $$;

-- Starts a creation from a quote: reserves its credits from specific lots in burn order. A quote starts
-- one creation only: a replay returns the first creation with replayed = true.
CREATE FUNCTION ledger_hold(ws text, quote text, creation text, hold_ttl_ms integer, default_thresholds jsonb)
  RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  ws_now timestamptz;
  threshold integer;
  existing text;
  q record;
  lot record;
  available integer;
  balance integer;
  left_to_hold integer;
  take integer;
  portions jsonb := '[]';
  op_key text := 'hold:' || creation;
BEGIN
  ws_now := ledger_lock_workspace(ws);
  SELECT id INTO existing FROM creations WHERE quote_id = quote AND workspace_id = ws;
  IF FOUND THEN
    RETURN ledger_creation(ws, existing) || jsonb_build_object('replayed', true);
  END IF;
  SELECT credits, expires_at INTO q FROM quotes WHERE id = quote AND workspace_id = ws;
  IF NOT FOUND THEN
    RETURN ledger_refusal('quote_not_found', 'no quote with this id');
  END IF;
  IF q.expires_at <= ws_now THEN
    RETURN ledger_refusal('quote_expired', 'the quote expired; ask for a new estimate');
  END IF;

  SELECT coalesce(sum(remaining - held), 0)::integer INTO available FROM lots
  WHERE workspace_id = ws AND remaining > held AND NOT frozen AND (expires_at IS NULL OR expires_at > ws_now);
  IF available < q.credits THEN
    RETURN ledger_refusal('insufficient_credits',
      format('this creation needs %s credits; %s are available', q.credits, available),
      jsonb_build_object('required', q.credits, 'available', available));
  END IF;

  INSERT INTO creations (id, workspace_id, quote_id, status, quoted, created_at, hold_expires_at)
  VALUES (creation, ws, quote, 'running', q.credits, ws_now, ws_now + hold_ttl_ms * interval '1 millisecond');
  balance := available;
  left_to_hold := q.credits;
  FOR lot IN
    SELECT id, remaining - held AS free FROM lots
    WHERE workspace_id = ws AND remaining > held AND NOT frozen AND (expires_at IS NULL OR expires_at > ws_now)
    ORDER BY expires_at NULLS LAST, granted_at, id
  LOOP
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
    'created_at', ledger_iso(ws_now), 'portions', portions, 'replayed', false);
END $$;

-- Ends a running creation: captures `reported` credits (capped at the quote) from its held portions in
-- burn order and releases the rest (outcome 'failed' or 'expired': everything). A released portion of a
-- lot that expired meanwhile expires now. Ending an ended creation the same way again returns it;
-- ending it another way is refused. A lapsed hold is journaled at the moment it lapsed.
CREATE FUNCTION ledger_end(ws text, creation text, outcome text, reported_credits integer)
  RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  ws_now timestamptz;
  cr record;
  portion record;
  entry_at timestamptz;
  reported_value integer;
  charged_credits integer;
  balance integer;
  left_to_capture integer;
  captured_credits integer;
  released integer;
  lapsed boolean;
  portions jsonb := '[]';
BEGIN
  ws_now := ledger_lock_workspace(ws);
  SELECT status, quoted, hold_expires_at, created_at INTO cr FROM creations WHERE id = creation AND workspace_id = ws;
  IF NOT FOUND THEN
    RETURN ledger_refusal('creation_not_found', 'no creation with this id');
  END IF;
  IF cr.status = outcome THEN
    RETURN ledger_creation(ws, creation);
  END IF;
  IF cr.status <> 'running' THEN
    RETURN ledger_refusal('creation_not_running', 'the creation already ' || cr.status);
  END IF;
  -- Not completed within the hour: released by the sweep as of its lapse, whether or not it got there yet.
  IF outcome <> 'expired' AND cr.hold_expires_at <= ws_now THEN
    RETURN ledger_refusal('creation_not_running', 'the creation already expired');
  END IF;

  entry_at := CASE WHEN outcome = 'expired' THEN cr.hold_expires_at ELSE ws_now END;
  reported_value := CASE WHEN outcome = 'succeeded' THEN reported_credits ELSE 0 END;
  charged_credits := least(reported_value, cr.quoted);
  SELECT coalesce(sum(remaining - held), 0)::integer INTO balance FROM lots
  WHERE workspace_id = ws AND NOT frozen AND (expires_at IS NULL OR expires_at > ws_now);
  left_to_capture := charged_credits;
  FOR portion IN
    SELECT p.lot_id, p.amount, l.expires_at, l.frozen FROM hold_portions p JOIN lots l ON l.id = p.lot_id
    WHERE p.creation_id = creation ORDER BY l.expires_at NULLS LAST, l.granted_at, l.id
  LOOP
    captured_credits := least(left_to_capture, portion.amount);
    released := portion.amount - captured_credits;
    left_to_capture := left_to_capture - captured_credits;
    lapsed := portion.expires_at IS NOT NULL AND portion.expires_at <= ws_now;
    IF captured_credits > 0 THEN
      INSERT INTO ledger_entries (workspace_id, kind, lot_id, remaining_delta, held_delta, amount, balance_after, at, operation_key)
      VALUES (ws, 'capture', portion.lot_id, -captured_credits, -captured_credits, -captured_credits, balance, entry_at, 'capture:' || creation);
    END IF;
    IF released > 0 THEN
      -- Only a lot that still counts towards `available` (unexpired, not frozen) gives the balance back.
      IF NOT lapsed AND NOT portion.frozen THEN
        balance := balance + released;
      END IF;
      INSERT INTO ledger_entries (workspace_id, kind, lot_id, remaining_delta, held_delta, amount, balance_after, at, operation_key)
      VALUES (ws, 'release', portion.lot_id, 0, -released, released, balance, entry_at, 'release:' || creation);
      IF lapsed THEN
        INSERT INTO ledger_entries (workspace_id, kind, lot_id, remaining_delta, held_delta, amount, balance_after, at, operation_key)
        VALUES (ws, 'expire', portion.lot_id, -released, 0, -released, balance, entry_at, 'release:' || creation);
      END IF;
    END IF;
    UPDATE lots SET held = held - portion.amount,
      remaining = remaining - captured_credits - CASE WHEN lapsed THEN released ELSE 0 END
    WHERE id = portion.lot_id;
    UPDATE hold_portions SET captured = captured_credits WHERE creation_id = creation AND lot_id = portion.lot_id;
    portions := portions || jsonb_build_object('lot_id', portion.lot_id, 'amount', portion.amount, 'captured', captured_credits);
  END LOOP;

  UPDATE creations SET status = outcome,
    reported = CASE WHEN outcome = 'succeeded' THEN reported_value END,
    charged = charged_credits,
    variance = CASE WHEN reported_value > cr.quoted THEN reported_value - cr.quoted END,
    ended_at = entry_at
  WHERE id = creation;
  RETURN jsonb_build_object('id', creation, 'status', outcome, 'quoted', cr.quoted, 'charged', charged_credits,
    'variance', CASE WHEN reported_value > cr.quoted THEN reported_value - cr.quoted END,
    'created_at', ledger_iso(cr.created_at), 'portions', portions);
END $$;

-- Down Migration
DROP FUNCTION ledger_end(text, text, text, integer);
DROP FUNCTION ledger_hold(text, text, text, integer, jsonb);
DROP FUNCTION ledger_refusal(text, text, jsonb);
DROP FUNCTION ledger_creation(text, text);
DROP FUNCTION ledger_iso(timestamptz);
DROP FUNCTION ledger_low_balance_threshold(text, jsonb);
DROP FUNCTION ledger_lock_workspace(text);
CREATE OR REPLACE FUNCTION workspace_now(ws text) RETURNS timestamptz LANGUAGE sql STABLE AS $$
  SELECT coalesce((SELECT c.frozen_time FROM workspaces w JOIN test_clocks c ON c.id = w.test_clock_id
                   WHERE w.id = ws), now())
$$;
