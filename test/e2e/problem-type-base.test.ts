import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLightApp } from '../security/light-app.js';

/**
 * A problem's `type` links to its code's entry in /docs/errors: under PUBLIC_URL when it is configured (api/main.ts
 * passes it as `problemTypeBase`: behind a proxy the request's origin names the internal host), else on the origin
 * the client addressed. Every kind of problem goes through api/errors.ts problem(): no route (404), no key (401),
 * a field the router refuses (400), a business refusal.
 */
describe('problem type links', () => {
  let plain: Awaited<ReturnType<typeof startLightApp>>;
  let behindProxy: Awaited<ReturnType<typeof startLightApp>>;
  beforeAll(async () => {
    [plain, behindProxy] = await Promise.all([startLightApp(), startLightApp({ problemTypeBase: 'https://credits.example.com/engine/' })]);
  });
  afterAll(async () => Promise.all([plain?.stop(), behindProxy?.stop()]));

  async function types(app: typeof plain): Promise<Record<string, string>> {
    const { apiKey } = await app.workspace('problem types');
    const asWorkspace = { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' };
    const answers = {
      not_found: await fetch(`${app.baseUrl}/no/such/route`),
      unauthorized: await fetch(`${app.baseUrl}/v1/credits`),
      invalid_request: await fetch(`${app.baseUrl}/v1/credits/estimate`, { method: 'POST', headers: asWorkspace, body: JSON.stringify({ model: 'nope' }) }),
      no_subscription: await fetch(`${app.baseUrl}/v1/subscription`, { headers: asWorkspace }),
    };
    const found: Record<string, string> = {};
    for (const [code, response] of Object.entries(answers)) {
      const problem = await response.json() as { code: string; type: string };
      expect(problem.code).toBe(code);
      found[code] = problem.type;
    }
    return found;
  }

  it('uses the origin the client addressed when PUBLIC_URL is not configured', async () => {
    expect(await types(plain)).toEqual({
      not_found: `${plain.baseUrl}/docs/errors#not_found`, unauthorized: `${plain.baseUrl}/docs/errors#unauthorized`,
      invalid_request: `${plain.baseUrl}/docs/errors#invalid_request`, no_subscription: `${plain.baseUrl}/docs/errors#no_subscription`,
    });
  });

  it('uses PUBLIC_URL (its path kept, no doubled slash) when it is configured', async () => {
    const base = 'https://credits.example.com/engine/docs/errors';
    expect(await types(behindProxy)).toEqual({
      not_found: `${base}#not_found`, unauthorized: `${base}#unauthorized`, invalid_request: `${base}#invalid_request`, no_subscription: `${base}#no_subscription`,
    });
  });
});
