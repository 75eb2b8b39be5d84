import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { holdRestart, insertSubscription, projectSubscription, releaseRestart } from '../../ledger/subscriptions.js';
import { createWorkspace, newId } from '../../ledger/workspaces.js';
import { freshDatabase } from '../helpers/database.js';

/**
 * Migration 1732400000026: a canceled subscription whose restart waits for payment (`restarting`) holds the
 * workspace's one live-subscription slot (breaker finding lifecycle-restart-3ds-resubscribe). The mark and a
 * subscribe race on the unique index; the projection keeps and clears the mark; down and up again.
 */
describe('restart holds the live-subscription slot (migration 1732400000026)', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  beforeAll(async () => {
    db = await freshDatabase();
  });
  afterAll(async () => db?.drop());

  const at = new Date('2026-02-05T00:00:00Z');
  const period = { periodStart: at, periodEnd: new Date(at.getTime() + 30 * 86_400_000), clockTime: null };
  const projection = (subscriptionId: string, status: 'canceled' | 'active', incomplete: boolean) => ({
    subscriptionId, version: 10, plan: 'max', interval: 'month' as const, status, currentPeriodStart: at.getTime(),
    currentPeriodEnd: period.periodEnd.getTime(), cancelAtPeriodEnd: false, nextDueAt: null, scheduledChange: null, pause: null,
    pendingUpgrade: null, incompletePayment: incomplete
      ? { outcome: 'requires_action' as const, decline_code: null, invoice_id: 'in_x', hosted_url: null, expires_at: at.toISOString() }
      : null,
  });

  async function canceledSubscription() {
    const { id: workspaceId } = await createWorkspace(db.sql, { name: 'restart', testClockId: null });
    const id = newId('sub');
    expect(await insertSubscription(db.sql, { id, workspaceId, plan: 'max', interval: 'month', ...period })).toBe(true);
    await db.sql`UPDATE subscriptions SET status = 'canceled' WHERE id = ${id}`;
    return { id, workspaceId };
  }

  it('a restarting row refuses a subscribe; a subscribe that won refuses the restart; the projection clears the mark', async () => {
    const a = await canceledSubscription();
    expect(await holdRestart(db.sql, a.id)).toBe(true);
    expect(await insertSubscription(db.sql, { id: newId('sub'), workspaceId: a.workspaceId, plan: 'plus', interval: 'month', ...period })).toBe(false);
    await projectSubscription(db.sql, projection(a.id, 'canceled', true)); // the restart waits: still held
    expect(await insertSubscription(db.sql, { id: newId('sub'), workspaceId: a.workspaceId, plan: 'plus', interval: 'month', ...period })).toBe(false);
    await projectSubscription(db.sql, { ...projection(a.id, 'canceled', false), version: 11 }); // lapsed: released
    expect(await insertSubscription(db.sql, { id: newId('sub'), workspaceId: a.workspaceId, plan: 'plus', interval: 'month', ...period })).toBe(true);

    const b = await canceledSubscription();
    expect(await insertSubscription(db.sql, { id: newId('sub'), workspaceId: b.workspaceId, plan: 'plus', interval: 'month', ...period })).toBe(true);
    expect(await holdRestart(db.sql, b.id)).toBe(false);

    const c = await canceledSubscription();
    expect(await holdRestart(db.sql, c.id)).toBe(true);
    await releaseRestart(db.sql, c.id); // the workflow refused: nothing restarts
    expect(await insertSubscription(db.sql, { id: newId('sub'), workspaceId: c.workspaceId, plan: 'plus', interval: 'month', ...period })).toBe(true);
  });

  it('goes down to the index of before and up again', async () => {
    const dir = join(dirname(fileURLToPath(import.meta.url)), '../../ledger/migrations');
    const applied = (await db.sql<{ name: string }[]>`SELECT name FROM schema_migrations ORDER BY run_on DESC, id DESC`).map((r) => r.name);
    const count = applied.indexOf('1732400000026_restart_holds_live_slot') + 1;
    expect(count).toBeGreaterThan(0);
    const predicate = async () => (await db.sql<{ def: string }[]>`
      SELECT indexdef AS def FROM pg_indexes WHERE indexname = 'one_live_subscription_per_workspace'`)[0]!.def;
    await runner({ databaseUrl: db.url, dir, direction: 'down', migrationsTable: 'schema_migrations', count, log: () => {} });
    expect(await predicate()).not.toContain('restarting');
    await runner({ databaseUrl: db.url, dir, direction: 'up', migrationsTable: 'schema_migrations', log: () => {} });
    expect(await predicate()).toContain('restarting');
  });
});
