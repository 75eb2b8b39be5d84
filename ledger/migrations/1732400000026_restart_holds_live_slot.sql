-- Up Migration
-- A restart of a canceled subscription that waits for its payment (3-D Secure, a declined card) holds the
-- workspace's one live subscription slot (SPEC §4 Resume; breaker finding lifecycle-restart-3ds-resubscribe):
-- the row stays `canceled` in the view until the restart is paid, so the partial unique index must also count
-- a row marked `restarting`. The API marks the row before it asks the workflow to restart, so a concurrent
-- POST /v1/subscription and the restart race on this index, never on a read; the projection keeps the mark
-- while the restart waits and clears it when it is paid (active) or lapses.
ALTER TABLE subscriptions ADD COLUMN restarting boolean NOT NULL DEFAULT false;
DROP INDEX one_live_subscription_per_workspace;
CREATE UNIQUE INDEX one_live_subscription_per_workspace ON subscriptions(workspace_id) WHERE status <> 'canceled' OR restarting;

-- Down Migration
DROP INDEX one_live_subscription_per_workspace;
CREATE UNIQUE INDEX one_live_subscription_per_workspace ON subscriptions(workspace_id) WHERE status <> 'canceled';
ALTER TABLE subscriptions DROP COLUMN restarting;
