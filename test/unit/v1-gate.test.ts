import { Hono, type MiddlewareHandler } from 'hono';
import { describe, expect, it } from 'vitest';
import type { AuthEnv } from '../../api/auth.js';
import { isSpendPath, v1Gate } from '../../api/v1-gate.js';

/** An app whose /v1 layers record their names; `answers` names a layer that answers itself instead of going on. */
function recordingApp(answers?: string) {
  const seen: string[] = [];
  const layer = (name: string): MiddlewareHandler<AuthEnv> => async (c, next) => {
    seen.push(name);
    if (name === answers) return c.json({ answeredBy: name }, 200);
    await next();
    seen.push(`${name} after`);
  };
  const app = new Hono<AuthEnv>();
  app.use('/v1/*', v1Gate({
    authenticate: layer('authenticate'), keyLimit: layer('keyLimit'), spendLimit: layer('spendLimit'), idempotent: layer('idempotent'), audit: layer('audit'),
  }));
  app.all('/v1/*', (c) => { seen.push('route'); return c.json({ answeredBy: 'route' }, 201); });
  return { app, seen };
}

describe('v1Gate: the layers in front of every /v1 route, in order', () => {
  it('runs a write through every layer in order and the route last, each layer resuming after it', async () => {
    const { app, seen } = recordingApp();
    const res = await app.request('/v1/creations', { method: 'POST' });
    expect(res.status).toBe(201);
    expect(seen).toEqual([
      'authenticate', 'keyLimit', 'spendLimit', 'idempotent', 'audit', 'route', 'audit after', 'idempotent after', 'spendLimit after', 'keyLimit after', 'authenticate after',
    ]);
  });

  it('takes the spend budget only on the spend routes', async () => {
    const { app, seen } = recordingApp();
    await app.request('/v1/credit-packs', { method: 'POST' });
    expect(seen.filter((name) => !name.endsWith('after'))).toEqual(['authenticate', 'keyLimit', 'idempotent', 'audit', 'route']);
  });

  it('sends a read from the budgets straight to its route (no Idempotency-Key, no audit)', async () => {
    const { app, seen } = recordingApp();
    const res = await app.request('/v1/credits');
    expect(res.status).toBe(201);
    expect(seen).toEqual(['authenticate', 'keyLimit', 'route', 'keyLimit after', 'authenticate after']);
  });

  it('leaves the public /v1/plans alone', async () => {
    const { app, seen } = recordingApp();
    await app.request('/v1/plans');
    expect(seen).toEqual(['route']);
  });

  it('answers with what a layer answers itself (a remembered Idempotency-Key answer), the route never running', async () => {
    const { app, seen } = recordingApp('idempotent');
    const res = await app.request('/v1/creations/cr_1/end', { method: 'POST' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ answeredBy: 'idempotent' });
    expect(seen).toEqual(['authenticate', 'keyLimit', 'spendLimit', 'idempotent', 'spendLimit after', 'keyLimit after', 'authenticate after']);
  });

  it('knows the spend paths', () => {
    expect(['/v1/credits/estimate', '/v1/creations', '/v1/creations/cr_1/end'].every(isSpendPath)).toBe(true);
    expect(['/v1/credits', '/v1/creationsx', '/v1/credit-packs', '/v1/credits/estimate/x'].some(isSpendPath)).toBe(false);
  });
});
