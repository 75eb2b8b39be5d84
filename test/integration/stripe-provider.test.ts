import Stripe from 'stripe';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PROVIDER_INVALID_REQUEST } from '../../payments/provider-errors.js';
import type { ChargeRequest } from '../../payments/provider.js';
import { createStripeProvider, STRIPE_API_VERSION, type StripeProvider } from '../../payments/stripe.js';
import { startRecordingProxy, startStripeMock, type RecordedRequest, type RecordingProxy, type StripeMock } from '../helpers/stripe-mock.js';

/**
 * Contract tests of the Stripe provider: the real SDK sends real HTTP to stripe-mock, which validates
 * every request against Stripe's OpenAPI spec and rejects unknown or malformed parameters. A recording
 * proxy between them keeps what went over the wire. stripe-mock is stateless (it answers with fixtures),
 * so the assertions are on what we sent and on the shapes we got back, not on stored state.
 */
describe('Stripe provider against stripe-mock', () => {
  const publicUrl = 'https://credits.example.test';
  const webhookSecret = 'whsec_contract_test';
  let mock: StripeMock;
  let proxy: RecordingProxy;
  let provider: StripeProvider;
  /** Every request of the file, for the cross-cutting idempotency assertion. */
  const everything: RecordedRequest[] = [];

  beforeAll(async () => {
    mock = await startStripeMock();
    proxy = await startRecordingProxy(mock.apiBase);
    provider = createStripeProvider({ secretKey: 'sk_test_contract', webhookSecret, apiBase: proxy.apiBase, publicUrl });
  });
  afterAll(async () => {
    await proxy?.stop();
    await mock?.stop();
  });
  beforeEach(() => {
    everything.push(...(proxy?.requests ?? []));
    if (proxy) {
      proxy.requests.length = 0;
      proxy.script = undefined;
    }
  });

  /** What was sent, without the status, for comparing two runs. */
  const sent = (requests: RecordedRequest[]) => requests.map(({ method, path, idempotencyKey, params }) => ({ method, path, idempotencyKey, params }));
  const posts = () => proxy.requests.filter((request) => request.method === 'POST');

  const chargeRequest = (overrides: Partial<ChargeRequest> = {}): ChargeRequest => ({
    invoiceId: 'in_ours_01',
    idempotencyKey: 'sub_01:1740787200:period:3:subscription',
    attempt: 0,
    providerInvoiceId: null,
    workspaceId: 'ws_01',
    subscriptionId: 'sub_01',
    customerId: 'cus_contract',
    paymentMethod: null,
    lines: [
      { description: 'Pro plan (monthly), Mar 1 – Apr 1', amount_cents: 4900 },
      { description: 'Unused time on Plus plan after Mar 12', amount_cents: -1733 },
    ],
    amountDueCents: 3167,
    description: 'Pro plan (monthly), Mar 1 – Apr 1; Unused time on Plus plan after Mar 12',
    ...overrides,
  });

  it('creates the customer once per workspace, with its workspace id', async () => {
    const first = await provider.ensureCustomer({ workspaceId: 'ws_01', name: 'Acme', email: 'billing@acme.test' });
    expect(first.customerId).toMatch(/^cus_/);
    const second = await provider.ensureCustomer({ workspaceId: 'ws_01', name: 'Acme', email: 'billing@acme.test' });
    expect(second.customerId).toMatch(/^cus_/);

    expect(proxy.requests.map((r) => r.status)).toEqual([200, 200]);
    const [create, replay] = sent(proxy.requests);
    expect(create).toEqual({
      method: 'POST',
      path: '/v1/customers',
      idempotencyKey: 'customer:ws_01',
      params: { name: 'Acme', email: 'billing@acme.test', 'metadata[workspace_id]': 'ws_01' },
    });
    expect(replay).toEqual(create);
    expect(proxy.requests.every((r) => r.stripeVersion === STRIPE_API_VERSION)).toBe(true);
  });

  it('opens a Checkout session in setup mode that collects the billing address', async () => {
    const session = await provider.createSetupSession({
      customerId: 'cus_contract',
      workspaceId: 'ws_01',
      requestId: 'req_7',
      successUrl: `${publicUrl}/pricing?setup=done`,
      cancelUrl: `${publicUrl}/pricing`,
    });
    expect(session.url).toMatch(/^https:\/\//);
    expect(session.sessionId).toMatch(/^cs_/);
    expect(sent(proxy.requests)).toEqual([
      {
        method: 'POST',
        path: '/v1/checkout/sessions',
        idempotencyKey: 'setup-session:ws_01:req_7',
        params: {
          mode: 'setup',
          customer: 'cus_contract',
          currency: 'usd',
          success_url: `${publicUrl}/pricing?setup=done`,
          cancel_url: `${publicUrl}/pricing`,
          billing_address_collection: 'required',
          'customer_update[address]': 'auto',
          'customer_update[name]': 'auto',
          client_reference_id: 'ws_01',
          'metadata[workspace_id]': 'ws_01',
          'setup_intent_data[metadata][workspace_id]': 'ws_01',
        },
      },
    ]);
  });

  it('makes a saved payment method the default for invoices', async () => {
    await provider.setDefaultPaymentMethod({ customerId: 'cus_contract', paymentMethodId: 'pm_card_visa' });
    expect(sent(proxy.requests)).toEqual([
      {
        method: 'POST',
        path: '/v1/customers/cus_contract',
        idempotencyKey: 'default-payment-method:cus_contract:pm_card_visa',
        params: { 'invoice_settings[default_payment_method]': 'pm_card_visa' },
      },
    ]);
  });

  it('charges an invoice: one item per readable line (proration credit included), automatic tax, our metadata, paid off-session', async () => {
    const outcome = await provider.charge(chargeRequest());
    expect(outcome.status).toBe('paid');
    expect(outcome.providerInvoiceId).toMatch(/^in_/);
    const stripeInvoice = outcome.providerInvoiceId!;
    const key = 'sub_01:1740787200:period:3:subscription';

    expect(proxy.requests.every((r) => r.status === 200)).toBe(true);
    expect(sent(proxy.requests)).toEqual([
      {
        method: 'POST',
        path: '/v1/invoices',
        idempotencyKey: `${key}:invoice`,
        params: {
          customer: 'cus_contract',
          currency: 'usd',
          collection_method: 'charge_automatically',
          auto_advance: 'false',
          'automatic_tax[enabled]': 'true',
          pending_invoice_items_behavior: 'exclude',
          description: 'Pro plan (monthly), Mar 1 – Apr 1; Unused time on Plus plan after Mar 12',
          'metadata[invoice_id]': 'in_ours_01',
          'metadata[workspace_id]': 'ws_01',
          'metadata[subscription_id]': 'sub_01',
        },
      },
      {
        method: 'POST',
        path: '/v1/invoiceitems',
        idempotencyKey: `${key}:item:0`,
        params: {
          customer: 'cus_contract',
          invoice: stripeInvoice,
          amount: '4900',
          currency: 'usd',
          description: 'Pro plan (monthly), Mar 1 – Apr 1',
          'metadata[invoice_id]': 'in_ours_01',
        },
      },
      {
        method: 'POST',
        path: '/v1/invoiceitems',
        idempotencyKey: `${key}:item:1`,
        params: {
          customer: 'cus_contract',
          invoice: stripeInvoice,
          amount: '-1733',
          currency: 'usd',
          description: 'Unused time on Plus plan after Mar 12',
          'metadata[invoice_id]': 'in_ours_01',
        },
      },
      { method: 'POST', path: `/v1/invoices/${stripeInvoice}/finalize`, idempotencyKey: `${key}:finalize`, params: {} },
      { method: 'POST', path: `/v1/invoices/${stripeInvoice}/pay`, idempotencyKey: `${key}:pay`, params: { off_session: 'true' } },
    ]);
  });

  it('derives every key of a charge from its business key: a replay sends the same writes, a retry pays the same invoice again', async () => {
    // stripe-mock does not store idempotent responses (Stripe would answer the replay with the same invoice),
    // so its fresh fixture ids are normalised before comparing what was sent.
    const withoutStripeIds = (invoiceId: string | undefined) =>
      JSON.parse(JSON.stringify(sent(proxy.requests)).replaceAll(invoiceId ?? '-', '<stripe invoice>')) as unknown;
    const first = await provider.charge(chargeRequest());
    const firstRun = withoutStripeIds(first.providerInvoiceId);
    proxy.requests.length = 0;
    const replay = await provider.charge(chargeRequest());
    expect(replay.status).toBe(first.status);
    expect(proxy.requests.every((r) => r.status === 200)).toBe(true); // stripe-mock accepts the replayed keys
    expect(withoutStripeIds(replay.providerInvoiceId)).toEqual(firstRun);
    expect(firstRun).toEqual(expect.arrayContaining([expect.objectContaining({ path: '/v1/invoices/<stripe invoice>/pay' })]));

    // A dunning retry (days later, when Stripe has forgotten the keys) pays the first attempt's invoice with
    // a key of its own: no second invoice, no second item, nothing finalized again.
    proxy.requests.length = 0;
    proxy.script = (request) => (request.method === 'GET' && request.path === '/v1/invoices/in_first_attempt'
      ? { status: 200, body: { id: 'in_first_attempt', object: 'invoice', status: 'open', metadata: {},
          hosted_invoice_url: 'https://invoice.stripe.com/i/in_first_attempt', invoice_pdf: 'https://pay.stripe.com/invoice/in_first_attempt/pdf' } }
      : undefined);
    const retry = await provider.charge(chargeRequest({ attempt: 1, providerInvoiceId: 'in_first_attempt' }));
    expect(retry).toMatchObject({ status: 'paid', providerInvoiceId: 'in_first_attempt' });
    expect(proxy.requests.map((r) => [r.method, r.path, r.idempotencyKey])).toEqual([
      ['GET', '/v1/invoices/in_first_attempt', undefined],
      ['POST', '/v1/invoices/in_first_attempt/pay', 'sub_01:1740787200:period:3:subscription:pay:retry:1'],
    ]);
  });

  it('leaves subscription_id out of the metadata of a charge without a subscription', async () => {
    await provider.charge(chargeRequest({ subscriptionId: null, idempotencyKey: 'ws_01:pack:p_9' }));
    const [invoice] = posts();
    expect(invoice?.path).toBe('/v1/invoices');
    expect(invoice?.params).toMatchObject({ 'metadata[invoice_id]': 'in_ours_01', 'metadata[workspace_id]': 'ws_01' });
    expect(invoice?.params).not.toHaveProperty('metadata[subscription_id]');
  });

  it('declines without calling Stripe when the workspace has no customer', async () => {
    expect(await provider.charge(chargeRequest({ customerId: null }))).toEqual({ status: 'declined', code: 'no_payment_method' });
    expect(await provider.charge(chargeRequest({ customerId: null, amountDueCents: 0 }))).toEqual({ status: 'paid' });
    expect(proxy.requests).toEqual([]);
  });

  describe('payment outcomes stripe-mock cannot produce (scripted by the proxy, parsed by the real SDK)', () => {
    const finalizedOpen = (id: string) => ({
      id,
      object: 'invoice',
      status: 'open',
      hosted_invoice_url: `https://invoice.stripe.com/i/${id}`,
      invoice_pdf: `https://pay.stripe.com/invoice/${id}/pdf`,
      metadata: {},
    });
    const invoiceIdOf = (path: string) => path.split('/')[3]!;

    it('maps a card decline on pay to declined with its code, keeping the invoice links', async () => {
      proxy.script = (request) => {
        if (request.path.endsWith('/finalize')) return { status: 200, body: finalizedOpen(invoiceIdOf(request.path)) };
        if (request.path.endsWith('/pay'))
          return { status: 402, body: { error: { type: 'card_error', code: 'card_declined', decline_code: 'insufficient_funds', message: 'Your card has insufficient funds.' } } };
        return undefined;
      };
      const outcome = await provider.charge(chargeRequest());
      expect(outcome).toMatchObject({ status: 'declined', code: 'card_declined' });
      expect(outcome.providerInvoiceId).toMatch(/^in_/);
      expect(outcome.hostedUrl).toBe(`https://invoice.stripe.com/i/${outcome.providerInvoiceId}`);
      expect(outcome.pdfUrl).toBe(`https://pay.stripe.com/invoice/${outcome.providerInvoiceId}/pdf`);
      expect(posts().at(-1)?.path).toMatch(/\/pay$/);
      expect(posts().filter((r) => r.path.endsWith('/pay'))).toHaveLength(1); // a 402 is not retried by the SDK
    });

    it('maps an authentication requirement on pay to requires_action with the hosted invoice URL', async () => {
      proxy.script = (request) => {
        if (request.path.endsWith('/finalize')) return { status: 200, body: finalizedOpen(invoiceIdOf(request.path)) };
        if (request.path.endsWith('/pay'))
          return { status: 402, body: { error: { type: 'card_error', code: 'invoice_payment_intent_requires_action', message: 'This payment requires additional user action.' } } };
        return undefined;
      };
      const outcome = await provider.charge(chargeRequest());
      expect(outcome).toMatchObject({ status: 'requires_action', hostedUrl: `https://invoice.stripe.com/i/${outcome.providerInvoiceId}` });
    });

    it('maps a payment intent in requires_action (authentication_required decline) to requires_action too', async () => {
      proxy.script = (request) => {
        if (request.path.endsWith('/finalize')) return { status: 200, body: finalizedOpen(invoiceIdOf(request.path)) };
        if (request.path.endsWith('/pay'))
          return {
            status: 402,
            body: {
              error: {
                type: 'card_error', code: 'card_declined', decline_code: 'authentication_required', message: 'Authentication required.',
                payment_intent: { id: 'pi_123', object: 'payment_intent', status: 'requires_action' },
              },
            },
          };
        return undefined;
      };
      expect(await provider.charge(chargeRequest())).toMatchObject({ status: 'requires_action' });
    });

    it('does not pay an invoice that finalization already settled (e.g. covered by the customer balance)', async () => {
      proxy.script = (request) =>
        request.path.endsWith('/finalize') ? { status: 200, body: { ...finalizedOpen(invoiceIdOf(request.path)), status: 'paid' } } : undefined;
      const outcome = await provider.charge(chargeRequest());
      expect(outcome).toMatchObject({ status: 'paid', pdfUrl: `https://pay.stripe.com/invoice/${outcome.providerInvoiceId}/pdf` });
      expect(posts().map((r) => r.path.split('/').at(-1))).toEqual(['invoices', 'invoiceitems', 'invoiceitems', 'finalize']);
    });

    it('throws a plain error (for the activity to retry with the same keys) on a transient error that is not a payment outcome', async () => {
      proxy.script = (request) =>
        request.path.endsWith('/pay') ? { status: 500, body: { error: { type: 'api_error', message: 'An unknown error occurred' } } } : undefined;
      await expect(provider.charge(chargeRequest())).rejects.toBeInstanceOf(Stripe.errors.StripeAPIError);
    });

    it('fails permanently (non-retryable provider_invalid_request) when Stripe refuses to pay an invoice it still holds open', async () => {
      proxy.script = (request) => {
        if (request.path.endsWith('/pay')) return { status: 400, body: { error: { type: 'invalid_request_error', message: 'Invoice is not open.' } } };
        if (request.method === 'GET') return { status: 200, body: { id: 'in_stripe_open', object: 'invoice', status: 'open', metadata: {} } };
        return undefined;
      };
      await expect(provider.charge(chargeRequest())).rejects.toMatchObject({ type: PROVIDER_INVALID_REQUEST, nonRetryable: true, message: 'Invoice is not open.' });
    });

    it('reports paid when Stripe refuses to pay an invoice the customer paid meanwhile', async () => {
      proxy.script = (request) => {
        if (request.path.endsWith('/pay')) return { status: 400, body: { error: { type: 'invalid_request_error', message: 'Invoice is already paid.' } } };
        if (request.method === 'GET') return { status: 200, body: { id: 'in_stripe_paid', object: 'invoice', status: 'paid', metadata: {} } };
        return undefined;
      };
      expect(await provider.charge(chargeRequest())).toMatchObject({ status: 'paid' });
    });
  });

  it('voids an invoice with the caller’s key', async () => {
    const result = await provider.voidInvoice({ invoiceId: 'in_ours_01', providerInvoiceId: 'in_stripe_9', idempotencyKey: 'in_ours_01:void' });
    expect(typeof result.status).toBe('string');
    expect(sent(proxy.requests)).toEqual([{ method: 'POST', path: '/v1/invoices/in_stripe_9/void', idempotencyKey: 'in_ours_01:void', params: {} }]);
  });

  describe('refunds (SPEC §10)', () => {
    const refundRequest = { invoiceId: 'in_ours_01', workspaceId: 'ws_01', providerInvoiceId: 'in_stripe_9', amountCents: 500,
      idempotencyKey: 'in_ours_01:refund:1', reason: 'the pack did not work' };
    /** The invoice's payment, as Stripe lists it (stripe-mock's fixture names no PaymentIntent). */
    const paidByIntent = (request: { method: string; path: string }) => (request.method === 'GET' && request.path === '/v1/invoice_payments'
      ? { status: 200, body: { object: 'list', url: '/v1/invoice_payments', has_more: false,
        data: [{ id: 'inpay_1', object: 'invoice_payment', invoice: 'in_stripe_9', status: 'paid', amount_paid: 1000,
          payment: { type: 'payment_intent', payment_intent: 'pi_contract' } }] } }
      : undefined);

    it('refunds the card payment of the Stripe invoice through its PaymentIntent, keyed by the credit note\'s business key', async () => {
      proxy.script = paidByIntent;
      const first = await provider.refund(refundRequest);
      expect(first.refundId).toMatch(/^re_/);
      const again = await provider.refund(refundRequest); // a retry sends the same write with the same key
      expect(again.refundId).toMatch(/^re_/);
      // Only the invoice's payments are scripted: stripe-mock validated the refunds list and both refunds (200).
      expect(proxy.requests.filter((r) => r.path.startsWith('/v1/refunds')).map((r) => r.status)).toEqual([200, 200, 200, 200]);
      const writes = sent(posts());
      expect(writes).toHaveLength(2);
      expect(writes[1]).toEqual(writes[0]);
      expect(writes[0]).toEqual({
        method: 'POST', path: '/v1/refunds', idempotencyKey: 'in_ours_01:refund:1:provider-refund',
        params: { payment_intent: 'pi_contract', amount: '500', reason: 'requested_by_customer', 'metadata[invoice_id]': 'in_ours_01',
          'metadata[workspace_id]': 'ws_01', 'metadata[credit_note_key]': 'in_ours_01:refund:1', 'metadata[note]': 'the pack did not work' },
      });
      const reads = proxy.requests.filter((r) => r.method === 'GET').map((r) => [r.path, r.params]);
      expect(reads.slice(0, 2)).toEqual([
        ['/v1/invoice_payments', { invoice: 'in_stripe_9', status: 'paid', limit: '10' }],
        ['/v1/refunds', { payment_intent: 'pi_contract', limit: '100' }],
      ]);
    });

    it('finds a refund it already made by the credit note key in its metadata (Stripe forgets idempotency keys after a day)', async () => {
      proxy.script = (request) => paidByIntent(request) ?? (request.method === 'GET' && request.path === '/v1/refunds'
        ? { status: 200, body: { object: 'list', url: '/v1/refunds', has_more: false, data: [
          { id: 're_other', object: 'refund', amount: 100, metadata: { credit_note_key: 'in_ours_01:refund:0' } },
          { id: 're_made_before', object: 'refund', amount: 500, metadata: { credit_note_key: 'in_ours_01:refund:1' } }] } }
        : undefined);
      expect(await provider.refund(refundRequest)).toEqual({ refundId: 're_made_before' });
      expect(posts()).toEqual([]);
    });

    it('fails permanently (provider_invalid_request) without a Stripe invoice, or when Stripe refuses the amount', async () => {
      await expect(provider.refund({ ...refundRequest, providerInvoiceId: null })).rejects.toMatchObject({ type: PROVIDER_INVALID_REQUEST, nonRetryable: true });
      expect(proxy.requests).toEqual([]);
      proxy.script = (request) => paidByIntent(request) ?? (request.method === 'POST'
        ? { status: 400, body: { error: { type: 'invalid_request_error', code: 'charge_exceeds_source_limit', message: 'Refund amount exceeds the charge.' } } }
        : undefined);
      await expect(provider.refund(refundRequest)).rejects.toMatchObject({ type: PROVIDER_INVALID_REQUEST, nonRetryable: true });
    });

    it('finds our invoice behind a PaymentIntent (Stripe\'s charges and disputes carry no metadata of ours)', async () => {
      proxy.script = (request) => {
        if (request.path === '/v1/invoice_payments') {
          return { status: 200, body: { object: 'list', url: '/v1/invoice_payments', has_more: false,
            data: [{ id: 'inpay_1', object: 'invoice_payment', invoice: 'in_stripe_9', status: 'paid', payment: { type: 'payment_intent', payment_intent: 'pi_contract' } }] } };
        }
        if (request.path === '/v1/invoices/in_stripe_9') return { status: 200, body: { id: 'in_stripe_9', object: 'invoice', status: 'paid', metadata: { invoice_id: 'in_ours_01' } } };
        return undefined;
      };
      expect(await provider.ourInvoiceOfPayment('pi_contract')).toBe('in_ours_01');
      expect(proxy.requests.map((r) => [r.path, r.params])).toEqual([
        ['/v1/invoice_payments', { 'payment[type]': 'payment_intent', 'payment[payment_intent]': 'pi_contract', limit: '1' }],
        ['/v1/invoices/in_stripe_9', {}],
      ]);
    });

    it('looks up invoice payments by PaymentIntent as stripe-mock validates it (its fixture names no invoice of ours: null)', async () => {
      expect(await provider.ourInvoiceOfPayment('pi_contract')).toBeNull();
      expect(proxy.requests.map((r) => [r.method, r.path.split('/')[2], r.status])).toEqual([['GET', 'invoice_payments', 200], ['GET', 'invoices', 200]]);
    });
  });

  it('credits the customer balance as a negative balance transaction', async () => {
    const { transactionId } = await provider.creditCustomerBalance({
      customerId: 'cus_contract',
      amountCents: 1500,
      idempotencyKey: 'sub_01:downgrade:credit',
      description: 'Unused time on Pro plan',
    });
    expect(transactionId).toMatch(/^cbtxn_/);
    expect(sent(proxy.requests)).toEqual([
      {
        method: 'POST',
        path: '/v1/customers/cus_contract/balance_transactions',
        idempotencyKey: 'sub_01:downgrade:credit',
        params: { amount: '-1500', currency: 'usd', description: 'Unused time on Pro plan' },
      },
    ]);
    await expect(provider.creditCustomerBalance({ customerId: 'cus_contract', amountCents: 0, idempotencyKey: 'x' })).rejects.toThrow(/positive/);
    expect(proxy.requests).toHaveLength(1);
  });

  it('opens a Billing Portal session that returns to the pricing page', async () => {
    const { url } = await provider.createPortalSession({ customerId: 'cus_contract', requestId: 'req_8' });
    expect(url).toMatch(/^https:\/\//);
    expect(sent(proxy.requests)).toEqual([
      {
        method: 'POST',
        path: '/v1/billing_portal/sessions',
        idempotencyKey: 'portal-session:cus_contract:req_8',
        params: { customer: 'cus_contract', return_url: `${publicUrl}/pricing` },
      },
    ]);
  });

  it('is validated by stripe-mock: a parameter outside Stripe’s spec is rejected', async () => {
    // The same SDK and server the provider uses; proves the passing calls above really were validated.
    const raw = new Stripe('sk_test_contract', { apiVersion: STRIPE_API_VERSION, host: '127.0.0.1', port: new URL(mock.apiBase).port, protocol: 'http', maxNetworkRetries: 0 });
    await expect(
      raw.invoiceItems.create({ customer: 'cus_contract', amount: 100, currency: 'usd', not_a_stripe_param: 1 } as Stripe.InvoiceItemCreateParams),
    ).rejects.toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    await expect(
      raw.invoices.create({ customer: 'cus_contract', collection_method: 'sometimes' } as unknown as Stripe.InvoiceCreateParams),
    ).rejects.toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
  });

  describe('webhooks', () => {
    const invoicePaid = {
      id: 'evt_1Q0contract',
      object: 'event',
      api_version: STRIPE_API_VERSION,
      created: 1_740_787_260,
      type: 'invoice.paid',
      livemode: false,
      pending_webhooks: 1,
      request: { id: null, idempotency_key: 'sub_01:1740787200:period:3:subscription:pay' },
      data: {
        object: {
          id: 'in_1Q0stripe',
          object: 'invoice',
          status: 'paid',
          customer: 'cus_01',
          amount_paid: 1000,
          metadata: { invoice_id: 'in_ours_01', workspace_id: 'ws_01', subscription_id: 'sub_01' },
        },
      },
    };
    const sign = (payload: string, secret = webhookSecret, timestamp?: number) =>
      Stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp });

    it('verifies a signed invoice event and maps its metadata and status', () => {
      const payload = JSON.stringify(invoicePaid);
      expect(provider.parseWebhook(payload, sign(payload))).toEqual({
        id: 'evt_1Q0contract',
        type: 'invoice.paid',
        created: 1_740_787_260,
        invoiceId: 'in_ours_01',
        workspaceId: 'ws_01',
        subscriptionId: 'sub_01',
        objectStatus: 'paid',
        setupIntentId: null,
        // What the inbox checks before applying a payment (issue 16): the provider's invoice, its customer, the amount.
        providerInvoiceId: 'in_1Q0stripe',
        customerId: 'cus_01',
        amountPaid: 1000,
      });
    });

    it('maps charge.refunded (the charge\'s total refunded) and dispute events (id, status, amount), with the PaymentIntent', () => {
      const charge = { id: 'ch_1', object: 'charge', amount: 1000, amount_refunded: 300, status: 'succeeded', payment_intent: 'pi_1', metadata: {} };
      const refunded = JSON.stringify({ ...invoicePaid, id: 'evt_refunded', type: 'charge.refunded', data: { object: charge } });
      expect(provider.parseWebhook(refunded, sign(refunded))).toEqual({
        id: 'evt_refunded', type: 'charge.refunded', created: invoicePaid.created, invoiceId: null, workspaceId: null, subscriptionId: null,
        objectStatus: 'succeeded', setupIntentId: null, paymentIntentId: 'pi_1', amountRefunded: 300,
      });
      const dispute = { id: 'dp_1', object: 'dispute', amount: 1000, status: 'lost', charge: 'ch_1', payment_intent: { id: 'pi_1', object: 'payment_intent' },
        metadata: { invoice_id: 'in_ours_01', workspace_id: 'ws_01' } };
      const closed = JSON.stringify({ ...invoicePaid, id: 'evt_closed', type: 'charge.dispute.closed', data: { object: dispute } });
      expect(provider.parseWebhook(closed, sign(closed))).toMatchObject({
        type: 'charge.dispute.closed', invoiceId: 'in_ours_01', workspaceId: 'ws_01', paymentIntentId: 'pi_1', dispute: { id: 'dp_1', status: 'lost', amountCents: 1000 },
      });
      // A dispute without a usable amount is no dispute to act on.
      const broken = JSON.stringify({ ...invoicePaid, id: 'evt_broken', type: 'charge.dispute.created', data: { object: { ...dispute, amount: -5 } } });
      expect(provider.parseWebhook(broken, sign(broken)).dispute).toBeNull();
    });

    it('maps an event about an object without our metadata to nulls', () => {
      const payload = JSON.stringify({
        ...invoicePaid,
        id: 'evt_pm',
        type: 'payment_method.attached',
        data: { object: { id: 'pm_1', object: 'payment_method', customer: 'cus_contract', metadata: {} } },
      });
      expect(provider.parseWebhook(payload, sign(payload))).toMatchObject({
        id: 'evt_pm', type: 'payment_method.attached', invoiceId: null, workspaceId: null, subscriptionId: null, objectStatus: null,
      });
    });

    it('rejects a tampered payload, a wrong secret, a missing signature and a stale timestamp', () => {
      const payload = JSON.stringify(invoicePaid);
      const tampered = payload.replace('"status":"paid"', '"status":"void"');
      expect(tampered).not.toBe(payload);
      const rejected = Stripe.errors.StripeSignatureVerificationError;
      expect(() => provider.parseWebhook(tampered, sign(payload))).toThrow(rejected);
      expect(() => provider.parseWebhook(payload, sign(payload, 'whsec_someone_else'))).toThrow(rejected);
      expect(() => provider.parseWebhook(payload, '')).toThrow(rejected);
      const anHourAgo = Math.floor(Date.now() / 1000) - 3600;
      expect(() => provider.parseWebhook(payload, sign(payload, webhookSecret, anHourAgo))).toThrow(rejected);
    });
  });

  // Declared last, so it sees the requests of every test above.
  it('sent every write with a business-derived idempotency key and the pinned API version', () => {
    everything.push(...proxy.requests);
    const writes = everything.filter((request) => request.method === 'POST');
    expect(writes.length).toBeGreaterThan(20);
    const unkeyed = writes.filter((request) => !request.idempotencyKey);
    expect(unkeyed).toEqual([]);
    // With retries enabled the SDK would add random `stripe-node-retry-…` keys to unkeyed writes: none may be its own.
    const generated = writes.filter((request) => request.idempotencyKey?.startsWith('stripe-node-retry-'));
    expect(generated).toEqual([]);
    expect(new Set(everything.map((request) => request.stripeVersion))).toEqual(new Set([STRIPE_API_VERSION]));
  });
});
