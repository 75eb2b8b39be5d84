-- Up Migration

-- Webhook inbox: every verified provider event, stored before it is acknowledged (so nothing
-- acknowledged is lost) and de-duplicated by the provider's event id. The forwarder applies each one
-- at least once; applying is idempotent.
CREATE TABLE webhook_events (
  id           text PRIMARY KEY,
  type         text NOT NULL,
  event        jsonb NOT NULL,
  received_at  timestamptz NOT NULL DEFAULT now(),
  forwarded_at timestamptz,
  attempts     integer NOT NULL DEFAULT 0,
  last_error   text
);
CREATE INDEX webhook_events_pending ON webhook_events(received_at) WHERE forwarded_at IS NULL;

-- The sandbox provider's outgoing events, delivered (signed like Stripe's) to our own webhook endpoint.
CREATE TABLE sandbox_outbox (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event_id     text NOT NULL UNIQUE,
  payload      jsonb NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  delivered_at timestamptz,
  attempts     integer NOT NULL DEFAULT 0
);
CREATE INDEX sandbox_outbox_pending ON sandbox_outbox(id) WHERE delivered_at IS NULL;

-- Down Migration
DROP TABLE sandbox_outbox, webhook_events;
