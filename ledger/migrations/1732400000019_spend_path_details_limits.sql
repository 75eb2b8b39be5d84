-- Up Migration
-- SPEC §11, the spend path: creations remember what they were (the quote's request, its model, the API key
-- that made the hold, the studio's external_id and metadata), long jobs extend their hold (at most 24 hours
-- in all), API keys carry a daily credit budget checked atomically with the hold, and the automatic
-- top-up's hook (ledger_auto_top_up_check, 1732400000018) is called on a refusal for want of credits and
-- after a capture. A completion repeated with another amount is refused (issue 16, finding 8).

-- A quote a creation used no longer counts as open: at most 1,000 unexpired open quotes per workspace
-- (ledger/spend.ts createQuote counts them through this partial index, under the workspace lock).
ALTER TABLE quotes ADD COLUMN used boolean NOT NULL DEFAULT false;
UPDATE quotes SET used = true WHERE id IN (SELECT quote_id FROM creations);
CREATE INDEX quotes_open ON quotes(workspace_id, expires_at) WHERE NOT used;

-- Credits each API key has used per UTC day of its workspace's time: what its holds made that day quoted,
-- less what they released when they ended (quoted while running, charged once ended). Maintained by
-- ledger_hold (+quoted) and ledger_end (−released, on the hold's own day) for every hold made with a key,
-- so a daily_credit_limit set mid-day counts the day's earlier holds, and the check is one primary-key read.
CREATE TABLE api_key_daily_spend (
  api_key_id text NOT NULL REFERENCES api_keys(id),
  day        date NOT NULL,
  used       integer NOT NULL CHECK (used >= 0),
  PRIMARY KEY (api_key_id, day)
);

-- GET /v1/creations?external_id=…; partial: creations without one cost the spend path nothing.
CREATE INDEX creations_by_external_id ON creations(workspace_id, external_id, created_at DESC, seq DESC) WHERE external_id IS NOT NULL;
-- The cap of 100 active keys per workspace counts them; listing a workspace's keys reads them.
CREATE INDEX api_keys_by_workspace ON api_keys(workspace_id, created_at DESC) WHERE revoked_at IS NULL;

-- A creation as the API shows it, now with what it was and who made it; `hold_expires_at` is the hold's
-- expiry (the API shows it while the creation runs).
CREATE OR REPLACE FUNCTION ledger_creation(ws text, creation text) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'id', c.id, 'status', c.status, 'quoted', c.quoted, 'charged', c.charged, 'variance', c.variance,
    'created_at', ledger_iso(c.created_at), 'hold_expires_at', ledger_iso(c.hold_expires_at),
    'model', c.model, 'request', (SELECT q.request FROM quotes q WHERE q.id = c.quote_id), 'external_id', c.external_id, 'metadata', c.metadata,
    'api_key', (SELECT jsonb_build_object('id', k.id, 'name', k.name) FROM api_keys k WHERE k.id = c.api_key_id),
    'portions', coalesce((
      SELECT jsonb_agg(jsonb_build_object('lot_id', p.lot_id, 'amount', p.amount, 'captured', p.captured)
                       ORDER BY lot_burn_key(l))
      FROM hold_portions p JOIN lots l ON l.id = p.lot_id WHERE p.creation_id = c.id), '[]'::jsonb))
  FROM creations c WHERE c.id = creation AND c.workspace_id = ws
$$;

