-- Up Migration
-- Refunds, credit notes and disputes (SPEC §10).

-- A credit note: money given back on a paid invoice, by an operator's refund, a refund made at the
-- provider (Stripe's dashboard) or a lost dispute. The row is written first as `pending` (the intent, under
-- the invoice's row lock so concurrent refunds never exceed what was paid), then the provider refund, the
-- customer balance credit and the clawback are applied, each idempotent under keys derived from
-- business_key, and the note is `issued`. A retry after a crash completes a pending note, never doubles it.
CREATE TABLE credit_notes (
  id                        text PRIMARY KEY,
  seq                       bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  invoice_id                text NOT NULL REFERENCES invoices(id),
  workspace_id              text NOT NULL REFERENCES workspaces(id),
  amount_cents              bigint NOT NULL CHECK (amount_cents > 0),
  refunded_to_card_cents    bigint NOT NULL CHECK (refunded_to_card_cents >= 0),
  credited_to_balance_cents bigint NOT NULL CHECK (credited_to_balance_cents >= 0),
  reason                    text NOT NULL,
  -- What the operator asked for (NULL: all that was left), to recognise the retry of a pending refund.
  requested_cents           bigint,
  credits_clawed_back       integer NOT NULL DEFAULT 0,
  shortfall                 integer NOT NULL DEFAULT 0,
  -- Credits still held when the note was issued, taken when their hold is released.
  credits_pending           integer NOT NULL DEFAULT 0,
  provider_refund_id        text,
  business_key              text NOT NULL UNIQUE,
  source                    text NOT NULL CHECK (source IN ('operator', 'provider', 'dispute_lost')),
  status                    text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'issued')),
  -- The workspace's time (its test clock's when it has one).
  created_at                timestamptz NOT NULL,
  CHECK (amount_cents = refunded_to_card_cents + credited_to_balance_cents)
);
CREATE INDEX credit_notes_by_invoice ON credit_notes(invoice_id, seq);
CREATE INDEX credit_notes_pending ON credit_notes(invoice_id) WHERE status = 'pending';

-- A dispute (chargeback) as the provider reports it; the id is the provider's (`dp_…`). The row is the
-- one place events of a dispute meet: each event locks it, so the freeze, the thaw and a lost dispute's
-- credit note happen once whatever the number, order or concurrency of events. A closed dispute stays
-- closed (a late `created` or `updated` changes nothing).
CREATE TABLE disputes (
  id           text PRIMARY KEY,
  invoice_id   text NOT NULL REFERENCES invoices(id),
  workspace_id text NOT NULL REFERENCES workspaces(id),
  -- The provider's status: warning_needs_response, needs_response, under_review, won, lost, warning_closed, …
  status       text NOT NULL,
  amount_cents bigint NOT NULL CHECK (amount_cents >= 0),
  opened_at    timestamptz NOT NULL,
  closed_at    timestamptz,
  outcome      text CHECK (outcome IN ('won', 'lost', 'warning_closed', 'prevented')),
  -- The provider event that last changed the row, and when (the provider's own timestamp, seconds).
  last_event_id      text NOT NULL,
  last_event_created bigint NOT NULL,
  CHECK ((outcome IS NULL) = (closed_at IS NULL))
);
CREATE INDEX disputes_by_invoice ON disputes(invoice_id, opened_at DESC);

-- The sandbox provider's own records (Stripe keeps these on its side): refunds by idempotency key, and
-- the disputes `pm_card_createDispute` opens until an operator closes them.
CREATE TABLE sandbox_refunds (
  id              text PRIMARY KEY,
  seq             bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  idempotency_key text NOT NULL UNIQUE,
  invoice_id      text NOT NULL,
  amount_cents    bigint NOT NULL CHECK (amount_cents > 0),
  reason          text,
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sandbox_refunds_by_invoice ON sandbox_refunds(invoice_id, seq);
CREATE TABLE sandbox_disputes (
  id           text PRIMARY KEY,
  invoice_id   text NOT NULL UNIQUE,
  workspace_id text NOT NULL,
  amount_cents bigint NOT NULL,
  status       text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now()
);

-- `dispute_opened` notifications. Added to whatever the kind check allows now (other migrations may have
-- added kinds of their own), not restated.
DO $$
DECLARE def text;
BEGIN
  SELECT pg_get_constraintdef(oid) INTO def FROM pg_constraint
   WHERE conrelid = 'notifications'::regclass AND conname = 'notifications_kind_check';
  ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
  EXECUTE format('ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check CHECK (kind = %L OR %s)',
                 'dispute_opened', substring(def FROM '^CHECK \((.*)\)$'));
END $$;

-- Down Migration
DELETE FROM notifications WHERE kind = 'dispute_opened';
DO $$
DECLARE def text;
BEGIN
  SELECT pg_get_constraintdef(oid) INTO def FROM pg_constraint
   WHERE conrelid = 'notifications'::regclass AND conname = 'notifications_kind_check';
  ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
  EXECUTE format('ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check CHECK (%s)',
                 replace(substring(def FROM '^CHECK \((.*)\)$'), $q$(kind = 'dispute_opened'::text) OR $q$, ''));
END $$;
DROP TABLE sandbox_disputes, sandbox_refunds, disputes, credit_notes;
