import { OpenAPIHono } from '@hono/zod-openapi';
import { ApiKeyCache } from './api-key-cache.js';
import { docsUi } from './docs-ui.js';
import { bodyLimit, MAX_BODY_BYTES, MAX_WEBHOOK_BODY_BYTES } from './body-limit.js';
import { authenticate, type AuthEnv } from './auth.js';
import { ApiError, onError, problem } from './errors.js';
import { idempotency } from './idempotency.js';
import { byApiKey, rateLimit } from './rate-limit.js';
import { pageSecurityHeaders } from './security-headers.js';
import { createLogger, observe } from './observability.js';
import { billingPages } from './pages/billing/index.js';
import { adminPages } from './pages/admin/index.js';
import { pricingPage } from './pages/pricing.js';
import { errorCataloguePage } from './pages/errors.js';
import { openApiDocument } from './openapi-document.js';
import { sandboxInvoicePages } from './pages/sandbox-invoice.js';
import { webhookRoutes } from './routes/webhooks.js';
import type { ApiDeps } from './router.js';
import { adminInvoiceRoutes } from './routes/admin-invoices.js';
import { alertRoutes } from './routes/alerts.js';
import { apiKeyRoutes } from './routes/api-keys.js';
import { billingRoutes } from './routes/billing.js';
import { customModelRoutes } from './routes/custom-models.js';
import { creditRoutes } from './routes/credits.js';
import { historyRoutes } from './routes/history.js';
import { invoiceRoutes } from './routes/invoices.js';
import { packRoutes } from './routes/packs.js';
import { publicRoutes } from './routes/public.js';
import { subscriptionRoutes } from './routes/subscription.js';
import { spendRoutes } from './routes/spend.js';
import { testClockRoutes } from './routes/test-clocks.js';
import { workspaceRoutes } from './routes/workspaces.js';
import { billingSessionRoutes } from './routes/billing-sessions.js';
import { billingSessionLinkPages } from './pages/billing-session-link.js';
import { auditLog } from './audit.js';
import { v1Gate } from './v1-gate.js';
import { step } from './middleware-chain.js';
import { adminRoutes } from './routes/admin.js';
import { webhookDeliveryRoutes } from './routes/webhook-deliveries.js';
import { usageRoutes } from './routes/usage.js';
import { autoTopUpRoutes } from './routes/auto-top-up.js';

/** The HTTP API: public routes, then everything under /v1 behind bearer authentication. */
export function createApp(given: Omit<ApiDeps, 'apiKeys'>): OpenAPIHono<AuthEnv> {
  const apiKeys = new ApiKeyCache();
  const deps: ApiDeps = { ...given, apiKeys };
  const app = new OpenAPIHono<AuthEnv>();
  const problemTypeBase = deps.problemTypeBase;
  if (problemTypeBase) app.use('*', async (c, next) => { c.set('problemTypeBase', problemTypeBase); await next(); }); // before any problem can be made
  observe(app, deps.logger ?? createLogger('silent'), { metricsToken: deps.metricsToken });
  app.onError(onError);
  app.notFound((c) => problem(c, new ApiError(404, 'not_found', `no route ${c.req.method} ${c.req.path}`)));
  // The pages' security headers (CSP, nosniff, Referrer-Policy, HSTS on https: issue 16), then the body limit, chained
  // in one middleware (api/middleware-chain.ts says why).
  const pageHeaders = pageSecurityHeaders(deps.publicUrl);
  const [apiBodies, webhookBodies] = [bodyLimit(MAX_BODY_BYTES), bodyLimit(MAX_WEBHOOK_BODY_BYTES)];
  app.use('*', (c, next) => step(c, pageHeaders, step(c, c.req.path === '/webhooks/stripe' ? webhookBodies : apiBodies, next))());

  app.route('/', publicRoutes(deps));
  app.route('/', pricingPage());
  app.route('/', errorCataloguePage()); // /docs/errors: what a problem's `type` points at
  app.route('/', billingPages(deps));
  app.route('/', billingSessionLinkPages(deps)); // a billing session's single-use URL (SPEC §10)
  app.route('/', adminPages(deps)); // the operator console /admin (SPEC §10)
  app.route('/', webhookRoutes(deps));
  if (deps.sandbox) app.route('/', sandboxInvoicePages({ ...deps, sandbox: deps.sandbox }));
  const auth = authenticate(deps.sql, deps.adminApiKey, apiKeys);
  const idempotent = idempotency(deps.sql, deps.adminApiKey); // seals stored answers (issue 16)
  const spendLimit = rateLimit({ perSecond: deps.spendRateLimit?.perSecond ?? 200, burst: deps.spendRateLimit?.burst ?? 400 });
  // Every authenticated route counts against its API key's bucket (issue 16): generous, so only a runaway client meets it.
  const keyLimit = rateLimit({
    perSecond: deps.rateLimit?.perSecond ?? 500, burst: deps.rateLimit?.burst ?? 1000, keyOf: byApiKey, what: 'requests a second per API key',
  });
  // Authentication, the key's and the spend routes' budgets, Idempotency-Key and the audit log, in that order, as
  // one middleware (api/v1-gate.ts says why that order). Every /v1 route below, whoever adds it, is behind it.
  app.use('/v1/*', v1Gate({ authenticate: auth, keyLimit, spendLimit, idempotent, audit: auditLog(deps.sql) }));
  for (const routes of [
    testClockRoutes, workspaceRoutes, subscriptionRoutes, creditRoutes, spendRoutes, packRoutes, historyRoutes, invoiceRoutes,
    billingRoutes, apiKeyRoutes, customModelRoutes, alertRoutes, usageRoutes,
  ]) {
    app.route('/', routes(deps));
  }
  app.route('/', autoTopUpRoutes(deps)); // automatic top-ups (SPEC §11)
  app.route('/', webhookDeliveryRoutes(deps)); // outgoing events: types, delivery log, retries (SPEC §11)
  app.route('/', adminInvoiceRoutes(deps)); // refunds, sandbox disputes (SPEC §10)
  app.route('/', billingSessionRoutes(deps)); // single-use /billing sign-in URLs (SPEC §10)

  for (const routes of adminRoutes) app.route('/', routes(deps)); // operator views, adjustments, keys, audit (SPEC §10)
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', { type: 'http', scheme: 'bearer' });
  app.openAPIRegistry.registerComponent('securitySchemes', 'operatorKey', {
    type: 'http', scheme: 'bearer', description: 'An operator key: ADMIN_API_KEY or one made by POST /v1/admin/operator-keys',
  });
  let document: ReturnType<typeof openApiDocument> | undefined; // the routes are fixed once built: generated once
  app.get('/openapi.json', (c) => c.json(document ??= openApiDocument(app))); // named operations, headers, errors (issue 14)
  app.route('/', docsUi()); // Swagger UI from the pinned swagger-ui-dist package, no CDN (issue 14)
  return app;
}
