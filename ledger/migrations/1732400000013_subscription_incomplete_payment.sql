-- Up Migration

-- Why the first payment of a subscribe or a restart has not succeeded (SPEC §4): its outcome ('declined' or
-- 'requires_action'), decline code, invoice, hosted URL and when the attempt lapses. NULL when no first
-- payment is outstanding. Projection of the workflow's state, like pending_upgrade.
ALTER TABLE subscriptions ADD COLUMN incomplete_payment jsonb;

-- Down Migration
ALTER TABLE subscriptions DROP COLUMN incomplete_payment;
