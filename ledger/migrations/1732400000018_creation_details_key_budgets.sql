-- Up Migration
-- The shared schema of SPEC §11, laid down first so that the spend path, automatic top-ups, usage and
-- events (each in its own later migration) build on the same columns.

-- Creations remember what they were: the model for grouping (the full request — count, resolution,
-- duration_s — is its quote's, read through quote_id, not copied), the API key that made the hold (NULL:
-- made by an operator or a page), and the studio's own reference and metadata.
ALTER TABLE creations
  ADD COLUMN model       text,
  ADD COLUMN api_key_id  text,
  ADD COLUMN external_id text CHECK (external_id IS NULL OR length(external_id) BETWEEN 1 AND 200),
  ADD COLUMN metadata    jsonb NOT NULL DEFAULT '{}';
-- Creations made before this migration: their model is their quote's (every creation has one), so usage by
-- model and the billing page's chart read one column for old and new creations alike.
UPDATE creations c SET model = q.request->>'model' FROM quotes q WHERE q.id = c.quote_id;

-- Keys have names, so a team gives each producer or tool its own key; a key may carry a daily budget
-- (credits per UTC day of the workspace's time; NULL: none).
ALTER TABLE api_keys
  ADD COLUMN name               text CHECK (name IS NULL OR length(name) BETWEEN 1 AND 100),
  ADD COLUMN daily_credit_limit integer CHECK (daily_credit_limit IS NULL OR daily_credit_limit > 0);

-- The automatic top-up's hook in the spend path: ledger_hold calls it when it refuses a hold for want of
-- credits (cause 'refusal'), ledger_end after a capture (cause 'capture'), the expiry recorder after a lot
-- expires (cause 'expiry'); `available` is the workspace's available credits after that change, `cause_key`
-- the business key of the change (the trigger's idempotency key), `at` the workspace's time. It runs in the
-- caller's transaction, under the workspace lock. Its answer is merged into a refusal's detail (for example
-- {"top_up_pending": true}). A no-op here; the automatic top-up's migration replaces it.
CREATE FUNCTION ledger_auto_top_up_check(ws text, available integer, cause text, cause_key text, at timestamptz)
  RETURNS jsonb LANGUAGE sql STABLE AS $$ SELECT '{}'::jsonb $$;

-- Down Migration
DROP FUNCTION ledger_auto_top_up_check(text, integer, text, text, timestamptz);
ALTER TABLE api_keys DROP COLUMN daily_credit_limit, DROP COLUMN name;
ALTER TABLE creations DROP COLUMN metadata, DROP COLUMN external_id, DROP COLUMN api_key_id, DROP COLUMN model;
