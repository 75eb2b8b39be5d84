import { OpenAPIHono } from '@hono/zod-openapi';
import type { Client } from '@temporalio/client';
import type { Sql } from '../ledger/db.js';
import type { Logger } from './observability.js';
import type { PaymentProvider } from '../payments/provider.js';
import type { SandboxProvider } from '../payments/sandbox.js';
import type { StripeProvider } from '../payments/stripe.js';
import type { ApiKeyCache } from './api-key-cache.js';
import type { SellerIdentity } from '../runtime/config.js';
import type { AuthEnv } from './auth.js';
import { fromZod, problem } from './errors.js';

export interface ApiDeps {
  sql: Sql;
  temporal: Client;
  taskQueue: string;
  adminApiKey: string;
  payments: PaymentProvider;
  /** Secret that signs incoming webhooks (Stripe's endpoint secret, or the sandbox's). */
  webhookSecret: string;
  /** Present in sandbox mode: its hosted invoice pages complete 3-D Secure. */
  sandbox?: SandboxProvider;
  /** Present in Stripe mode: Checkout and the Billing Portal. */
  stripe?: StripeProvider;
  /** Base URL of this system, for links that leave it (portal return URL). */
  publicUrl: string;
  /** Request logs; silent when absent (tests). */
  logger?: Logger;
  /** Per-workspace limit on the spend path (default 200/s, bursts of 400). */
  spendRateLimit?: { perSecond: number; burst: number };
  /** Which workspace each API key belongs to, remembered briefly (one per API process). */
  apiKeys: ApiKeyCache;
  /** Who issues the invoices (SELLER_* configuration); runtime/config.ts's DEFAULT_SELLER when absent. */
  seller?: SellerIdentity;
  /** Base URL of the Temporal UI, for the console's links to a subscription's workflow (TEMPORAL_UI_URL); http://localhost:8233 when absent. */
  temporalUiUrl?: string;
}

/** A router whose zod validation failures become 400 problem+json naming each offending field. */
export function newRouter(): OpenAPIHono<AuthEnv> {
  return new OpenAPIHono<AuthEnv>({
    defaultHook: (result, c) => {
      if (!result.success) return problem(c, fromZod(result.error, result.target));
    },
  });
}
