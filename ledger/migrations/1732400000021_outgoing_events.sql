-- Up Migration
-- Outgoing events (SPEC §11 "Events"): signed webhooks that report changes, besides the alerts of §6.
--
-- An event is a notification with an event id (`evt_…`), recorded in the transaction of the change it
-- reports (an outbox) by AFTER triggers on the tables that change, so no code path can change a row and
-- forget its event, and no event exists for a change that rolled back. Alerts and events share the table,
-- the signed delivery with retries, and the delivery log; GET /v1/notifications lists alerts only.
--
-- The body is serialized once, when the event's transaction commits, and sent byte for byte on every
-- attempt (automatic and manual); only the signature header's timestamp is fresh. Each event of a
-- workspace gets the next number of a gapless per-workspace `sequence`, assigned at commit by a deferred
-- trigger under the workspace's counter row: the counter is the last lock the transaction takes, held only
-- while it commits (no deadlock with the locks taken before it), and sequence order is commit order.

ALTER TABLE notifications
  -- NULL for alerts (their id is ntf_<id>); events: evt_<32 hex>.
  ADD COLUMN event_id       text UNIQUE,
  -- Events only: the workspace's gapless counter, and the exact body every attempt sends.
  ADD COLUMN sequence       bigint,
  ADD COLUMN body           text,
  -- Attempts written to the delivery log (automatic and manual): numbers each logged attempt.
  ADD COLUMN attempts_logged integer NOT NULL DEFAULT 0,
  ADD CONSTRAINT notifications_event_sequence_unique UNIQUE (workspace_id, sequence);
-- The delivery's ordering rule reads a workspace's events still waiting for their first attempt.
CREATE INDEX notifications_events_awaiting_first_attempt ON notifications(workspace_id, sequence)
  WHERE sequence IS NOT NULL AND delivery_attempts = 0 AND delivered_at IS NULL;

-- The event types a workspace subscribed to (like a Stripe webhook endpoint's enabled_events; '*' is every
-- type). Only those are recorded, so the sequence a receiver sees has no gaps; none by default, so a
-- workspace that only set up alerts keeps getting alerts only.
ALTER TABLE workspaces ADD COLUMN enabled_events text[] NOT NULL DEFAULT '{}';

-- Last sequence given per workspace. No foreign key: its check would lock the workspace row at commit.
CREATE TABLE workspace_event_sequences (
  workspace_id  text PRIMARY KEY,
  last_sequence bigint NOT NULL
);

-- Every attempt to deliver a notification (alert or event): the delivery log of GET /v1/webhook-deliveries.
CREATE TABLE webhook_deliveries (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  notification_id bigint NOT NULL REFERENCES notifications(id),
  workspace_id    text NOT NULL REFERENCES workspaces(id),
  -- 1, 2, …: this event's attempts in the order they were logged (automatic and manual together).
  attempt         integer NOT NULL CHECK (attempt > 0),
  trigger         text NOT NULL CHECK (trigger IN ('automatic', 'manual')),
  url             text NOT NULL,
  -- The receiver's HTTP status; NULL when no answer came (network error, timeout).
  status_code     integer,
  -- NULL when the receiver answered 2xx; else `HTTP <status>` or the network error.
  error           text,
  duration_ms     integer NOT NULL CHECK (duration_ms >= 0),
  -- Wall-clock time of the attempt (deliveries are about the receiver, not a test clock).
  at              timestamptz NOT NULL,
  UNIQUE (notification_id, attempt)
);
CREATE INDEX webhook_deliveries_by_workspace ON webhook_deliveries(workspace_id, id DESC);

-- The event kinds, added to whatever the kind check allows now (as 1732400000017 and 1732400000020).
DO $$
DECLARE
  def text;
  new_kind text;
BEGIN
  FOREACH new_kind IN ARRAY ARRAY['subscription.updated', 'invoice.paid', 'invoice.payment_failed', 'credits.granted',
                                  'credits.expired', 'credit_note.created', 'dispute.updated', 'top_up.succeeded', 'top_up.failed'] LOOP
    SELECT pg_get_constraintdef(oid) INTO def FROM pg_constraint
     WHERE conrelid = 'notifications'::regclass AND conname = 'notifications_kind_check';
    ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
    EXECUTE format('ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check CHECK (kind = %L OR %s)',
                   new_kind, substring(def FROM '^CHECK \((.*)\)$'));
  END LOOP;
END $$;

