import { randomBytes } from 'node:crypto';
import { LIVE_STATUSES } from '../domain/lifecycle/status.js';
import type { Sql } from './db.js';
import { lowBalanceThreshold, type Tx } from './operations.js';

export interface AlertSettings {
  /** What the workspace set; null means the default. */
  low_balance_threshold: number | null;
  /** The threshold in force: the workspace's, else 10% of its plan's monthly credits (null without a plan). */
  effective_low_balance_threshold: number | null;
  webhook_url: string | null;
  /** Only in the response that generated it (the first time a webhook URL is set): shown once. */
  signing_secret?: string;
}

export interface AlertSettingsChange {
  low_balance_threshold?: number | null;
  webhook_url?: string | null;
}

/** Days before a lot's expiry that its expiry alert is recorded. */
export const EXPIRY_NOTICE_DAYS = 7;

/**
 * Stores the fields present in `change` (null clears one) and returns the settings. The signing secret
 * is generated, under the workspace row's lock, the first time a webhook URL is set.
 */
export async function updateAlertSettings(sql: Sql, workspaceId: string, change: AlertSettingsChange): Promise<AlertSettings> {
  return (await sql.begin(async (tx) => {
    const [current] = await tx<{ secret: string | null }[]>`
      SELECT alert_webhook_secret AS secret FROM workspaces WHERE id = ${workspaceId} FOR UPDATE`;
    if (!current) throw new Error(`workspace ${workspaceId} not found`);
    const newSecret = change.webhook_url && current.secret === null ? `whsec_${randomBytes(32).toString('hex')}` : null;
    const [row] = await tx<SettingsRow[]>`
      UPDATE workspaces SET
        low_balance_threshold = ${change.low_balance_threshold !== undefined ? tx`${change.low_balance_threshold}::int` : tx`low_balance_threshold`},
        alert_webhook_url = ${change.webhook_url !== undefined ? tx`${change.webhook_url}::text` : tx`alert_webhook_url`},
        alert_webhook_secret = coalesce(alert_webhook_secret, ${newSecret}::text)
      WHERE id = ${workspaceId}
      RETURNING ${settingsColumns(tx)}`;
    return { ...present(row!), ...(newSecret ? { signing_secret: newSecret } : {}) };
  })) as AlertSettings;
}

export async function getAlertSettings(sql: Sql, workspaceId: string): Promise<AlertSettings> {
  const [row] = await sql<SettingsRow[]>`SELECT ${settingsColumns(sql)} FROM workspaces WHERE id = ${workspaceId}`;
  if (!row) throw new Error(`workspace ${workspaceId} not found`);
  return present(row);
}

interface SettingsRow {
  low_balance_threshold: number | null;
  alert_webhook_url: string | null;
  plan: string | null;
}

const settingsColumns = (sql: Sql | Tx) => sql`
  low_balance_threshold, alert_webhook_url,
  (SELECT s.plan FROM subscriptions s WHERE s.workspace_id = workspaces.id AND s.status IN ${sql(LIVE_STATUSES)} LIMIT 1) AS plan`;

function present(row: SettingsRow): AlertSettings {
  return {
    low_balance_threshold: row.low_balance_threshold,
    effective_low_balance_threshold: lowBalanceThreshold(row.low_balance_threshold, row.plan),
    webhook_url: row.alert_webhook_url,
  };
}

/**
 * Records a `lot_expiring` notification for every lot that still has available credits (unexpired, unfrozen,
 * not all held) and expires within the next 7 days of its workspace's time (its test clock's when it has
 * one); once per lot. Returns how many were recorded.
 */
export async function recordExpiringLots(sql: Sql): Promise<number> {
  const rows = await sql`
    WITH unannounced AS (
      SELECT l.id, l.workspace_id FROM lots l
      WHERE l.expires_at IS NOT NULL AND l.expired_at IS NULL
        AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.dedupe_key = 'lot_expiring:' || l.id)
    ), clocks AS MATERIALIZED (
      -- Materialized: workspace_now() once per workspace, not once per lot the join filter reads.
      SELECT w.workspace_id, workspace_now(w.workspace_id) AS now FROM (SELECT DISTINCT workspace_id FROM unannounced) w
    )
    INSERT INTO notifications (workspace_id, kind, dedupe_key, payload, at)
    SELECT l.workspace_id, 'lot_expiring', 'lot_expiring:' || l.id,
      jsonb_build_object('lot', 'lot_' || l.id, 'source', l.source, 'remaining', l.remaining, 'held', l.held,
                         'expiring_credits', lot_available(l, k.now),
                         'expires_at', ledger_iso(l.expires_at)),
      k.now
    FROM unannounced u JOIN clocks k ON k.workspace_id = u.workspace_id JOIN lots l ON l.id = u.id
    WHERE lot_available(l, k.now) > 0 AND l.expires_at <= k.now + make_interval(days => ${EXPIRY_NOTICE_DAYS})
    ORDER BY l.expires_at, l.id
    ON CONFLICT (dedupe_key) DO NOTHING
    RETURNING id`;
  return rows.length;
}
