import { createRoute, z } from '@hono/zod-openapi';
import type { TypedResponse } from 'hono';
import { currentBalanceRead } from '../../billing/balance.js';
import { requireWorkspace } from '../auth.js';
import { newRouter, type ApiDeps } from '../router.js';
import { Instant, bearer, problemResponses } from '../schemas.js';

const Lot = z.object({
  id: z.string(),
  source: z.enum(['monthly', 'upgrade', 'pack', 'adjustment']),
  granted: z.number().int(),
  remaining: z.number().int(),
  held: z.number().int(),
  granted_at: Instant,
  expires_at: Instant.nullable(),
  frozen: z.boolean(),
}).openapi('Lot');
export const Balance = z.object({
  available: z.number().int(),
  held: z.number().int(),
  as_of: z.string(),
  lots: z.array(Lot),
}).openapi('Balance');

export function creditRoutes(deps: ApiDeps) {
  const router = newRouter();
  router.openapi(
    createRoute({ method: 'get', path: '/v1/credits', security: bearer,
      description: 'Balance at the workspace\'s current time (its test clock\'s when it has one); lots in burn order.',
      responses: { 200: { description: 'Balance', content: { 'application/json': { schema: Balance } } }, ...problemResponses } }),
    async (c) => {
      const workspace = requireWorkspace(c.get('principal'));
      // Postgres's JSON text of the Balance as it is (ledger/credits.ts readBalances): nothing parsed or serialised here.
      const read = await currentBalanceRead(deps.sql, workspace.id);
      return c.body(read.json, 200, { 'content-type': 'application/json' }) as unknown as TypedResponse<z.infer<typeof Balance>, 200, 'json'>;
    },
  );
  return router;
}