-- Records one event of workspace `ws` when the workspace subscribed to its type: `data` is the body's
-- `data` ({object, …}); created_at is the workspace's time (its test clock's when it has one). Sequence and
-- body are given at commit (below).
CREATE FUNCTION record_outgoing_event(ws text, event_type text, data jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  eid text := 'evt_' || replace(gen_random_uuid()::text, '-', '');
BEGIN
  IF NOT EXISTS (SELECT 1 FROM workspaces w WHERE w.id = ws AND (event_type = ANY (w.enabled_events) OR '*' = ANY (w.enabled_events))) THEN
    RETURN;
  END IF;
  INSERT INTO notifications (workspace_id, kind, dedupe_key, payload, at, event_id)
  VALUES (ws, event_type, 'event:' || eid, data, workspace_now(ws), eid);
END $$;

-- At commit: the next sequence of the event's workspace, and the body, serialized once.
CREATE FUNCTION sequence_outgoing_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  seq bigint;
BEGIN
  INSERT INTO workspace_event_sequences AS s (workspace_id, last_sequence) VALUES (NEW.workspace_id, 1)
  ON CONFLICT (workspace_id) DO UPDATE SET last_sequence = s.last_sequence + 1
  RETURNING s.last_sequence INTO seq;
  UPDATE notifications
     SET sequence = seq,
         body = format('{"id":%s,"type":%s,"created_at":%s,"sequence":%s,"data":%s}',
                       to_json(NEW.event_id), to_json(NEW.kind), to_json(ledger_iso(NEW.at)), seq, NEW.payload::text)
   WHERE id = NEW.id;
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER notifications_sequence_events AFTER INSERT ON notifications
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.event_id IS NOT NULL)
  EXECUTE FUNCTION sequence_outgoing_event();

-- ---- The changes that make events ------------------------------------------------------------------

-- credits.granted: every new lot (plan grants, upgrades, packs, positive adjustments). The spend path
-- never inserts lots.
CREATE FUNCTION event_credits_granted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM record_outgoing_event(NEW.workspace_id, 'credits.granted', jsonb_build_object('object', jsonb_build_object(
    'object', 'credit_grant', 'id', 'lot_' || NEW.id, 'lot', 'lot_' || NEW.id, 'source', NEW.source, 'credits', NEW.granted,
    'granted_at', ledger_iso(NEW.granted_at), 'expires_at', ledger_iso(NEW.expires_at), 'frozen', NEW.frozen)));
  RETURN NULL;
END $$;
CREATE TRIGGER lots_event_granted AFTER INSERT ON lots FOR EACH ROW EXECUTE FUNCTION event_credits_granted();

-- credits.expired: each journal entry that takes credits out of a lot at its expiry (or, `forfeited`, at
-- the end of a canceled plan's last period), including a held part that expires when its hold ends. The
-- WHEN clause keeps the spend path's many entries (hold, capture, release) off the trigger function.
CREATE FUNCTION event_credits_expired() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM record_outgoing_event(NEW.workspace_id, 'credits.expired', jsonb_build_object('object', jsonb_build_object(
    'object', 'credit_expiry', 'id', 'le_' || NEW.id, 'lot', 'lot_' || NEW.lot_id,
    'reason', CASE NEW.kind WHEN 'forfeit' THEN 'forfeited' ELSE 'expired' END,
    'credits', -NEW.remaining_delta, 'balance_change', NEW.amount, 'balance_after', NEW.balance_after,
    'expired_at', ledger_iso(NEW.at))));
  RETURN NULL;
END $$;
CREATE TRIGGER ledger_entries_event_expired AFTER INSERT ON ledger_entries
  FOR EACH ROW WHEN (NEW.kind IN ('expire', 'forfeit') AND NEW.remaining_delta < 0)
  EXECUTE FUNCTION event_credits_expired();

-- invoice.paid once (a paid invoice never goes back); invoice.payment_failed for every failed payment
-- attempt the charge records (status open with its error: a decline, or 3-D Secure required).
CREATE FUNCTION invoice_event_object(i invoices) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'object', 'invoice', 'id', i.id, 'number', i.number, 'kind', i.kind, 'status', i.status,
    'subscription_id', i.subscription_id, 'subtotal_cents', i.subtotal_cents, 'tax_cents', i.tax_cents,
    'total_cents', i.total_cents, 'balance_applied_cents', i.balance_applied_cents, 'amount_due_cents', i.amount_due_cents,
    'hosted_url', i.hosted_url, 'pdf_url', i.pdf_url, 'created_at', ledger_iso(i.created_at), 'paid_at', ledger_iso(i.paid_at),
    'last_payment_error', i.last_payment_error)
$$;
CREATE FUNCTION event_invoice() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM record_outgoing_event(NEW.workspace_id, TG_ARGV[0], jsonb_build_object('object', invoice_event_object(NEW)));
  RETURN NULL;
