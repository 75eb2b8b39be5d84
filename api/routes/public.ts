import { readFileSync } from 'node:fs';
import { createRoute, z } from '@hono/zod-openapi';
import { PACKS, PLANS, priceCents } from '../../domain/catalog.js';
import { ERROR_DOCS_PATH } from '../error-catalogue.js';
import { newRouter, type ApiDeps } from '../router.js';
import { json } from '../schemas.js';

const PlanView = z.object({
  id: z.string(), name: z.string(), audience: z.string(), monthly_credits: z.number().int(),
  custom_model_limit: z.number().int(), support: z.string(),
  prices: z.object({ month: z.number().int(), year: z.number().int() }),
  pack_discount_percent: z.number().int(),
}).openapi('Plan');
const PackView = z.object({ credits: z.number().int(), price_cents: z.number().int() }).openapi('Pack');

/** The API's own name and version: package.json's, read once (the same file `npm ci` installed from). */
const packageJson = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { name: string; version: string };
/** Where a newcomer goes from `GET /`: paths on this origin. */
const INDEX_LINKS = {
  docs: '/docs', errors: ERROR_DOCS_PATH, openapi: '/openapi.json', plans: '/v1/plans', pricing: '/pricing', readyz: '/readyz',
} as const;
const ApiIndex = z.object({
  name: z.string().openapi({ example: 'credit-engine' }),
  version: z.string().openapi({ description: 'The server\'s version (its package.json)', example: '0.1.0' }),
  links: z.object({
    docs: z.string().openapi({ description: 'API reference (Swagger UI)' }),
    errors: z.string().openapi({ description: 'Every problem `code`, what it means and what to do' }),
    openapi: z.string().openapi({ description: 'This API\'s OpenAPI 3.1 document' }),
    plans: z.string().openapi({ description: 'The catalogue as data (public)' }),
    pricing: z.string().openapi({ description: 'The pricing page' }),
    readyz: z.string().openapi({ description: 'Readiness: Postgres and Temporal' }),
  }).openapi({ description: 'Paths on this origin' }),
}).openapi('ApiIndex');

/** Routes anyone may call: the index, the catalog and the health probes. */
export function publicRoutes(deps: ApiDeps) {
  const router = newRouter();

  router.openapi(
    createRoute({ method: 'get', path: '/', security: [], // public: where a newcomer who types the bare URL goes next
      description: 'The API\'s name and version and where to go next: the reference, the error codes, the OpenAPI document, the plans, the pricing page, readiness.',
      responses: { 200: { description: 'The index', ...json(ApiIndex) } } }),
    (c) => c.json({ name: packageJson.name, version: packageJson.version, links: INDEX_LINKS }, 200),
  );

  router.openapi(
    createRoute({ method: 'get', path: '/v1/plans', security: [], // public: explicitly no key
      responses: { 200: { description: 'Plans and packs', content: { 'application/json': { schema: z.object({ plans: z.array(PlanView), packs: z.array(PackView) }).openapi('Catalog') } } } } }),
    (c) => c.json({
      plans: PLANS.map((p) => ({
        id: p.id, name: p.name, audience: p.audience, monthly_credits: p.monthlyCredits,
        custom_model_limit: p.customModelLimit, support: p.support,
        prices: { month: priceCents(p, 'month'), year: priceCents(p, 'year') }, pack_discount_percent: p.packDiscountPercent,
      })),
      packs: PACKS.map((pack) => ({ credits: pack.credits, price_cents: pack.priceCents })),
    }, 200),
  );

  router.get('/healthz', (c) => c.json({ status: 'ok' }));

  // Ready only when both the ledger and Temporal answer: without either, no request can be served.
  // Each dependency is `ok` or `unavailable`: its error (hosts, ports, users) goes to the log, never to
  // an unauthenticated caller (issue 16, finding 10).
  const unavailable = (dependency: string) => (error: Error) => {
    deps.logger?.warn({ dependency, err: error.message }, 'readiness probe failed');
    return 'unavailable';
  };
  router.get('/readyz', async (c) => {
    const [postgres, temporal] = await Promise.all([
      deps.sql`SELECT 1`.then(() => 'ok', unavailable('postgres')),
      // A probe must answer quickly: an unreachable Temporal is "unavailable" after 2 s, not after retries.
      deps.temporal.connection.withDeadline(Date.now() + 2000, () => deps.temporal.connection.workflowService.getSystemInfo({}))
        .then(() => 'ok', unavailable('temporal')),
    ]);
    const ready = postgres === 'ok' && temporal === 'ok';
    return c.json({ status: ready ? 'ready' : 'unavailable', postgres, temporal }, ready ? 200 : 503);
  });
  return router;
}
