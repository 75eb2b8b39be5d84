-- Up Migration

-- One definition of each ledger rule (SPEC §2-3) for every query that needs it: the spend functions, the
-- balance read, the alerts and the TypeScript ledger. Each is a LANGUAGE sql function the planner inlines
-- into the calling query (a single expression, or a single SELECT returning a set, never STRICT or
-- VOLATILE): it costs what the expression it stands for costs, and the caller's indexes still serve it.

-- Burn order: lots are spent in ascending order of this key — earliest expires_at first, packs (no
-- expiry) last, then the grant time, then the lot id.
CREATE TYPE lot_burn_key AS (expires_at timestamptz, granted_at timestamptz, id bigint);
CREATE FUNCTION lot_burn_key(l lots) RETURNS lot_burn_key LANGUAGE sql IMMUTABLE AS $$
  SELECT ROW(coalesce(l.expires_at, 'infinity'), l.granted_at, l.id)::lot_burn_key
$$;

-- A lot has expired at `at` once its expiry has come; packs never expire.
CREATE FUNCTION lot_expired(l lots, at timestamptz) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
  SELECT coalesce(l.expires_at <= at, false)
$$;

-- A lot counts towards the balance at `at` while it is unexpired and not frozen.
CREATE FUNCTION lot_spendable(l lots, at timestamptz) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
  SELECT NOT l.frozen AND NOT lot_expired(l, at)
$$;

-- What a lot adds to the available balance at `at`: its remaining credits less those held, while spendable.
CREATE FUNCTION lot_available(l lots, at timestamptz) RETURNS integer LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN lot_spendable(l, at) THEN l.remaining - l.held ELSE 0 END
$$;

-- The lots a workspace can spend from at `at`, in burn order, each with what it has available; the
-- available balance is their sum. `remaining > 0` follows from available > 0: written out, it lets the
-- partial index lots_burn_order serve the scan.
CREATE FUNCTION spendable_lots(ws text, at timestamptz) RETURNS TABLE (id bigint, available integer)
  LANGUAGE sql STABLE AS $$
  SELECT l.id, lot_available(l, at) FROM lots l
  WHERE l.workspace_id = ws AND l.remaining > 0 AND lot_available(l, at) > 0
  ORDER BY lot_burn_key(l)
$$;

-- A live subscription (active, past due or paused) lets its workspace spend and buy packs and keep custom
-- models. The same list as domain/lifecycle/status.ts LIVE_STATUSES (a test compares them).
CREATE FUNCTION subscription_is_live(status text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
  SELECT status IN ('active', 'past_due', 'paused')
$$;

-- The functions of 1732400000008_spend_functions, with the rules above in place of their own copies.

-- Now in PL/pgSQL: a SQL function that reads tables is never inlined, so every hold (its own transaction)
-- planned this body again; PL/pgSQL keeps the plan for the session (as workspace_now in 1732400000008).
CREATE OR REPLACE FUNCTION ledger_low_balance_threshold(ws text, default_thresholds jsonb) RETURNS integer LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN (SELECT coalesce(w.low_balance_threshold, (default_thresholds ->> (
    SELECT s.plan FROM subscriptions s WHERE s.workspace_id = w.id AND subscription_is_live(s.status) LIMIT 1))::integer)
  FROM workspaces w WHERE w.id = ws);
END $$;

CREATE OR REPLACE FUNCTION ledger_creation(ws text, creation text) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'id', c.id, 'status', c.status, 'quoted', c.quoted, 'charged', c.charged, 'variance', c.variance,
    'created_at', ledger_iso(c.created_at),
    'portions', coalesce((
      SELECT jsonb_agg(jsonb_build_object('lot_id', p.lot_id, 'amount', p.amount, 'captured', p.captured)
                       ORDER BY lot_burn_key(l))
      FROM hold_portions p JOIN lots l ON l.id = p.lot_id WHERE p.creation_id = c.id), '[]'::jsonb))
  FROM creations c WHERE c.id = creation AND c.workspace_id = ws
$$;

CREATE OR REPLACE FUNCTION ledger_hold(ws text, quote text, creation text, hold_ttl_ms integer, default_thresholds jsonb)
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

  SELECT coalesce(sum(s.available), 0)::integer INTO available FROM spendable_lots(ws, ws_now) s;
  IF available < q.credits THEN
    RETURN ledger_refusal('insufficient_credits',
      format('this creation needs %s credits; %s are available', q.credits, available),
      jsonb_build_object('required', q.credits, 'available', available));
  END IF;

  INSERT INTO creations (id, workspace_id, quote_id, status, quoted, created_at, hold_expires_at)
  VALUES (creation, ws, quote, 'running', q.credits, ws_now, ws_now + hold_ttl_ms * interval '1 millisecond');
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
    'created_at', ledger_iso(ws_now), 'portions', portions, 'replayed', false);
