import type { Sql } from '../ledger/db.js';
import { paymentsProblem } from '../runtime/config.js';
import type { PaymentProvider } from './provider.js';
import { createSandboxProvider, type SandboxProvider } from './sandbox.js';
import { createStripeProvider, type StripeProvider } from './stripe.js';

export interface PaymentSettings {
  STRIPE_SECRET_KEY?: string;
  STRIPE_WEBHOOK_SECRET?: string;
  STRIPE_API_BASE?: string;
  SANDBOX_WEBHOOK_SECRET?: string;
  PUBLIC_URL: string;
  /** stripe or sandbox; unset: Stripe when a key is configured (runtime/config.ts paymentsProblem says what may start). */
  PAYMENTS?: 'stripe' | 'sandbox';
  NODE_ENV?: string;
}

export interface Payments {
  provider: PaymentProvider;
  /** Signs incoming webhooks: Stripe's endpoint secret, or the sandbox's own. */
  webhookSecret: string;
  sandbox?: SandboxProvider;
  stripe?: StripeProvider;
}

/**
 * Stripe when a secret key is configured; otherwise the offline sandbox. Throws what paymentsProblem finds (in
 * production the sandbox only with PAYMENTS=sandbox, issue 16), so no process runs simulated payments by default.
 */
export function createPayments(settings: PaymentSettings, sql: Sql, fallbackSecret: () => string): Payments {
  const problem = paymentsProblem(settings);
  if (problem) throw new Error(problem);
  if (settings.STRIPE_SECRET_KEY && settings.PAYMENTS !== 'sandbox') {
    if (!settings.STRIPE_WEBHOOK_SECRET) throw new Error('STRIPE_WEBHOOK_SECRET is required with STRIPE_SECRET_KEY');
    const stripe = createStripeProvider({
      secretKey: settings.STRIPE_SECRET_KEY, webhookSecret: settings.STRIPE_WEBHOOK_SECRET,
      apiBase: settings.STRIPE_API_BASE, publicUrl: settings.PUBLIC_URL,
    });
    return { provider: stripe, webhookSecret: settings.STRIPE_WEBHOOK_SECRET, stripe };
  }
  const sandbox = createSandboxProvider({ publicUrl: settings.PUBLIC_URL, sql });
  return { provider: sandbox, webhookSecret: settings.SANDBOX_WEBHOOK_SECRET ?? fallbackSecret(), sandbox };
}
