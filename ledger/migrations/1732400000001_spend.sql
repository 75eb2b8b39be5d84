-- Up Migration

-- A quote prices one creation before it runs; it can start at most one creation.
CREATE TABLE quotes (
  id           text PRIMARY KEY,
  workspace_id text NOT NULL REFERENCES workspaces(id),
  request      jsonb NOT NULL,
  credits      integer NOT NULL CHECK (credits > 0),
  created_at   timestamptz NOT NULL,
  expires_at   timestamptz NOT NULL
);

CREATE TABLE creations (
  id           text PRIMARY KEY,
  -- Insertion order: breaks ties of created_at (a test clock's time does not move between creations).
  seq          bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  workspace_id text NOT NULL REFERENCES workspaces(id),
  quote_id     text NOT NULL UNIQUE REFERENCES quotes(id),
  status       text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'expired')),
  quoted       integer NOT NULL,
  reported     integer,          -- what the completion reported; charged is capped at quoted
  charged      integer,
  variance     integer,          -- reported - quoted when the report exceeded the quote
  created_at   timestamptz NOT NULL,
  hold_expires_at timestamptz NOT NULL,
  ended_at     timestamptz
);
CREATE INDEX creations_by_workspace ON creations(workspace_id, created_at DESC, seq DESC);
CREATE INDEX creations_running ON creations(hold_expires_at) WHERE status = 'running';

-- Which lots a creation's hold reserved from, and what was captured from each: the receipt.
CREATE TABLE hold_portions (
  creation_id text NOT NULL REFERENCES creations(id),
  lot_id      bigint NOT NULL REFERENCES lots(id),
  amount      integer NOT NULL CHECK (amount > 0),
  captured    integer NOT NULL DEFAULT 0,
  PRIMARY KEY (creation_id, lot_id)
);

-- Down Migration
DROP TABLE hold_portions, creations, quotes;
