import { z } from 'zod';

/**
 * Batched ledger commits (issue 15, ledger/commit-batcher.ts): holds, ends and balance reads gather for at most
 * LEDGER_BATCH_WINDOW_MS (0: the next event-loop turn) or until LEDGER_BATCH_MAX_ITEMS wait (1: no batching),
 * with at most LEDGER_BATCH_MAX_IN_FLIGHT calls out at once per process (keep it below the pool's 10 connections:
 * the spend routes' other queries and the balance reads share it).
 */
const ledgerBatchSchema = z.object({
  LEDGER_BATCH_WINDOW_MS: z.coerce.number().min(0).max(50).default(1),
  LEDGER_BATCH_MAX_ITEMS: z.coerce.number().int().min(1).max(1000).default(64),
  LEDGER_BATCH_MAX_IN_FLIGHT: z.coerce.number().int().min(1).max(100).default(8),
});

/** The ledger's batch policy from the environment (read where the ledger meets its first call; defaults 1 ms, 64, 8). */
export function ledgerBatchPolicy(env: NodeJS.ProcessEnv = process.env): { windowMs: number; maxItems: number; maxInFlight: number } {
  const settings = ledgerBatchSchema.parse(Object.fromEntries(Object.entries(env).filter(([name, value]) => name.startsWith('LEDGER_BATCH_') && value !== '')));
  return { windowMs: settings.LEDGER_BATCH_WINDOW_MS, maxItems: settings.LEDGER_BATCH_MAX_ITEMS, maxInFlight: settings.LEDGER_BATCH_MAX_IN_FLIGHT };
}

/** Every setting of the worker and the API, parsed once from the environment (see .env.example). */
const schema = z.object({
  DATABASE_URL: z.string().url(),
  // Temporal connection: read by runtime/temporal-connection.ts through the SDK's loader (@temporalio/envconfig),
  // which also reads a temporal.toml profile; listed here so the schema names every setting. Unset: localhost:7233,
  // namespace `default`. TEMPORAL_TLS_CERT_PATH / _KEY_PATH are our earlier names of TEMPORAL_TLS_CLIENT_*_PATH.
  TEMPORAL_ADDRESS: z.string().optional(),
  TEMPORAL_NAMESPACE: z.string().optional(),
  TEMPORAL_API_KEY: z.string().optional(),
  TEMPORAL_TLS: z.enum(['true', 'false', '1', '0']).optional(),
  TEMPORAL_TLS_CLIENT_CERT_PATH: z.string().optional(),
  TEMPORAL_TLS_CLIENT_KEY_PATH: z.string().optional(),
  TEMPORAL_TLS_SERVER_CA_CERT_PATH: z.string().optional(),
  TEMPORAL_TLS_SERVER_NAME: z.string().optional(),
  TEMPORAL_TLS_CERT_PATH: z.string().optional(),
  TEMPORAL_TLS_KEY_PATH: z.string().optional(),
  TEMPORAL_CONFIG_FILE: z.string().optional(),
  TEMPORAL_PROFILE: z.string().optional(),
  TEMPORAL_TASK_QUEUE: z.string().default('subscriptions'),
  PORT: z.coerce.number().int().min(1).max(65535).default(3000),
  PUBLIC_URL: z.string().url().optional(),
  ADMIN_API_KEY: z.string().min(16).optional(),
  TEMPORAL_REGISTER_SEARCH_ATTRIBUTES: z.stringbool().default(false),
  // The Temporal UI the operator console links to (a subscription's workflow); http://localhost:8233 when unset.
  TEMPORAL_UI_URL: z.string().url().optional(),
  SANDBOX_WEBHOOK_SECRET: z.string().min(16).optional(),
  STRIPE_SECRET_KEY: z.string().startsWith('sk_').optional(),
  STRIPE_WEBHOOK_SECRET: z.string().startsWith('whsec_').optional(),
  STRIPE_API_BASE: z.string().url().optional(),
  // Which payment provider: stripe (needs STRIPE_SECRET_KEY) or sandbox (simulated payments, test mode). Unset: Stripe when a key
  // is configured, else the sandbox, except with NODE_ENV=production, where the sandbox must be asked for (issue 16).
  // Empty is unset (docker compose passes `${PAYMENTS:-}` through as '').
  PAYMENTS: z.preprocess((v) => (v === '' ? undefined : v), z.enum(['stripe', 'sandbox']).optional()),
  NODE_ENV: z.string().optional(),
  WORKER_METRICS_PORT: z.coerce.number().int().min(1).max(65535).default(9464),
  // Security (issue 16). The worker's Prometheus endpoint listens here: loopback unless opened on purpose.
  WORKER_METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  // Workflows the worker keeps in memory between tasks (its sticky cache; 0 disables it). Unset: the SDK's default
  // from the heap limit (about 2,300 with a 4 GiB heap); a task of a workflow not cached replays its history first.
  WORKER_MAX_CACHED_WORKFLOWS: z.coerce.number().int().min(0).optional(),
  // GET /metrics wants `Authorization: Bearer <METRICS_TOKEN>`; when unset it answers loopback clients only.
  METRICS_TOKEN: z.string().min(16).optional(),
  // Alert webhooks may go to private, loopback and link-local addresses (local development, tests): never in production.
  ALLOW_PRIVATE_WEBHOOK_TARGETS: z.stringbool().default(false),
  // Every /v1 request, per API key: a token bucket of RATE_LIMIT_BURST refilled at RATE_LIMIT_PER_SECOND.
  RATE_LIMIT_PER_SECOND: z.coerce.number().positive().default(500),
  RATE_LIMIT_BURST: z.coerce.number().int().min(1).default(1000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  // Who issues the invoices (PDF, hosted page), and the prefix of their numbers (PREFIX-YEAR-NNNNNN).
  // SELLER_ADDRESS: lines separated by newlines or a literal \n.
  SELLER_NAME: z.string().trim().min(1).max(200).default('Credit Engine Studio, Inc.'),
  SELLER_ADDRESS: z.string().trim().min(1).max(500).default('548 Market Street\nSan Francisco, CA 94104\nUnited States'),
  SELLER_TAX_ID: z.string().trim().min(1).max(100).default('US EIN 00-0000000'),
  INVOICE_NUMBER_PREFIX: z.string().regex(/^[A-Z0-9]{1,12}$/, '1 to 12 capital letters or digits').default('CE'),
  ...ledgerBatchSchema.shape,
});

export type Config = z.infer<typeof schema> & { PUBLIC_URL: string };

/** The name of every setting loadConfig reads (test/unit/compose.test.ts checks docker-compose.yml against them). */
export const CONFIG_KEYS: readonly string[] = Object.keys(schema.shape);

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // An empty variable is unset: docker compose passes `${NAME:-}` through as ''.
  const parsed = schema.safeParse(Object.fromEntries(Object.entries(env).filter(([, value]) => value !== '')));
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid configuration: ${problems}`);
  }
  const payments = paymentsProblem(parsed.data);
  if (payments) throw new Error(`invalid configuration: ${payments}`);
  return { ...parsed.data, PUBLIC_URL: parsed.data.PUBLIC_URL ?? `http://localhost:${parsed.data.PORT}` };
}