-- ledger_hold of 1732400000012_ledger_rules with three more arguments: the API key that makes the hold
-- (NULL: none; its daily_credit_limit is checked here, under the workspace lock, before the balance), the
-- studio's external_id and metadata. A new signature, so the old one goes.
DROP FUNCTION ledger_hold(text, text, text, integer, jsonb);
CREATE FUNCTION ledger_hold(ws text, quote text, creation text, hold_ttl_ms integer, default_thresholds jsonb,
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

-- ledger_end of 1732400000015_refund_clawback_disputes (all of its clawback and dispute-freeze settling
-- kept), plus: a completion repeated with another amount is refused (creation_already_ended), released
-- credits go back to the key's daily budget, the automatic top-up's hook after a capture, and the
-- creation's details in its answer.
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
  key_view jsonb;
BEGIN
  ws_now := ledger_lock_workspace(ws);
  SELECT status, quoted, reported, charged, hold_expires_at, created_at, model, api_key_id, external_id, metadata,
    (SELECT q.request FROM quotes q WHERE q.id = creations.quote_id) AS request
  INTO cr FROM creations WHERE id = creation AND workspace_id = ws;
  IF NOT FOUND THEN
    RETURN ledger_refusal('creation_not_found', 'no creation with this id');
  END IF;
  IF cr.status = outcome THEN
    -- The same request again replays its result; a completion with another amount is refused, so the
    -- caller learns its amount was not taken (issue 16, finding 8).
    IF outcome = 'succeeded' AND cr.reported IS DISTINCT FROM reported_credits THEN
      RETURN ledger_refusal('creation_already_ended',
        format('the creation already succeeded with %s credits reported (%s charged); another amount is refused', cr.reported, cr.charged),
        jsonb_build_object('reported', cr.reported, 'charged', cr.charged));
    END IF;
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
      l.clawback_pending, l.dispute_freeze_key, l.expires_at
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
      -- (its thaw gives all it holds then, so the journal reconciles). A lapsed lot's (expired next) and a
      -- disputed lot's (frozen next) release show +r beside the entry that takes it away.
      INSERT INTO ledger_entries (workspace_id, kind, lot_id, remaining_delta, held_delta, amount, balance_after, at, operation_key)
      VALUES (ws, 'release', portion.lot_id, 0, -released,
        CASE WHEN portion.spendable OR portion.lapsed OR portion.dispute_freeze_key IS NOT NULL THEN released ELSE 0 END,
        balance, entry_at, 'release:' || creation);
      -- The released part of a lapsed lot expires at the later of the release and the lot's expiry: a hold swept
      -- late is released as of its lapse, and a lot that expired between the lapse and the sweep expires its part at
      -- its own expiry instant, never before it (SPEC §11: credits expired count at their expiry instant).
      IF portion.lapsed THEN
        INSERT INTO ledger_entries (workspace_id, kind, lot_id, remaining_delta, held_delta, amount, balance_after, at, operation_key)
        VALUES (ws, 'expire', portion.lot_id, -released, 0, -released, balance, greatest(entry_at, portion.expires_at), 'release:' || creation);
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

  -- The released credits go back to the key's budget of the day the hold was made (SPEC §11).
  IF cr.api_key_id IS NOT NULL AND charged_credits < cr.quoted THEN
    UPDATE api_key_daily_spend SET used = used - (cr.quoted - charged_credits)
    WHERE api_key_id = cr.api_key_id AND day = (cr.created_at AT TIME ZONE 'UTC')::date;
  END IF;
  -- The automatic top-up's hook (1732400000018): a capture may take `available` below its threshold.
  IF outcome = 'succeeded' THEN
    PERFORM ledger_auto_top_up_check(ws, balance, 'capture', 'capture:' || creation, ws_now);
  END IF;
  IF cr.api_key_id IS NOT NULL THEN
    SELECT jsonb_build_object('id', k.id, 'name', k.name) INTO key_view FROM api_keys k WHERE k.id = cr.api_key_id;
  END IF;

  UPDATE creations SET status = outcome,
    reported = CASE WHEN outcome = 'succeeded' THEN reported_value END,
    charged = charged_credits,
    variance = CASE WHEN reported_value > cr.quoted THEN reported_value - cr.quoted END,
    ended_at = entry_at
  WHERE id = creation;
  RETURN jsonb_build_object('id', creation, 'status', outcome, 'quoted', cr.quoted, 'charged', charged_credits,
    'variance', CASE WHEN reported_value > cr.quoted THEN reported_value - cr.quoted END,
    'created_at', ledger_iso(cr.created_at), 'hold_expires_at', ledger_iso(cr.hold_expires_at),
    'model', cr.model, 'request', cr.request, 'external_id', cr.external_id, 'metadata', cr.metadata,
    'api_key', key_view, 'portions', portions);
END $$;

-- POST /v1/creations/{id}/extend: a running hold's expiry becomes the workspace's now + extend_by_ms, never
-- earlier than it was and never later than max_hold_ms after the creation started (a request beyond is
-- refused hold_extension_limit with the latest possible expiry; nothing changes). A lapsed hold is not
-- revived (creation_not_running), even before the sweep released it. It sets an absolute time, so a
-- retried request moves the expiry by no more than the retry's delay: idempotent by nature.
CREATE FUNCTION ledger_extend_hold(ws text, creation text, extend_by_ms bigint, max_hold_ms bigint)
  RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  ws_now timestamptz;
  cr record;
  wanted timestamptz;
  latest timestamptz;
BEGIN
  ws_now := ledger_lock_workspace(ws);
  SELECT status, hold_expires_at, created_at INTO cr FROM creations WHERE id = creation AND workspace_id = ws;
  IF NOT FOUND THEN
    RETURN ledger_refusal('creation_not_found', 'no creation with this id');
  END IF;
  IF cr.status <> 'running' THEN
    RETURN ledger_refusal('creation_not_running', 'the creation already ' || cr.status);
  END IF;
  IF cr.hold_expires_at <= ws_now THEN
    RETURN ledger_refusal('creation_not_running', 'the creation''s hold already lapsed; its credits are released');
  END IF;
  wanted := ws_now + extend_by_ms * interval '1 millisecond';
  latest := cr.created_at + max_hold_ms * interval '1 millisecond';
  IF wanted > latest THEN
    RETURN ledger_refusal('hold_extension_limit',
      format('a hold lives at most %s hours from its creation: it can expire at %s at the latest',
        max_hold_ms / 3600000, ledger_iso(latest)),
      jsonb_build_object('latest_expires_at', ledger_iso(latest),
        'max_extend_by_s', floor(extract(epoch FROM latest - ws_now))::integer));
  END IF;
  IF wanted > cr.hold_expires_at THEN
    UPDATE creations SET hold_expires_at = wanted WHERE id = creation;
  END IF;
  RETURN ledger_creation(ws, creation);
END $$;

-- Down Migration
-- Back to ledger_hold and ledger_creation of 1732400000012_ledger_rules and ledger_end of 1732400000015.
DROP FUNCTION ledger_extend_hold(text, text, bigint, bigint);
DROP FUNCTION ledger_hold(text, text, text, integer, jsonb, text, text, jsonb);
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
      -- (its thaw gives all it holds then, so the journal reconciles). A lapsed lot's (expired next) and a
      -- disputed lot's (frozen next) release show +r beside the entry that takes it away.
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

DROP INDEX api_keys_by_workspace;
DROP INDEX creations_by_external_id;
DROP TABLE api_key_daily_spend;
DROP INDEX quotes_open;
ALTER TABLE quotes DROP COLUMN used;
