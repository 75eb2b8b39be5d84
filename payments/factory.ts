import type { Sql } from '../ledger/db.js';
import type { PaymentProvider } from './provider.js';
import { createSandboxProvider, type SandboxProvider } from './sandbox.js';
import { createStripeProvider, type StripeProvider } from './stripe.js';

export interface PaymentSettings {
  STRIPE_SECRET_KEY?: string;
  STRIPE_WEBHOOK_SECRET?: string;
  STRIPE_API_BASE?: string;
  SANDBOX_WEBHOOK_SECRET?: string;
  PUBLIC_URL: string;
}

export interface Payments {
  provider: PaymentProvider;
  /** Signs incoming webhooks: Stripe's endpoint secret, or the sandbox's own. */
  webhookSecret: string;
  sandbox?: SandboxProvider;
  stripe?: StripeProvider;
}

/** Stripe when a secret key is configured; otherwise the offline sandbox. */
export function createPayments(settings: PaymentSettings, sql: Sql, fallbackSecret: () => string): Payments {
  if (settings.STRIPE_SECRET_KEY) {
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