/**
 * Why the payment settings cannot start the API or the worker, or null (issue 16): a production deployment
 * (NODE_ENV=production) without a Stripe key runs the sandbox, which gives credits for simulated payments, only
 * when PAYMENTS=sandbox says so; PAYMENTS=stripe needs the Stripe key; PAYMENTS=sandbox with a Stripe key is ambiguous.
 */
export function paymentsProblem(settings: { NODE_ENV?: string; PAYMENTS?: 'stripe' | 'sandbox'; STRIPE_SECRET_KEY?: string }): string | null {
  const hasKey = Boolean(settings.STRIPE_SECRET_KEY);
  if (settings.PAYMENTS === 'stripe' && !hasKey) return 'PAYMENTS=stripe needs STRIPE_SECRET_KEY';
  if (settings.PAYMENTS === 'sandbox' && hasKey) return 'PAYMENTS=sandbox with STRIPE_SECRET_KEY set: unset one of them';
  if (settings.NODE_ENV === 'production' && !hasKey && settings.PAYMENTS !== 'sandbox') {
    return 'NODE_ENV=production without STRIPE_SECRET_KEY: set the Stripe keys, or PAYMENTS=sandbox to run on simulated payments (test mode)';
  }
  return null;
}

/** The seller on every invoice (SPEC §10, issue 12), from SELLER_* and INVOICE_NUMBER_PREFIX. */
export interface SellerIdentity {
  name: string;
  /** Lines of the postal address. */
  address: string[];
  taxId: string;
  invoiceNumberPrefix: string;
}

export function sellerOf(config: Pick<Config, 'SELLER_NAME' | 'SELLER_ADDRESS' | 'SELLER_TAX_ID' | 'INVOICE_NUMBER_PREFIX'>): SellerIdentity {
  return {
    name: config.SELLER_NAME,
    address: config.SELLER_ADDRESS.split(/\n|\\n/).map((line) => line.trim()).filter(Boolean),
    taxId: config.SELLER_TAX_ID,
    invoiceNumberPrefix: config.INVOICE_NUMBER_PREFIX,
  };
}

/** The seller when nothing is configured (the defaults above; the same as migration 0016's row). */
export const DEFAULT_SELLER: SellerIdentity = sellerOf(schema.pick({
  SELLER_NAME: true, SELLER_ADDRESS: true, SELLER_TAX_ID: true, INVOICE_NUMBER_PREFIX: true,
}).parse({}));