END $$;
CREATE TRIGGER invoices_event_paid_insert AFTER INSERT ON invoices
  FOR EACH ROW WHEN (NEW.status = 'paid') EXECUTE FUNCTION event_invoice('invoice.paid');
CREATE TRIGGER invoices_event_paid AFTER UPDATE OF status ON invoices
  FOR EACH ROW WHEN (OLD.status <> 'paid' AND NEW.status = 'paid') EXECUTE FUNCTION event_invoice('invoice.paid');
CREATE TRIGGER invoices_event_payment_failed AFTER UPDATE OF status, last_payment_error ON invoices
  FOR EACH ROW WHEN (NEW.status = 'open' AND NEW.last_payment_error IS NOT NULL)
  EXECUTE FUNCTION event_invoice('invoice.payment_failed');

-- credit_note.created when a credit note is issued (a pending one is an intent, not yet a credit note).
CREATE FUNCTION event_credit_note() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM record_outgoing_event(NEW.workspace_id, 'credit_note.created', jsonb_build_object('object', jsonb_build_object(
    'object', 'credit_note', 'id', NEW.id, 'invoice_id', NEW.invoice_id, 'amount_cents', NEW.amount_cents,
    'refunded_to_card_cents', NEW.refunded_to_card_cents, 'credited_to_balance_cents', NEW.credited_to_balance_cents,
    'reason', NEW.reason, 'source', NEW.source, 'credits_clawed_back', NEW.credits_clawed_back, 'shortfall', NEW.shortfall,
    'created_at', ledger_iso(NEW.created_at))));
  RETURN NULL;
END $$;
CREATE TRIGGER credit_notes_event_insert AFTER INSERT ON credit_notes
  FOR EACH ROW WHEN (NEW.status = 'issued') EXECUTE FUNCTION event_credit_note();
CREATE TRIGGER credit_notes_event_issued AFTER UPDATE OF status ON credit_notes
  FOR EACH ROW WHEN (OLD.status <> 'issued' AND NEW.status = 'issued') EXECUTE FUNCTION event_credit_note();

-- dispute.updated when a dispute opens and whenever its status, outcome or amount changes.
CREATE FUNCTION event_dispute() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM record_outgoing_event(NEW.workspace_id, 'dispute.updated', jsonb_build_object('object', jsonb_build_object(
    'object', 'dispute', 'id', NEW.id, 'invoice_id', NEW.invoice_id, 'status', NEW.status, 'outcome', NEW.outcome,
    'amount_cents', NEW.amount_cents, 'opened_at', ledger_iso(NEW.opened_at), 'closed_at', ledger_iso(NEW.closed_at))));
  RETURN NULL;
END $$;
CREATE TRIGGER disputes_event_insert AFTER INSERT ON disputes FOR EACH ROW EXECUTE FUNCTION event_dispute();
CREATE TRIGGER disputes_event_update AFTER UPDATE ON disputes
  FOR EACH ROW WHEN ((OLD.status, OLD.outcome, OLD.amount_cents) IS DISTINCT FROM (NEW.status, NEW.outcome, NEW.amount_cents))
  EXECUTE FUNCTION event_dispute();

-- subscription.updated when the projection of a subscription is created and whenever its status, plan,
-- interval, period or cancel_at_period_end changes (a rewrite of the same state makes none);
-- `previous_attributes` holds the changed fields' former values, as Stripe's events do.
CREATE FUNCTION subscription_event_object(s subscriptions) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'object', 'subscription', 'id', s.id, 'plan', s.plan, 'interval', s.interval, 'status', s.status,
    'current_period_start', ledger_iso(s.current_period_start), 'current_period_end', ledger_iso(s.current_period_end),
    'cancel_at_period_end', s.cancel_at_period_end)
$$;
CREATE FUNCTION event_subscription() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  now_object jsonb := subscription_event_object(NEW);
  previous jsonb;
BEGIN
  IF TG_OP = 'UPDATE' THEN
    SELECT coalesce(jsonb_object_agg(o.key, o.value), '{}') INTO previous
      FROM jsonb_each(subscription_event_object(OLD)) o
     WHERE o.value IS DISTINCT FROM now_object -> o.key;
  END IF;
  PERFORM record_outgoing_event(NEW.workspace_id, 'subscription.updated',
    jsonb_build_object('object', now_object) || CASE WHEN previous IS NULL THEN '{}'::jsonb
                                                      ELSE jsonb_build_object('previous_attributes', previous) END);
  RETURN NULL;
