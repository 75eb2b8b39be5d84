import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sql } from '../../ledger/db.js';
import {
  currentSubscription, type IncompletePaymentView, insertSubscription, markSubscriptionStatus, projectSubscription,
  type SubscriptionProjection,
} from '../../ledger/subscriptions.js';
import { createWorkspace, newId } from '../../ledger/workspaces.js';
import { freshDatabase } from '../helpers/database.js';

/**
 * The subscription projection (what GET /v1/subscription reads) on real Postgres: the workflow's
 * incomplete_payment (SPEC §4: why the first payment has not succeeded, its invoice and deadline) is stored
 * and read back, cleared when the workflow publishes none, and a projection without the field means none.
 */
describe('subscription projection: incomplete_payment', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let sql: Sql;
  beforeAll(async () => {
    db = await freshDatabase();
    sql = db.sql;
  });
  afterAll(async () => {
    await db?.drop();
  });

  const start = Date.parse('2026-01-01T00:00:00Z');
  const end = Date.parse('2026-01-31T00:00:00Z');

  async function newSubscription(): Promise<{ workspaceId: string; subscriptionId: string }> {
    const { id: workspaceId } = await createWorkspace(sql, { name: 'projection', testClockId: null });
    const subscriptionId = newId('sub');
    await insertSubscription(sql, {
      id: subscriptionId, workspaceId, plan: 'plus', interval: 'month', periodStart: new Date(start), periodEnd: new Date(end), clockTime: null,
    });
    return { workspaceId, subscriptionId };
  }

  const projection = (subscriptionId: string, version: number, status: SubscriptionProjection['status']): SubscriptionProjection => ({
    subscriptionId, version, plan: 'plus', interval: 'month', status, currentPeriodStart: start, currentPeriodEnd: end,
    cancelAtPeriodEnd: false, nextDueAt: null, scheduledChange: null, pause: null, pendingUpgrade: null,
  });

  const declined: IncompletePaymentView = {
    outcome: 'declined', decline_code: 'card_declined', invoice_id: 'in_1', hosted_url: 'https://pay.example/in_1', expires_at: '2026-01-01T23:00:00.000Z',
  };

  it('is null on a new subscription', async () => {
    const { workspaceId } = await newSubscription();
    expect((await currentSubscription(sql, workspaceId))!.incomplete_payment).toBeNull();
  });

  it('stores what the workflow publishes, and clears it when the workflow publishes null', async () => {
    const { workspaceId, subscriptionId } = await newSubscription();
    await projectSubscription(sql, { ...projection(subscriptionId, 1, 'incomplete'), incompletePayment: declined });
    expect(await currentSubscription(sql, workspaceId)).toMatchObject({ status: 'incomplete', incomplete_payment: declined });

    const authenticate: IncompletePaymentView = { ...declined, outcome: 'requires_action', decline_code: null };
    await projectSubscription(sql, { ...projection(subscriptionId, 2, 'incomplete'), incompletePayment: authenticate });
    expect((await currentSubscription(sql, workspaceId))!.incomplete_payment).toEqual(authenticate);

    await projectSubscription(sql, { ...projection(subscriptionId, 3, 'active'), incompletePayment: null });
    expect(await currentSubscription(sql, workspaceId)).toMatchObject({ status: 'active', incomplete_payment: null });
  });

  it('a projection without the field (a workflow that does not publish it) means none', async () => {
    const { workspaceId, subscriptionId } = await newSubscription();
    await projectSubscription(sql, { ...projection(subscriptionId, 1, 'incomplete'), incompletePayment: declined });
    await projectSubscription(sql, projection(subscriptionId, 2, 'active'));
    expect((await currentSubscription(sql, workspaceId))!.incomplete_payment).toBeNull();
  });

  it('marking the status active ahead of the projection write (the first payment is paid) clears it; other statuses keep it', async () => {
    const { workspaceId, subscriptionId } = await newSubscription();
    await projectSubscription(sql, { ...projection(subscriptionId, 1, 'incomplete'), incompletePayment: declined });
    await markSubscriptionStatus(sql, subscriptionId, 'canceled');
    expect((await currentSubscription(sql, workspaceId))!.incomplete_payment).toEqual(declined);
    await markSubscriptionStatus(sql, subscriptionId, 'active');
    expect(await currentSubscription(sql, workspaceId)).toMatchObject({ status: 'active', incomplete_payment: null });
  });

  it('an older version never overwrites a newer one', async () => {
    const { workspaceId, subscriptionId } = await newSubscription();
    await projectSubscription(sql, { ...projection(subscriptionId, 2, 'active'), incompletePayment: null });
    await projectSubscription(sql, { ...projection(subscriptionId, 1, 'incomplete'), incompletePayment: declined });
    expect(await currentSubscription(sql, workspaceId)).toMatchObject({ status: 'active', incomplete_payment: null });
  });
});
