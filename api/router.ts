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
  /**
   * PUBLIC_URL when it is configured (not the localhost default): problem `type` links are built on it; when absent,
   * on the origin each request addressed.
   */
  problemTypeBase?: string;
  /** Request logs; silent when absent (tests). */
  logger?: Logger;
  /** Per-workspace limit on the spend path (default 200/s, bursts of 400). */
  spendRateLimit?: { perSecond: number; burst: number };
  /** Per-API-key limit on every /v1 route (RATE_LIMIT_PER_SECOND / RATE_LIMIT_BURST; default 500/s, bursts of 1000; above the spend path's own 200/s). */
  rateLimit?: { perSecond: number; burst: number };
  /** METRICS_TOKEN: the bearer token of GET /metrics; loopback clients only when absent. */
  metricsToken?: string;
  /** ALLOW_PRIVATE_WEBHOOK_TARGETS: alert webhook URLs may name private addresses; the environment's setting when absent. */
  allowPrivateWebhookTargets?: boolean;
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
