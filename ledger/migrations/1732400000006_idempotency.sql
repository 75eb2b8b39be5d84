-- Up Migration

-- Responses to POST requests sent with an Idempotency-Key, replayed for retries of the same request.
CREATE TABLE idempotency_keys (
  key             text PRIMARY KEY,            -- <principal>:<method> <path>:<Idempotency-Key>
  request_hash    text NOT NULL,
  response_status integer,                     -- NULL while the first request is in flight
  response_body   text,
  created_at      timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE idempotency_keys;
