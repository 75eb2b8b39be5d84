import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyPaymentEvent } from '../../api/webhooks/inbox.js';
import { createWorkspace, getWorkspace } from '../../ledger/workspaces.js';
import { createStripeProvider, type StripeProvider } from '../../payments/stripe.js';
import { signStripePayload } from '../../payments/webhooks.js';
import { freshDatabase } from '../helpers/database.js';
import { recordedStripeMock } from '../helpers/stripe-mock.js';

/**
 * Stripe mode: the card a customer enters on a setup-mode Checkout page becomes the default payment method
 * of their Stripe customer (off-session renewals are charged to it) and the workspace's card, when the
 * `checkout.session.completed` webhook is applied. The real SDK talks to stripe-mock through the recording
 * proxy; stripe-mock cannot hold a succeeded SetupIntent, so the proxy answers that one request.
 */
describe('checkout.session.completed saves the card (Stripe mode)', () => {
  const webhookSecret = 'whsec_checkout_card';
  const stripeMock = recordedStripeMock();
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let stripe: StripeProvider;
  /** Never dialled: signals go only to a past-due subscription, and these workspaces have none. */
  let temporal: Client;

  beforeAll(async () => {
    db = await freshDatabase();
    stripe = createStripeProvider({ secretKey: 'sk_test_checkoutcard', webhookSecret, apiBase: stripeMock.proxy.apiBase, publicUrl: 'https://credits.example.test' });
    temporal = new Client({ connection: Connection.lazy({ address: '127.0.0.1:1' }) });
  });
  afterAll(async () => db?.drop());
  const proxy = () => stripeMock.proxy;

  /** A workspace whose Stripe customer is `customerId`. */
  async function workspaceWithCustomer(customerId: string): Promise<string> {
    const { id } = await createWorkspace(db.sql, { name: 'Checkout', testClockId: null });
    await db.sql`UPDATE workspaces SET provider_customer_id = ${customerId} WHERE id = ${id}`;
    return id;
  }

  /** The event as Stripe would send it, through the provider's own signature check and mapping. */
  function completedSession(workspaceId: string, setupIntent: string) {
    const body = JSON.stringify({
      id: `evt_checkout_${workspaceId}`, object: 'event', type: 'checkout.session.completed', created: 1_767_225_600,
      data: { object: { id: 'cs_test_1', object: 'checkout.session', mode: 'setup', status: 'complete', setup_intent: setupIntent,
        metadata: { workspace_id: workspaceId } } },
    });
    return stripe.parseWebhook(body, signStripePayload(body, webhookSecret));
  }

  function answerSetupIntent(intent: { status: string; customer: string | null; payment_method: string | null }) {
    proxy().script = (request) => (request.method === 'GET' && request.path.startsWith('/v1/setup_intents/')
      ? { status: 200, body: { id: request.path.split('/')[3], object: 'setup_intent', usage: 'off_session', ...intent } }
      : undefined);
  }

  it('makes the SetupIntent\'s card the customer\'s default and the workspace\'s card, once however often the event comes', async () => {
    const workspaceId = await workspaceWithCustomer('cus_checkout_1');
    const event = completedSession(workspaceId, 'seti_card_1');
    expect(event).toMatchObject({ type: 'checkout.session.completed', workspaceId, setupIntentId: 'seti_card_1' });
    answerSetupIntent({ status: 'succeeded', customer: 'cus_checkout_1', payment_method: 'pm_saved_1' });

    await applyPaymentEvent({ sql: db.sql, temporal, stripe }, event);
    await applyPaymentEvent({ sql: db.sql, temporal, stripe }, event);

    expect((await getWorkspace(db.sql, workspaceId))?.payment_method).toBe('pm_saved_1');
    const writes = proxy().requests.filter((r) => r.method === 'POST');
    expect(writes.map(({ path, idempotencyKey, params }) => ({ path, idempotencyKey, params }))).toEqual([1, 2].map(() => ({
      path: '/v1/customers/cus_checkout_1',
      idempotencyKey: 'default-payment-method:cus_checkout_1:pm_saved_1', // the same key: Stripe applies it once
      params: { 'invoice_settings[default_payment_method]': 'pm_saved_1' },
    })));
    expect(writes.every((r) => r.status === 200)).toBe(true);
    expect(proxy().requests.filter((r) => r.method === 'GET').map((r) => r.path)).toEqual(['/v1/setup_intents/seti_card_1', '/v1/setup_intents/seti_card_1']);
  });

  it('changes nothing for a SetupIntent that has not succeeded, or whose customer is another workspace\'s', async () => {
    const workspaceId = await workspaceWithCustomer('cus_checkout_2');
    // Not succeeded although it names a card: the status alone must stop it.
    answerSetupIntent({ status: 'requires_action', customer: 'cus_checkout_2', payment_method: 'pm_pending' });
    await applyPaymentEvent({ sql: db.sql, temporal, stripe }, completedSession(workspaceId, 'seti_pending'));
    answerSetupIntent({ status: 'succeeded', customer: 'cus_someone_else', payment_method: 'pm_not_ours' });
    await applyPaymentEvent({ sql: db.sql, temporal, stripe }, completedSession(workspaceId, 'seti_foreign'));

    expect((await getWorkspace(db.sql, workspaceId))?.payment_method).toBeNull();
    expect(proxy().requests.filter((r) => r.method === 'POST')).toEqual([]);
    // Both SetupIntents were asked about: refused on what Stripe said, not skipped.
    expect(proxy().requests.filter((r) => r.method === 'GET').map((r) => r.path)).toEqual(['/v1/setup_intents/seti_pending', '/v1/setup_intents/seti_foreign']);
  });

  it('reads the SetupIntent from stripe-mock itself: an intent without a card saves nothing', async () => {
    // stripe-mock's fixture has no succeeded card: the real SDK round trip, and the provider's refusal to guess.
    expect(await stripe.savedCard('seti_fixture')).toBeNull();
    expect(proxy().requests.map((r) => [r.method, r.path, r.status])).toEqual([['GET', '/v1/setup_intents/seti_fixture', 200]]);
  });
});
