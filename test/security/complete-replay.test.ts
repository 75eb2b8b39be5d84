import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grantLot } from '../../ledger/credits.js';
import { newId } from '../../ledger/workspaces.js';
import { startLightApp } from './light-app.js';

/**
 * Issue 16, finding 8: completing a creation again with another amount answered 200 showing the first charge
 * (`credits: 0`, then `credits: 4`), so the caller could not tell its amount was ignored. Invariant: the same
 * body replays the same 200 answer; another amount is 409 `creation_already_ended` naming the first amount;
 * ending it another way stays 409 `creation_not_running`; none of these changes the balance or the journal.
 */
describe('completing a creation again (finding 8)', () => {
  let app: Awaited<ReturnType<typeof startLightApp>>;
  beforeAll(async () => {
    app = await startLightApp();
  });
  afterAll(async () => app?.stop());

  /** A workspace with a live subscription and 100 pack credits, and its API client. */
  async function fundedCustomer() {
    const workspace = await app.workspace('replaying studio');
    const at = new Date('2026-01-01T00:00:00Z');
    await app.sql`
      INSERT INTO subscriptions (id, workspace_id, plan, interval, status, current_period_start, current_period_end)
      VALUES (${newId('sub')}, ${workspace.id}, 'plus', 'month', 'active', ${at}, ${new Date('2026-01-31T00:00:00Z')})`;
    await grantLot(app.sql, { key: `${workspace.id}:pack`, workspaceId: workspace.id, source: 'pack', amount: 100, grantedAt: at, expiresAt: null });
    return app.api(workspace.apiKey);
  }

  async function started(customer: ReturnType<typeof app.api>): Promise<string> {
    const quote = await customer.post('/v1/credits/estimate', { model: 'imagen-3', resolution: 'high', count: 2 });
    expect(quote.body.credits).toBe(6);
    const creation = await customer.post('/v1/creations', { quote_id: quote.body.quote_id });
    expect(creation.status).toBe(201);
    return creation.body.id;
  }

  const state = async (customer: ReturnType<typeof app.api>) => ({
    credits: (await customer.get('/v1/credits')).body,
    ledger: (await customer.get('/v1/ledger?limit=100')).body,
  });

  it('replays the same completion, refuses another amount (409 creation_already_ended naming the first) and a failure after success', async () => {
    const customer = await fundedCustomer();
    const id = await started(customer);
    const first = await customer.post(`/v1/creations/${id}/complete`, { credits: 4 });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ status: 'succeeded', charged: 4, released: 2 });
    const before = await state(customer);
    expect(before.credits).toMatchObject({ available: 96, held: 0 });

    const again = await customer.post(`/v1/creations/${id}/complete`, { credits: 4 });
    expect([again.status, again.body]).toEqual([200, first.body]);

    for (const credits of [0, 5, 6, 40]) {
      const other = await customer.post(`/v1/creations/${id}/complete`, { credits });
      expect(other.status).toBe(409);
      expect(other.contentType).toMatch(/^application\/problem\+json/);
      expect(other.body).toMatchObject({ code: 'creation_already_ended', reported: 4, charged: 4 });
    }
    const failed = await customer.post(`/v1/creations/${id}/fail`);
    expect([failed.status, failed.body.code]).toEqual([409, 'creation_not_running']);
    expect(await state(customer)).toEqual(before);
  });

  it('a completion over the quote replays with its reported amount (charged capped, variance kept); a failed creation cannot be completed', async () => {
    const customer = await fundedCustomer();
    const id = await started(customer);
    const first = await customer.post(`/v1/creations/${id}/complete`, { credits: 9 });
    expect(first.body).toMatchObject({ charged: 6, variance: 3 });
    expect((await customer.post(`/v1/creations/${id}/complete`, { credits: 9 })).body).toEqual(first.body);
    const other = await customer.post(`/v1/creations/${id}/complete`, { credits: 6 });
    expect([other.status, other.body.code, other.body.reported, other.body.charged]).toEqual([409, 'creation_already_ended', 9, 6]);

    const failedId = await started(customer);
    expect((await customer.post(`/v1/creations/${failedId}/fail`)).status).toBe(200);
    expect((await customer.post(`/v1/creations/${failedId}/fail`)).status).toBe(200);
    const completed = await customer.post(`/v1/creations/${failedId}/complete`, { credits: 0 });
    expect([completed.status, completed.body.code]).toEqual([409, 'creation_not_running']);
  });
});
