-- Up Migration

-- Workspaces carry the studio's own id for them (external_id, unique when set, so its app can find the
-- workspace of its logged-in user) and free-form metadata (string → string; the API enforces Stripe's
-- limits: ≤ 50 keys, key ≤ 40 characters, value ≤ 500). SPEC §10, issue 12.
ALTER TABLE workspaces
  ADD COLUMN external_id text,
  ADD COLUMN metadata jsonb NOT NULL DEFAULT '{}';
CREATE UNIQUE INDEX workspaces_by_external_id ON workspaces(external_id) WHERE external_id IS NOT NULL;

-- Who issues the invoices: one row, written by the API at start from its configuration (SELLER_NAME,
-- SELLER_ADDRESS, SELLER_TAX_ID, INVOICE_NUMBER_PREFIX). The row lives here, not only in the API's memory,
-- because the worker finalizes invoices too: both number them with the same prefix. The defaults are
-- runtime/config.ts's.
CREATE TABLE seller_settings (
  singleton             boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  name                  text NOT NULL,
  address               text NOT NULL,
  tax_id                text NOT NULL,
  invoice_number_prefix text NOT NULL CHECK (invoice_number_prefix ~ '^[A-Z0-9]{1,12}$'),
  updated_at            timestamptz NOT NULL DEFAULT now()
);
INSERT INTO seller_settings (name, address, tax_id, invoice_number_prefix)
VALUES ('Credit Engine Studio, Inc.', E'548 Market Street\nSan Francisco, CA 94104\nUnited States', 'US EIN 00-0000000', 'CE');

-- Human invoice numbers, e.g. CE-2026-000123: one counter per prefix (seller) and year of the invoice's
-- created_at. A number is taken by an upsert that locks the counter row until the finalizing transaction
-- ends, so concurrent finalizations wait for each other: no number is used twice, and a rolled-back
-- transaction gives its number back (no gaps).
CREATE TABLE invoice_number_sequences (
  prefix      text   NOT NULL,
  year        int    NOT NULL,
  last_number bigint NOT NULL CHECK (last_number > 0),
  PRIMARY KEY (prefix, year)
);

-- number: set once, when the invoice is finalized (leaves draft for open or paid), as Stripe does; a
-- finalized invoice that is voided keeps it; a draft voided before finalization never gets one.
-- seller: the seller's identity as it was at finalization, so a filed invoice never changes.
ALTER TABLE invoices
  ADD COLUMN number text UNIQUE,
  ADD COLUMN seller jsonb;

CREATE FUNCTION next_invoice_number(p_prefix text, p_at timestamptz) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  y int := extract(year FROM p_at AT TIME ZONE 'UTC')::int;
  n bigint;
BEGIN
  INSERT INTO invoice_number_sequences AS s (prefix, year, last_number) VALUES (p_prefix, y, 1)
  ON CONFLICT (prefix, year) DO UPDATE SET last_number = s.last_number + 1
  RETURNING s.last_number INTO n;
  RETURN p_prefix || '-' || y || '-' || lpad(n::text, greatest(6, length(n::text)), '0');
END $$;

-- Invoices already issued get their numbers in the order they were created.
DO $$
DECLARE
  r record;
  s seller_settings;
BEGIN
  SELECT * INTO s FROM seller_settings;
  FOR r IN
    SELECT id, created_at FROM invoices
    WHERE status IN ('open', 'paid')
       OR (status = 'void' AND (last_payment_error IS NOT NULL OR hosted_url IS NOT NULL))
    ORDER BY created_at, seq
  LOOP
    UPDATE invoices SET number = next_invoice_number(s.invoice_number_prefix, r.created_at),
                        seller = jsonb_build_object('name', s.name, 'address', s.address, 'tax_id', s.tax_id)
    WHERE id = r.id;
  END LOOP;
END $$;

-- Numbers every invoice as it is finalized, in the finalizing statement's transaction, whichever process
-- (API or worker) and code path finalizes it.
CREATE FUNCTION number_invoice_at_finalization() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  s seller_settings;
BEGIN
  IF NEW.number IS NULL AND NEW.status IN ('open', 'paid') THEN
    SELECT * INTO s FROM seller_settings;
    NEW.number := next_invoice_number(coalesce(s.invoice_number_prefix, 'CE'), NEW.created_at);
    NEW.seller := jsonb_build_object('name', s.name, 'address', s.address, 'tax_id', s.tax_id);
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER invoices_numbered_at_finalization BEFORE INSERT OR UPDATE OF status ON invoices
  FOR EACH ROW EXECUTE FUNCTION number_invoice_at_finalization();

-- Browser sessions of the pages (/billing, and /admin with an operator principal): the cookie holds a
-- random id; only its SHA-256 is stored. No API key is kept anywhere. csrf_secret keys the HMAC that makes
-- each form's token. signed_in_with: the API key id (its revocation ends the session), the billing session
-- id (a single-use URL), or the operator key id. Expiry is real time, never a test clock's.
CREATE TABLE browser_sessions (
  id_hash        text PRIMARY KEY,
  principal_kind text NOT NULL CHECK (principal_kind IN ('workspace', 'operator')),
  principal_id   text NOT NULL,
  signed_in_with text NOT NULL,
  csrf_secret    text NOT NULL,
  -- Where the pages' "back" link leads (a billing session's return_url), if anywhere.
  return_url     text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  expires_at     timestamptz NOT NULL
);
CREATE INDEX browser_sessions_by_expiry ON browser_sessions(expires_at);
CREATE INDEX browser_sessions_by_principal ON browser_sessions(principal_kind, principal_id);

-- Billing sessions (like Stripe's Billing Portal sessions): a single-use URL that signs a customer into
-- /billing. The URL's token (≥ 128 random bits) is stored only as its SHA-256; used_at is set by the one
-- UPDATE that consumes it. Expiry is real time.
CREATE TABLE billing_sessions (
  id           text PRIMARY KEY,
  token_hash   text NOT NULL UNIQUE,
  workspace_id text NOT NULL REFERENCES workspaces(id),
  return_url   text,
  -- 'workspace' (its own key) or 'operator'.
  created_by   text NOT NULL CHECK (created_by IN ('workspace', 'operator')),
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL,
  used_at      timestamptz
);
CREATE INDEX billing_sessions_by_workspace ON billing_sessions(workspace_id, created_at DESC);

-- Down Migration
DROP TABLE billing_sessions;
DROP TABLE browser_sessions;
DROP TRIGGER invoices_numbered_at_finalization ON invoices;
DROP FUNCTION number_invoice_at_finalization();
DROP FUNCTION next_invoice_number(text, timestamptz);
ALTER TABLE invoices DROP COLUMN seller, DROP COLUMN number;
DROP TABLE invoice_number_sequences;
DROP TABLE seller_settings;
DROP INDEX workspaces_by_external_id;
ALTER TABLE workspaces DROP COLUMN metadata, DROP COLUMN external_id;
