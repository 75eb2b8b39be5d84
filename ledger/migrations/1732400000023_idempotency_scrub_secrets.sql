-- Up Migration

-- Issue 16, finding 6: stored idempotent answers are sealed from now on (api/idempotent-response-cipher.ts).
-- Answers stored in plaintext before that by the routes that answer with a secret (a new API key, a new
-- workspace's key, an operator key, a billing session's sign-in URL) lose their body: a retry of such a request
-- is answered 409 idempotent_secret_not_replayable instead of the secret. Other answers hold no secret and are
-- left as they are (they expire within 24 hours).
UPDATE idempotency_keys SET response_body = NULL
WHERE response_body IS NOT NULL AND response_body NOT LIKE 'enc:v1:%'
  AND (key LIKE '%:POST /v1/api-keys:%'
    OR key LIKE '%:POST /v1/workspaces:%'
    OR key LIKE '%:POST /v1/admin/operator-keys:%'
    OR key LIKE '%:POST /v1/billing-sessions:%');

-- Down Migration
-- Nothing to restore: the scrubbed bodies are gone by design.
SELECT 1;
