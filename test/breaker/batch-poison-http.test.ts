import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configureLedgerBatching, ledgerBatchStats } from '../../ledger/batching.js';
import { grantLot } from '../../ledger/credits.js';
import { startLightApp } from '../security/light-app.js';

/**
 * Breaker (issue 15), over HTTP: another tenant's POST /v1/creations/%00/complete (a creation id the path schema
 * accepts: any 1–64 characters) lands in the same ledger_batch call as a victim's POST /v1/creations. The victim
 * must get 201 and its hold; on the batched path it gets 400 invalid_request "text must not contain NUL" (the
 * whole batch's jsonb parameter is refused, and api/errors.ts maps 22P05 to 400) and nothing is held.
 */
let light: Awaited<ReturnType<typeof startLightApp>>;
beforeAll(async () => {
  light = await startLightApp();
  await configureLedgerBatching(light.sql, { windowMs: 50, maxItems: 64, maxInFlight: 4 });
});
afterAll(async () => light?.stop());

describe('breaker: a NUL creation id over HTTP', () => {
  it("another tenant's %00 completion does not fail a victim's hold in the same batch", async () => {
    const victim = await light.workspace('victim');
    const attacker = await light.workspace('attacker');
    const at = new Date('2026-01-01T00:00:00Z');
    await grantLot(light.sql, { key: `${victim.id}:m`, workspaceId: victim.id, source: 'monthly', amount: 500, grantedAt: at, expiresAt: new Date('2026-02-01T00:00:00Z') });
    const v = light.api(victim.apiKey);
    const a = light.api(attacker.apiKey);
    const quote = await v.post('/v1/credits/estimate', { model: 'imagen-3', count: 1 });
    expect(quote.status).toBe(201);
    const before = ledgerBatchStats(light.sql).spend?.calls ?? 0;
    const [hold, poison] = await Promise.all([
      v.post('/v1/creations', { quote_id: quote.body.quote_id }),
      a.post('/v1/creations/%00/complete', { credits: 1 }),
    ]);
    expect((ledgerBatchStats(light.sql).spend?.calls ?? 0) - before).toBe(1); // one shared call (else rerun: timing)
    expect(poison.status).toBe(400); // the attacker's own answer is fine as it is
    expect({ status: hold.status, code: hold.body?.code ?? hold.body?.type }).toEqual({ status: 201, code: undefined });
  });
});
