import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sql } from '../../ledger/db.js';
import { createPayments } from '../../payments/factory.js';
import { loadConfig } from '../../runtime/config.js';
import { ADMIN_KEY, apiClient, startStack } from '../helpers/stack.js';

/**
 * Issue 16: the sandbox (simulated payments that grant real credits) was what a production deployment ran
 * whenever no Stripe key was set. Invariants: with NODE_ENV=production and no Stripe key, the API and the worker
 * (both load runtime/config.ts and payments/factory.ts) refuse to start unless PAYMENTS=sandbox asks for it; and
 * every sandbox page a customer sees carries a visible "Test mode" banner.
 */
const base = { DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/credit_engine' };
// Placeholders shaped like Stripe's (the config checks the prefixes only); never real keys.
const stripeKeys = { STRIPE_SECRET_KEY: 'sk_test_placeholder', STRIPE_WEBHOOK_SECRET: 'whsec_placeholder' };

describe('sandbox in production is an explicit opt-in', () => {
  it('refuses NODE_ENV=production without a Stripe key unless PAYMENTS=sandbox', () => {
    expect(() => loadConfig({ ...base, NODE_ENV: 'production' })).toThrow(/NODE_ENV=production without STRIPE_SECRET_KEY.*PAYMENTS=sandbox/);
    // docker compose's `PAYMENTS: ${PAYMENTS:-}` passes an empty value: unset, so still refused.
    expect(() => loadConfig({ ...base, NODE_ENV: 'production', PAYMENTS: '' })).toThrow(/PAYMENTS=sandbox/);
    expect(loadConfig({ ...base, NODE_ENV: 'production', PAYMENTS: 'sandbox' }).PAYMENTS).toBe('sandbox');
    expect(loadConfig({ ...base, NODE_ENV: 'production', ...stripeKeys }).STRIPE_SECRET_KEY).toBe(stripeKeys.STRIPE_SECRET_KEY);
    // Development and tests keep the sandbox by default (npm start).
    expect(loadConfig({ ...base }).PAYMENTS).toBeUndefined();
    expect(() => loadConfig({ ...base, NODE_ENV: 'development' })).not.toThrow();
  });

  it('refuses contradictory or unknown payment settings', () => {
    expect(() => loadConfig({ ...base, PAYMENTS: 'stripe' })).toThrow(/PAYMENTS=stripe needs STRIPE_SECRET_KEY/);
    expect(() => loadConfig({ ...base, PAYMENTS: 'sandbox', ...stripeKeys })).toThrow(/PAYMENTS=sandbox with STRIPE_SECRET_KEY/);
    expect(() => loadConfig({ ...base, PAYMENTS: 'paypal' })).toThrow(/PAYMENTS/);
  });

  it('the factory refuses the same, whoever calls it (the worker builds its provider through it)', () => {
    const sql = (() => Promise.reject(new Error('unused'))) as unknown as Sql;
    const settings = { PUBLIC_URL: 'https://billing.example', NODE_ENV: 'production' };
    expect(() => createPayments(settings, sql, () => 'secret-0123456789abcdef')).toThrow(/PAYMENTS=sandbox/);
    const sandbox = createPayments({ ...settings, PAYMENTS: 'sandbox' }, sql, () => 'secret-0123456789abcdef');
    expect([sandbox.provider.name, sandbox.sandbox !== undefined]).toEqual(['sandbox', true]);
  });
});

describe('sandbox pages carry a Test mode banner', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => stack?.stop());

  it('shows it on the hosted invoice page, the sandbox portal and /billing', async () => {
    const operator = stack.api(ADMIN_KEY);
    const clockId = (await operator.post('/v1/test-clocks', { frozen_time: '2026-01-01T00:00:00Z' })).body.id as string;
    const ws = await operator.post('/v1/workspaces', { name: 'test mode', test_clock_id: clockId });
    const customer = apiClient(stack.baseUrl, ws.body.api_key);
    await customer.put('/v1/payment-method', { payment_method: 'pm_card_visa' });
    await customer.post('/v1/subscription', { plan: 'plus', interval: 'month' });
    const [invoice] = (await customer.get('/v1/invoices')).body.data as { id: string }[];

    const banner = /<p id="test-mode"[^>]*><strong>Test mode<\/strong>/;
    expect(await (await fetch(`${stack.baseUrl}/sandbox/invoices/${invoice!.id}`)).text()).toMatch(banner);
    expect(await (await fetch(`${stack.baseUrl}/sandbox/portal`)).text()).toMatch(banner);

    // /billing, signed in through a billing session URL as the customer's browser is.
    const session = await customer.post('/v1/billing-sessions', {});
    const signedIn = await fetch(session.body.url, { redirect: 'manual' });
    const cookie = signedIn.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    const billing = await fetch(`${stack.baseUrl}/billing`, { headers: { cookie }, redirect: 'manual' });
    expect(billing.status).toBe(200);
    expect(await billing.text()).toMatch(banner);
  });
});