END $$;
CREATE TRIGGER subscriptions_event_insert AFTER INSERT ON subscriptions FOR EACH ROW EXECUTE FUNCTION event_subscription();
CREATE TRIGGER subscriptions_event_update AFTER UPDATE ON subscriptions
  FOR EACH ROW WHEN ((OLD.status, OLD.plan, OLD.interval, OLD.current_period_start, OLD.current_period_end, OLD.cancel_at_period_end)
                     IS DISTINCT FROM (NEW.status, NEW.plan, NEW.interval, NEW.current_period_start, NEW.current_period_end, NEW.cancel_at_period_end))
  EXECUTE FUNCTION event_subscription();

-- top_up.succeeded / top_up.failed when an automatic top-up (1732400000020) is paid or fails.
CREATE FUNCTION event_top_up() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM record_outgoing_event(NEW.workspace_id, CASE NEW.status WHEN 'paid' THEN 'top_up.succeeded' ELSE 'top_up.failed' END,
    jsonb_build_object('object', jsonb_build_object(
      'object', 'top_up', 'id', NEW.id, 'status', NEW.status, 'cause', NEW.cause, 'pack_credits', NEW.pack_credits,
      'amount_cents', NEW.amount_cents, 'invoice_id', NEW.invoice_id, 'failure_code', NEW.failure_code,
      'created_at', ledger_iso(NEW.created_at), 'updated_at', ledger_iso(NEW.updated_at))));
  RETURN NULL;
END $$;
CREATE TRIGGER auto_top_ups_event_insert AFTER INSERT ON auto_top_ups
  FOR EACH ROW WHEN (NEW.status IN ('paid', 'failed')) EXECUTE FUNCTION event_top_up();
CREATE TRIGGER auto_top_ups_event_update AFTER UPDATE OF status ON auto_top_ups
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status AND NEW.status IN ('paid', 'failed'))
  EXECUTE FUNCTION event_top_up();

-- Down Migration
DROP TRIGGER auto_top_ups_event_update ON auto_top_ups;
DROP TRIGGER auto_top_ups_event_insert ON auto_top_ups;
DROP FUNCTION event_top_up();
DROP TRIGGER subscriptions_event_update ON subscriptions;
DROP TRIGGER subscriptions_event_insert ON subscriptions;
DROP FUNCTION event_subscription();
DROP FUNCTION subscription_event_object(subscriptions);
DROP TRIGGER disputes_event_update ON disputes;
DROP TRIGGER disputes_event_insert ON disputes;
DROP FUNCTION event_dispute();
DROP TRIGGER credit_notes_event_issued ON credit_notes;
DROP TRIGGER credit_notes_event_insert ON credit_notes;
DROP FUNCTION event_credit_note();
DROP TRIGGER invoices_event_payment_failed ON invoices;
DROP TRIGGER invoices_event_paid ON invoices;
DROP TRIGGER invoices_event_paid_insert ON invoices;
DROP FUNCTION event_invoice();
DROP FUNCTION invoice_event_object(invoices);
DROP TRIGGER ledger_entries_event_expired ON ledger_entries;
DROP FUNCTION event_credits_expired();
DROP TRIGGER lots_event_granted ON lots;
DROP FUNCTION event_credits_granted();
DROP TRIGGER notifications_sequence_events ON notifications;
DROP FUNCTION sequence_outgoing_event();
DROP FUNCTION record_outgoing_event(text, text, jsonb);
DROP TABLE webhook_deliveries, workspace_event_sequences;
ALTER TABLE workspaces DROP COLUMN enabled_events;
DELETE FROM notifications WHERE event_id IS NOT NULL;
DO $$
DECLARE
  def text;
  old_kind text;
BEGIN
  FOREACH old_kind IN ARRAY ARRAY['top_up.failed', 'top_up.succeeded', 'dispute.updated', 'credit_note.created', 'credits.expired',
                                  'credits.granted', 'invoice.payment_failed', 'invoice.paid', 'subscription.updated'] LOOP
    SELECT pg_get_constraintdef(oid) INTO def FROM pg_constraint
     WHERE conrelid = 'notifications'::regclass AND conname = 'notifications_kind_check';
    ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
    EXECUTE format('ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check CHECK (%s)',
                   replace(substring(def FROM '^CHECK \((.*)\)$'), format('(kind = %L::text) OR ', old_kind), ''));
  END LOOP;
END $$;
DROP INDEX notifications_events_awaiting_first_attempt;
ALTER TABLE notifications DROP CONSTRAINT notifications_event_sequence_unique,
  DROP COLUMN attempts_logged, DROP COLUMN body, DROP COLUMN sequence, DROP COLUMN event_id;