END $$;

CREATE OR REPLACE FUNCTION ledger_end(ws text, creation text, outcome text, reported_credits integer)
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
  SELECT coalesce(sum(s.available), 0)::integer INTO balance FROM spendable_lots(ws, ws_now) s;
  left_to_capture := charged_credits;
  FOR portion IN
    SELECT p.lot_id, p.amount, lot_expired(l, ws_now) AS lapsed, lot_spendable(l, ws_now) AS spendable
    FROM hold_portions p JOIN lots l ON l.id = p.lot_id
    WHERE p.creation_id = creation ORDER BY lot_burn_key(l)
  LOOP
    captured_credits := least(left_to_capture, portion.amount);
    released := portion.amount - captured_credits;
    left_to_capture := left_to_capture - captured_credits;
    IF captured_credits > 0 THEN
      INSERT INTO ledger_entries (workspace_id, kind, lot_id, remaining_delta, held_delta, amount, balance_after, at, operation_key)
      VALUES (ws, 'capture', portion.lot_id, -captured_credits, -captured_credits, -captured_credits, balance, entry_at, 'capture:' || creation);
    END IF;
    IF released > 0 THEN
      -- Only a lot that still counts towards `available` gives the balance back.
      IF portion.spendable THEN
        balance := balance + released;
      END IF;
      INSERT INTO ledger_entries (workspace_id, kind, lot_id, remaining_delta, held_delta, amount, balance_after, at, operation_key)
      VALUES (ws, 'release', portion.lot_id, 0, -released, released, balance, entry_at, 'release:' || creation);
      IF portion.lapsed THEN
        INSERT INTO ledger_entries (workspace_id, kind, lot_id, remaining_delta, held_delta, amount, balance_after, at, operation_key)
        VALUES (ws, 'expire', portion.lot_id, -released, 0, -released, balance, entry_at, 'release:' || creation);
      END IF;
    END IF;
    UPDATE lots SET held = held - portion.amount,
      remaining = remaining - captured_credits - CASE WHEN portion.lapsed THEN released ELSE 0 END
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
-- Back to the definitions of 1732400000008_spend_functions (each with its own copy of the rules).
CREATE OR REPLACE FUNCTION ledger_low_balance_threshold(ws text, default_thresholds jsonb) RETURNS integer LANGUAGE sql STABLE AS $$
  SELECT coalesce(w.low_balance_threshold, (default_thresholds ->> (
    SELECT s.plan FROM subscriptions s WHERE s.workspace_id = w.id AND s.status IN ('active', 'past_due', 'paused') LIMIT 1))::integer)
  FROM workspaces w WHERE w.id = ws
$$;
CREATE OR REPLACE FUNCTION ledger_creation(ws text, creation text) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'id', c.id, 'status', c.status, 'quoted', c.quoted, 'charged', c.charged, 'variance', c.variance,
    'created_at', ledger_iso(c.created_at),
    'portions', coalesce((
      SELECT jsonb_agg(jsonb_build_object('lot_id', p.lot_id, 'amount', p.amount, 'captured', p.captured)
                       ORDER BY l.expires_at NULLS LAST, l.granted_at, l.id)
      FROM hold_portions p JOIN lots l ON l.id = p.lot_id WHERE p.creation_id = c.id), '[]'::jsonb))
  FROM creations c WHERE c.id = creation AND c.workspace_id = ws
$$;
CREATE OR REPLACE FUNCTION ledger_hold(ws text, quote text, creation text, hold_ttl_ms integer, default_thresholds jsonb)
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
CREATE OR REPLACE FUNCTION ledger_end(ws text, creation text, outcome text, reported_credits integer)
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
DROP FUNCTION subscription_is_live(text);
DROP FUNCTION spendable_lots(text, timestamptz);
DROP FUNCTION lot_available(lots, timestamptz);
DROP FUNCTION lot_spendable(lots, timestamptz);
DROP FUNCTION lot_expired(lots, timestamptz);
DROP FUNCTION lot_burn_key(lots);
DROP TYPE lot_burn_key;
