import type { Sql } from './db.js';

export type NotificationKind = 'low_balance' | 'lot_expiring' | 'payment_failed' | 'downgrade_applied' | 'dispute_opened';

/** Records a notification once per dedupe key (delivery as signed webhooks is the alerts issue). */
export async function recordNotification(
  sql: Sql,
  n: { workspaceId: string; kind: NotificationKind; dedupeKey: string; payload: Record<string, unknown>; at: Date },
): Promise<void> {
  await sql`
    INSERT INTO notifications (workspace_id, kind, dedupe_key, payload, at)
    VALUES (${n.workspaceId}, ${n.kind}, ${n.dedupeKey}, ${sql.json(n.payload as never)}, ${n.at})
    ON CONFLICT (dedupe_key) DO NOTHING`;
}
