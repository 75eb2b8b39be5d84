import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Refusal } from '../../domain/refusals.js';
import { grantLot } from '../../ledger/credits.js';
import { createSql, type Sql } from '../../ledger/db.js';
import {
  createQuote, endCreation, expireStaleHolds, extendHold, HOLD_TTL_MS, holdForQuote, MAX_OPEN_QUOTES, QUOTE_TTL_MS,
} from '../../ledger/spend.js';
import { createTestClock } from '../../ledger/test-clocks.js';
import {
  createApiKey, createWorkspace, insertApiKey, listApiKeys, MAX_ACTIVE_API_KEYS, newId, revokeApiKey, updateApiKey,
} from '../../ledger/workspaces.js';
import { freshDatabase } from '../helpers/database.js';

/**
 * The spend path of SPEC §11 on real Postgres, through the ledger's own functions: per-key daily budgets
 * (atomic with the hold, by the workspace's UTC day, released credits back to the hold's day), hold
 * extensions (bounded, a lapsed hold never revived), and the caps on open quotes and active keys.
 */
describe('spend path: key budgets, hold extensions, caps', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  /** Enough connections that the parallel holds really run at once. */
  let sql: Sql;
  beforeAll(async () => {
    db = await freshDatabase();
    sql = createSql(db.url, { max: 50 });
  });
  afterAll(async () => {
    await sql?.end();
    await db?.drop();
  });

  const MINUTE = 60_000;
  const DAY = 24 * 60 * MINUTE;

  /** A workspace on its own test clock at `at`, with a live Plus subscription and `credits` in one lot. */
  async function fundedWorkspace(at: string, credits: number) {
    const clock = await createTestClock(sql, new Date(at));
    const { id: workspaceId } = await createWorkspace(sql, { name: 'Budgeted studio', testClockId: clock.id });
    const now = new Date(at);
    await sql`
      INSERT INTO subscriptions (id, workspace_id, plan, interval, status, current_period_start, current_period_end)
      VALUES (${newId('sub')}, ${workspaceId}, 'plus', 'month', 'active', ${now}, ${new Date(now.getTime() + 30 * DAY)})`;
    await grantLot(sql, { key: `${workspaceId}:grant`, workspaceId, source: 'pack', amount: credits, grantedAt: now, expiresAt: null });
    const setClock = (to: string) => sql`UPDATE test_clocks SET frozen_time = ${new Date(to)} WHERE id = ${clock.id}`;
    return { workspaceId, clockId: clock.id, setClock };
  }

  const quote = (workspaceId: string, credits: number, request: object = { model: 'imagen-3', resolution: 'high', count: 2 }) =>
    createQuote(sql, workspaceId, request, credits);
  const refusalOf = async (promise: Promise<unknown>): Promise<Refusal> => {
    const error = await promise.then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(Refusal);
    return error as Refusal;
  };
  const spendRow = (keyId: string, day: string) =>
    sql<{ used: number }[]>`SELECT used FROM api_key_daily_spend WHERE api_key_id = ${keyId} AND day = ${day}::date`.then((r) => r[0]?.used);

  it('50 parallel holds with a 100-credit key never exceed its limit: exactly floor(100/6) = 16 start, the rest get 402 spending_limit_reached', async () => {
    const { workspaceId } = await fundedWorkspace('2026-03-10T12:00:00Z', 1000);
    const key = await insertApiKey(sql, workspaceId, { name: 'Ana', dailyCreditLimit: 100 });
    const quotes = await Promise.all(Array.from({ length: 50 }, () => quote(workspaceId, 6)));
    const settled = await Promise.allSettled(quotes.map((q) => holdForQuote(sql, workspaceId, q.quote_id, { apiKeyId: key.id })));
    const started = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value.creation] : []));
    const refused = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as Refusal] : []));
    expect(started).toHaveLength(16);
    expect(started.reduce((sum, c) => sum + c.held, 0)).toBe(96);
    for (const creation of started) {
      expect(creation).toMatchObject({ api_key: { id: key.id, name: 'Ana' }, model: 'imagen-3', request: { model: 'imagen-3', resolution: 'high', count: 2 } });
    }
    expect(refused).toHaveLength(34);
    for (const refusal of refused) {
      expect(refusal.code).toBe('spending_limit_reached');
      // Every refusal came after the 16th hold: the limit, what the day used, and the next UTC midnight.
      expect(refusal.detail).toEqual({ daily_credit_limit: 100, used: 96, required: 6, resets_at: '2026-03-11T00:00:00.000Z' });
    }
    // Nothing beyond the held credits left the balance; the key's list entry shows today's use.
    const [balance] = await sql<{ held: number }[]>`SELECT sum(held)::int AS held FROM lots WHERE workspace_id = ${workspaceId}`;
    expect(balance!.held).toBe(96);
    expect((await listApiKeys(sql, workspaceId, key.id))[0]).toMatchObject({ name: 'Ana', daily_credit_limit: 100, used: 96 });
    // A capture of less gives the rest back to the day: 96 − (6 − 2) = 92, so one more hold of 6 fits (98).
    await endCreation(sql, workspaceId, started[0]!.id, { status: 'succeeded', reported: 2 });
    expect(await spendRow(key.id, '2026-03-10')).toBe(92);
    expect((await holdForQuote(sql, workspaceId, (await quote(workspaceId, 6)).quote_id, { apiKeyId: key.id })).creation.status).toBe('running');
    expect(await spendRow(key.id, '2026-03-10')).toBe(98);
  });

  it('counts a hold on the UTC day it was made: resets at midnight of the workspace\'s time, and a release goes back to the hold\'s day', async () => {
    const { workspaceId, setClock } = await fundedWorkspace('2026-03-10T23:30:00Z', 1000);
    const key = await insertApiKey(sql, workspaceId, { dailyCreditLimit: 10 });
    const hold = async () => holdForQuote(sql, workspaceId, (await quote(workspaceId, 6)).quote_id, { apiKeyId: key.id });
    const lateHold = (await hold()).creation;
    const refused = await refusalOf(hold());
    expect(refused.code).toBe('spending_limit_reached');
    expect(refused.detail).toMatchObject({ daily_credit_limit: 10, used: 6, resets_at: '2026-03-11T00:00:00.000Z' });

    await setClock('2026-03-11T00:10:00Z');
    const nextDay = (await hold()).creation;
    expect(await spendRow(key.id, '2026-03-11')).toBe(6);
    // The hold made before midnight fails now: its 6 credits go back to March 10, not to today.
    await endCreation(sql, workspaceId, lateHold.id, { status: 'failed' });
    expect(await spendRow(key.id, '2026-03-10')).toBe(0);
    expect(await spendRow(key.id, '2026-03-11')).toBe(6);
    expect((await refusalOf(hold())).detail).toMatchObject({ used: 6, resets_at: '2026-03-12T00:00:00.000Z' });
    expect((await listApiKeys(sql, workspaceId, key.id))[0]!.used).toBe(6);
    // Removing the limit lets the key hold again; its use keeps counting.
    await updateApiKey(sql, workspaceId, key.id, { dailyCreditLimit: null });
    await hold();
    expect((await listApiKeys(sql, workspaceId, key.id))[0]).toMatchObject({ daily_credit_limit: null, used: 12 });
    await endCreation(sql, workspaceId, nextDay.id, { status: 'succeeded', reported: 6 });
    expect(await spendRow(key.id, '2026-03-11')).toBe(12);
  });

  it('checks the key budget before the balance and never asks for a top-up then; a refusal for want of credits records one (top_up_pending)', async () => {
    const { workspaceId } = await fundedWorkspace('2026-03-10T12:00:00Z', 4);
    // Automatic top-up on (SPEC §11), armed: any refusal for want of credits is a crossing.
    await sql`INSERT INTO auto_top_up_settings (workspace_id, enabled, threshold, pack_credits, monthly_limit_cents, updated_at)
              VALUES (${workspaceId}, true, 10, 100, 100000, now())`;
    const topUps = () => sql<{ trigger_key: string; cause: string }[]>`SELECT trigger_key, cause FROM auto_top_ups WHERE workspace_id = ${workspaceId}`;
    const key = await insertApiKey(sql, workspaceId, { dailyCreditLimit: 5 });
    const refused = await refusalOf(holdForQuote(sql, workspaceId, (await quote(workspaceId, 6)).quote_id, { apiKeyId: key.id }));
    expect(refused.code).toBe('spending_limit_reached');
    expect(refused.detail.top_up_pending).toBeUndefined();
    expect(await topUps()).toEqual([]);
    // Within the budget but beyond the balance: insufficient_credits with the balance's detail and the hook's answer.
    const shortQuote = await quote(workspaceId, 5);
    const short = await refusalOf(holdForQuote(sql, workspaceId, shortQuote.quote_id, { apiKeyId: key.id }));
    expect([short.code, short.detail]).toEqual(['insufficient_credits', { required: 5, available: 4, top_up_pending: true }]);
    expect(await topUps()).toEqual([{ trigger_key: `refusal:${shortQuote.quote_id}`, cause: 'refusal' }]);
    expect(await spendRow(key.id, '2026-03-10')).toBeUndefined();
  });

  it('extends a long job\'s hold so it is captured in full after the first hour; never revives a lapsed hold; at most 24 hours in all', async () => {
    const { workspaceId, clockId, setClock } = await fundedWorkspace('2026-03-10T10:00:00Z', 100);
    const video = { model: 'veo-2', duration_s: 10 };
    const long = (await holdForQuote(sql, workspaceId, (await quote(workspaceId, 20, video)).quote_id)).creation;
    expect(long.expires_at).toBe(new Date(Date.parse('2026-03-10T10:00:00Z') + HOLD_TTL_MS).toISOString());
    await setClock('2026-03-10T10:50:00Z');
    const extended = await extendHold(sql, workspaceId, long.id, 60 * MINUTE);
    expect(extended.expires_at).toBe('2026-03-10T11:50:00.000Z');
    // Sets an absolute time: the same request again changes nothing, and a shorter one never shortens it.
    expect((await extendHold(sql, workspaceId, long.id, 60 * MINUTE)).expires_at).toBe('2026-03-10T11:50:00.000Z');
    expect((await extendHold(sql, workspaceId, long.id, MINUTE)).expires_at).toBe('2026-03-10T11:50:00.000Z');
    await setClock('2026-03-10T11:40:00Z');
    expect(await expireStaleHolds(sql, { testClockId: clockId })).toBe(0);
    const done = await endCreation(sql, workspaceId, long.id, { status: 'succeeded', reported: 20 });
    expect(done).toMatchObject({ status: 'succeeded', charged: 20, released: 0, expires_at: null, model: 'veo-2' });

    // Not extended: lapsed at 12:40; it cannot be revived before or after the sweep.
    const lapsing = (await holdForQuote(sql, workspaceId, (await quote(workspaceId, 20, video)).quote_id)).creation;
    await setClock('2026-03-10T12:41:00Z');
    expect((await refusalOf(extendHold(sql, workspaceId, lapsing.id, 60 * MINUTE))).code).toBe('creation_not_running');
    expect(await expireStaleHolds(sql, { testClockId: clockId })).toBe(1);
    expect((await refusalOf(extendHold(sql, workspaceId, lapsing.id, 60 * MINUTE))).code).toBe('creation_not_running');

    // 24 hours from the creation at most: beyond is refused with the latest possible expiry, nothing changes.
    const capped = (await holdForQuote(sql, workspaceId, (await quote(workspaceId, 20, video)).quote_id)).creation;
    await setClock('2026-03-10T13:00:00Z');
    const beyond = await refusalOf(extendHold(sql, workspaceId, capped.id, 24 * 60 * MINUTE));
    expect(beyond.code).toBe('hold_extension_limit');
    expect(beyond.detail).toEqual({ latest_expires_at: '2026-03-11T12:41:00.000Z', max_extend_by_s: 85_260 });
    expect((await extendHold(sql, workspaceId, capped.id, 85_260_000)).expires_at).toBe('2026-03-11T12:41:00.000Z');
    expect((await refusalOf(extendHold(sql, workspaceId, 'cr_unknown', MINUTE))).code).toBe('creation_not_found');
  });

  it(`caps open quotes at ${MAX_OPEN_QUOTES} per workspace: used or expired ones free a place`, async () => {
    const { workspaceId, setClock } = await fundedWorkspace('2026-03-10T12:00:00Z', 100);
    const quotes = [];
    for (let i = 0; i < MAX_OPEN_QUOTES; i++) quotes.push(await quote(workspaceId, 1));
    const refused = await refusalOf(quote(workspaceId, 1));
    expect([refused.code, refused.detail]).toEqual(['open_quote_limit_reached', { limit: MAX_OPEN_QUOTES }]);
    // Concurrent estimates at the cap: none gets through (the count runs under the workspace lock).
    const racing = await Promise.allSettled(Array.from({ length: 10 }, () => quote(workspaceId, 1)));
    expect(racing.every((r) => r.status === 'rejected')).toBe(true);
    await holdForQuote(sql, workspaceId, quotes[0]!.quote_id);
    await quote(workspaceId, 1);
    await refusalOf(quote(workspaceId, 1));
    await setClock(new Date(Date.parse('2026-03-10T12:00:00Z') + QUOTE_TTL_MS).toISOString());
    expect((await quote(workspaceId, 1)).credits).toBe(1);
  });

  it(`caps active API keys at ${MAX_ACTIVE_API_KEYS} per workspace, under concurrency; a revoked key frees a place`, async () => {
    const { workspaceId } = await fundedWorkspace('2026-03-10T12:00:00Z', 1);
    // The workspace's first key plus 120 attempts at once: exactly 99 more.
    const settled = await Promise.allSettled(Array.from({ length: 120 }, (_, i) => createApiKey(sql, workspaceId, { name: `tool ${i}` })));
    expect(settled.filter((s) => s.status === 'fulfilled')).toHaveLength(MAX_ACTIVE_API_KEYS - 1);
    for (const s of settled.filter((r) => r.status === 'rejected')) expect((s.reason as Refusal).code).toBe('api_key_limit_reached');
    const keys = await listApiKeys(sql, workspaceId);
    expect(keys.filter((k) => k.revoked_at === null)).toHaveLength(MAX_ACTIVE_API_KEYS);
    await revokeApiKey(sql, workspaceId, keys[0]!.id);
    expect((await createApiKey(sql, workspaceId, {})).apiKey).toMatch(/^sk_ws_/);
  });
});
