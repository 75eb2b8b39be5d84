-- Up Migration
-- Refunds and disputes on the ledger side (SPEC §10): the lots an invoice granted lose credits when it is
-- refunded (clawback) and stop counting while it is disputed (dispute freeze). ledger/invoice-clawback.ts
-- writes these; the spend path (ledger_end, also the hold sweeper's path) settles them when a hold ends.

-- Credits still to take from a lot when its holds are released: a refund found them held. Never more than
-- is held (what a capture takes from the held part beyond the held rest is shortfall instead).
ALTER TABLE lots ADD COLUMN clawback_pending integer NOT NULL DEFAULT 0;
ALTER TABLE lots ADD CONSTRAINT lots_clawback_pending_check CHECK (clawback_pending >= 0 AND clawback_pending <= held);
-- Frozen by a dispute on the invoice that granted the lot: the dispute's freeze operation key, NULL when not.
-- Separate from `frozen` (a pack or adjustment kept while no subscription is live): a restart's thaw of packs
-- leaves a dispute freeze alone, and a won dispute leaves a cancellation's freeze alone. Released held credits
-- of a dispute-frozen lot freeze as they come back (journaled `freeze` under this key).
ALTER TABLE lots ADD COLUMN dispute_freeze_key text;

-- Per invoice, what its refunds asked of its lots so far: the largest refunded total applied (cents), the
-- credits to claw back in all for it (ceil(N × R / T)), and the shortfall recorded when refunds were applied
-- (spent credits; held credits that turn out spent are counted in lot_pending_clawbacks.shortfall).
CREATE TABLE invoice_clawbacks (
  invoice_id     text PRIMARY KEY REFERENCES invoices(id),
  workspace_id   text NOT NULL REFERENCES workspaces(id),
  refunded_cents bigint NOT NULL CHECK (refunded_cents >= 0),
  target         integer NOT NULL CHECK (target >= 0),
  shortfall      integer NOT NULL DEFAULT 0 CHECK (shortfall >= 0)
);

-- A refund's clawback waiting on a lot's held credits, and how it was settled: `clawed_back` when a hold was
-- released, `lapsed` when the released credits had expired (not shortfall), `shortfall` when they were
-- captured. Settled first come, first served across refunds. The lot's clawback_pending is the sum of `pending`.
CREATE TABLE lot_pending_clawbacks (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  lot_id        bigint NOT NULL REFERENCES lots(id),
  invoice_id    text NOT NULL REFERENCES invoices(id),
  -- The refund's operation key: the clawback entries taken later carry it.
  operation_key text NOT NULL,
  credits       integer NOT NULL CHECK (credits > 0),
  pending       integer NOT NULL CHECK (pending >= 0),
  clawed_back   integer NOT NULL DEFAULT 0 CHECK (clawed_back >= 0),
  lapsed        integer NOT NULL DEFAULT 0 CHECK (lapsed >= 0),
  shortfall     integer NOT NULL DEFAULT 0 CHECK (shortfall >= 0),
  CHECK (credits = pending + clawed_back + lapsed + shortfall)
);
CREATE INDEX lot_pending_clawbacks_open ON lot_pending_clawbacks(lot_id, id) WHERE pending > 0;
CREATE INDEX lot_pending_clawbacks_by_operation ON lot_pending_clawbacks(operation_key);
CREATE INDEX lot_pending_clawbacks_by_invoice ON lot_pending_clawbacks(invoice_id);

-- A lot counts towards the balance at `at` while it is unexpired, not frozen and not frozen by a dispute.
-- Every spendability rule (lot_available, spendable_lots, the hold, the balance read) goes through this one.
CREATE OR REPLACE FUNCTION lot_spendable(l lots, at timestamptz) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
  SELECT NOT l.frozen AND l.dispute_freeze_key IS NULL AND NOT lot_expired(l, at)
$$;

-- Settles a lot's pending clawbacks when one of its holds ends (called by ledger_end only for a lot whose
-- clawback_pending > 0, before the lot's row is updated): of `released` credits, up to the pending amount is
-- taken (journaled `clawback` under each refund's key, oldest first), or counted as lapsed when the lot has
-- expired; what stays pending beyond the credits still held after this hold was captured (shortfall).
-- Returns the credits taken, the lot's pending amount after, and the balance after the clawback entries.
CREATE FUNCTION ledger_settle_clawbacks(
  ws text, lot bigint, ended integer, released integer, lot_lapsed boolean, spendable boolean, balance integer, entry_at timestamptz,
  OUT taken integer, OUT pending_after integer, OUT balance_after integer
) LANGUAGE plpgsql AS $$
DECLARE
  pending_before integer;
  held_after integer;
  to_take integer;
  to_lapse integer;
  to_short integer;
  a integer;
  b integer;
  c integer;
  pc record;
BEGIN
  SELECT l.clawback_pending, l.held - ended INTO pending_before, held_after FROM lots l WHERE l.id = lot;
  to_take := CASE WHEN lot_lapsed THEN 0 ELSE least(released, pending_before) END;
  to_lapse := CASE WHEN lot_lapsed THEN least(released, pending_before) ELSE 0 END;
  to_short := greatest(0, pending_before - to_take - to_lapse - held_after);
  taken := to_take;
  pending_after := pending_before - to_take - to_lapse - to_short;
  balance_after := balance;
  FOR pc IN SELECT p.id, p.pending, p.operation_key FROM lot_pending_clawbacks p
             WHERE p.lot_id = lot AND p.pending > 0 ORDER BY p.id FOR UPDATE LOOP
    EXIT WHEN to_take + to_lapse + to_short = 0;
    a := least(pc.pending, to_take);
    b := least(pc.pending - a, to_lapse);
    c := least(pc.pending - a - b, to_short);
    to_take := to_take - a;
    to_lapse := to_lapse - b;
    to_short := to_short - c;
    UPDATE lot_pending_clawbacks SET pending = pending - a - b - c, clawed_back = clawed_back + a, lapsed = lapsed + b,
      shortfall = shortfall + c WHERE id = pc.id;
    IF a > 0 THEN
      -- The release gave the balance `a` back only if the lot counts towards it.
      IF spendable THEN
        balance_after := balance_after - a;
      END IF;
      INSERT INTO ledger_entries (workspace_id, kind, lot_id, remaining_delta, held_delta, amount, balance_after, at, operation_key)
      VALUES (ws, 'clawback', lot, -a, 0, CASE WHEN spendable THEN -a ELSE 0 END, balance_after, entry_at, pc.operation_key);
    END IF;
  END LOOP;
END $$;

-- ledger_end of 1732400000012_ledger_rules, plus what a hold's end owes a refund or a dispute: one more
-- column of the lot row it already reads (clawback_pending) decides whether pending clawbacks are settled
-- (ledger_settle_clawbacks, only then), and dispute_freeze_key whether the released part freezes.
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

-- Down Migration
-- Back to ledger_end and lot_spendable of 1732400000012_ledger_rules.
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
DROP FUNCTION ledger_settle_clawbacks(text, bigint, integer, integer, boolean, boolean, integer, timestamptz);
CREATE OR REPLACE FUNCTION lot_spendable(l lots, at timestamptz) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
  SELECT NOT l.frozen AND NOT lot_expired(l, at)
$$;
DROP TABLE lot_pending_clawbacks, invoice_clawbacks;
ALTER TABLE lots DROP COLUMN dispute_freeze_key;
ALTER TABLE lots DROP CONSTRAINT lots_clawback_pending_check;
ALTER TABLE lots DROP COLUMN clawback_pending;
