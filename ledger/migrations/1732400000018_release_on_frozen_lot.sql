-- Up Migration

-- A journal that reconciles (SPEC §10, issue 12): a hold ending on a lot frozen because nothing is live gave
-- the balance nothing back, yet its release was journaled +r, and the thaw gave it again: the journal's
-- balance changes then summed above `available`. ledger_end of 1732400000015, with that release's amount 0.
CREATE OR REPLACE FUNCTION ledger_end(ws text, creation text, outcome text, reported_credits integer)
  RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  ws_now timestamptz;
  cr record;
  portion record;
  settled record;
  entry_at timestamptz;
  reported_value integer;
  charged_credits integer;
  balance integer;
  left_to_capture integer;
  captured_credits integer;
  released integer;
  taken integer;
  pending_after integer;
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
    SELECT p.lot_id, p.amount, lot_expired(l, ws_now) AS lapsed, lot_spendable(l, ws_now) AS spendable,
      l.clawback_pending, l.dispute_freeze_key
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
      -- The release's amount is what it gives the balance back: nothing on a lot frozen while nothing is live
      -- (its thaw gives all it holds then). A lapsed lot's (expired next) and a disputed lot's (frozen next)
      -- release show +r with the entry that takes it away, as before.
      INSERT INTO ledger_entries (workspace_id, kind, lot_id, remaining_delta, held_delta, amount, balance_after, at, operation_key)
      VALUES (ws, 'release', portion.lot_id, 0, -released,
        CASE WHEN portion.spendable OR portion.lapsed OR portion.dispute_freeze_key IS NOT NULL THEN released ELSE 0 END,
        balance, entry_at, 'release:' || creation);
      IF portion.lapsed THEN
        INSERT INTO ledger_entries (workspace_id, kind, lot_id, remaining_delta, held_delta, amount, balance_after, at, operation_key)
        VALUES (ws, 'expire', portion.lot_id, -released, 0, -released, balance, entry_at, 'release:' || creation);
      END IF;
    END IF;
    taken := 0;
    pending_after := portion.clawback_pending;
    IF portion.clawback_pending > 0 THEN
      SELECT * INTO settled FROM ledger_settle_clawbacks(ws, portion.lot_id, portion.amount, released, portion.lapsed, portion.spendable, balance, entry_at);
      taken := settled.taken;
      pending_after := settled.pending_after;
      balance := settled.balance_after;
    END IF;
    -- A held part of a disputed lot freezes as it comes back (it never counted: the release gave nothing).
    IF portion.dispute_freeze_key IS NOT NULL AND NOT portion.lapsed AND released - taken > 0 THEN
      INSERT INTO ledger_entries (workspace_id, kind, lot_id, remaining_delta, held_delta, amount, balance_after, at, operation_key)
      VALUES (ws, 'freeze', portion.lot_id, 0, 0, -(released - taken), balance, entry_at, portion.dispute_freeze_key);
    END IF;
    UPDATE lots SET held = held - portion.amount,
      remaining = remaining - captured_credits - CASE WHEN portion.lapsed THEN released ELSE 0 END - taken,
      clawback_pending = pending_after
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
-- (ledger_end as 1732400000015 left it)
CREATE OR REPLACE FUNCTION ledger_end(ws text, creation text, outcome text, reported_credits integer)
  RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  ws_now timestamptz;
  cr record;
  portion record;
  settled record;
  entry_at timestamptz;
  reported_value integer;
  charged_credits integer;
  balance integer;
  left_to_capture integer;
  captured_credits integer;
  released integer;
  taken integer;
  pending_after integer;
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
    SELECT p.lot_id, p.amount, lot_expired(l, ws_now) AS lapsed, lot_spendable(l, ws_now) AS spendable,
      l.clawback_pending, l.dispute_freeze_key
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
      -- The release's amount is what it gives the balance back: nothing on a lot frozen while nothing is live
      -- (its thaw gives all it holds then). A lapsed lot's (expired next) and a disputed lot's (frozen next)
      -- release show +r with the entry that takes it away, as before.
      INSERT INTO ledger_entries (workspace_id, kind, lot_id, remaining_delta, held_delta, amount, balance_after, at, operation_key)
      VALUES (ws, 'release', portion.lot_id, 0, -released,
        released,
        balance, entry_at, 'release:' || creation);
      IF portion.lapsed THEN
        INSERT INTO ledger_entries (workspace_id, kind, lot_id, remaining_delta, held_delta, amount, balance_after, at, operation_key)
        VALUES (ws, 'expire', portion.lot_id, -released, 0, -released, balance, entry_at, 'release:' || creation);
      END IF;
    END IF;
    taken := 0;
    pending_after := portion.clawback_pending;
    IF portion.clawback_pending > 0 THEN
      SELECT * INTO settled FROM ledger_settle_clawbacks(ws, portion.lot_id, portion.amount, released, portion.lapsed, portion.spendable, balance, entry_at);
      taken := settled.taken;
      pending_after := settled.pending_after;
      balance := settled.balance_after;
    END IF;
    -- A held part of a disputed lot freezes as it comes back (it never counted: the release gave nothing).
    IF portion.dispute_freeze_key IS NOT NULL AND NOT portion.lapsed AND released - taken > 0 THEN
      INSERT INTO ledger_entries (workspace_id, kind, lot_id, remaining_delta, held_delta, amount, balance_after, at, operation_key)
      VALUES (ws, 'freeze', portion.lot_id, 0, 0, -(released - taken), balance, entry_at, portion.dispute_freeze_key);
    END IF;
    UPDATE lots SET held = held - portion.amount,
      remaining = remaining - captured_credits - CASE WHEN portion.lapsed THEN released ELSE 0 END - taken,
      clawback_pending = pending_after
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
