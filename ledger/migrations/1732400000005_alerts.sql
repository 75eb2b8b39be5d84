-- Up Migration

-- Where a workspace's notifications are delivered as signed webhooks (NULL: only listed), and the secret
-- that signs them (generated once, when a URL is first set; kept when the URL is removed or changed).
ALTER TABLE workspaces
  ADD COLUMN alert_webhook_url text,
  ADD COLUMN alert_webhook_secret text;

-- Delivery state of each notification: attempts so far, when the next one is due (NULL: at once, or never
-- again once attempts reach the maximum), and why the last one failed.
ALTER TABLE notifications
  ADD COLUMN delivery_attempts integer NOT NULL DEFAULT 0,
  ADD COLUMN next_attempt_at timestamptz,
  ADD COLUMN last_error text;
CREATE INDEX notifications_undelivered ON notifications(id) WHERE delivered_at IS NULL;

-- Insertion order of custom models: "newest first" must not depend on random ids when a test clock's
-- time (created_at) does not move between creations.
ALTER TABLE custom_models ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY;

-- Down Migration
ALTER TABLE custom_models DROP COLUMN seq;
DROP INDEX notifications_undelivered;
ALTER TABLE notifications DROP COLUMN delivery_attempts, DROP COLUMN next_attempt_at, DROP COLUMN last_error;
ALTER TABLE workspaces DROP COLUMN alert_webhook_url, DROP COLUMN alert_webhook_secret;
