import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Refusal } from '../../domain/refusals.js';
import { readAutoTopUp, saveAutoTopUp, settleTopUp } from '../../ledger/auto-top-up.js';
import { configureLedgerBatching, ledgerBatchStats } from '../../ledger/batching.js';
import { grantLot, readBalance } from '../../ledger/credits.js';
import { createSql, type Sql } from '../../ledger/db.js';
import { createQuote, endCreation, holdForQuote, LedgerItemError } from '../../ledger/spend.js';
import { createTestClock } from '../../ledger/test-clocks.js';
import { createWorkspace, insertApiKey, newId } from '../../ledger/workspaces.js';
import { freshDatabase } from '../helpers/database.js';

/**
 * Batched ledger commits (issue 15) against the path they replace: the same random history of holds, completions,
 * failures and replays over several workspaces runs on two mirrored worlds in one database, once through the
 * batcher (each round's operations submitted at once: one ledger_batch call, one commit) and once one call per
 * operation in the same order (ledger_batch keeps each workspace's items in their callers' order). Every answer (creation or refusal: insufficient_credits, quote_expired,
 * spending_limit_reached, creation_already_ended, ...) and every balance and journal must be the same.
 * Workspaces may have an automatic top-up (threshold, pack) whose pending top-up a round may settle as failed
 * first, so refusals and captures cross thresholds, re-arm and disarm inside one batch: the same top-ups must be
 * recorded and the same refusals say top_up_pending (the arming rule is per operation, not per transaction).
 */
const WORKSPACES = 4;
const AT = '2026-03-10T12:00:00Z';

type Op =
  | { kind: 'hold'; w: number; credits: number; expired: boolean; withKey: boolean; raises: boolean }
  | { kind: 'complete'; pick: number; reported: number }
  | { kind: 'fail'; pick: number }
  | { kind: 'replayHold'; pick: number }
  | { kind: 'replayComplete'; pick: number; reported: number }
  | { kind: 'settleTopUp'; w: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('hold' as const), w: fc.nat(WORKSPACES - 1), credits: fc.integer({ min: 1, max: 60 }),
    expired: fc.integer({ min: 0, max: 9 }).map((n) => n === 0), withKey: fc.boolean(),
    // An external_id over the column's 200-character check: the hold raises (23514), so its batch is sent again
    // with a savepoint per item (each item its own subtransaction): the rest must still answer as one by one.
    raises: fc.integer({ min: 0, max: 14 }).map((n) => n === 0) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('complete' as const), pick: fc.nat(), reported: fc.integer({ min: 0, max: 80 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('fail' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('replayHold' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('replayComplete' as const), pick: fc.nat(), reported: fc.integer({ min: 0, max: 80 }) }) },
  // The workspace's pending automatic top-up (if any) fails, before the round's calls go: nothing in flight, disarmed.
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('settleTopUp' as const), w: fc.nat(WORKSPACES - 1) }) },
);
const worldArb = fc.record({
  funds: fc.array(fc.integer({ min: 0, max: 300 }), { minLength: WORKSPACES, maxLength: WORKSPACES }),
  limits: fc.array(fc.option(fc.integer({ min: 10, max: 200 }), { nil: null }), { minLength: WORKSPACES, maxLength: WORKSPACES }),
  topUps: fc.array(fc.option(fc.record({ threshold: fc.integer({ min: 0, max: 200 }), pack: fc.constantFrom(100 as const, 500 as const) }), { nil: null }),
    { minLength: WORKSPACES, maxLength: WORKSPACES }),
  rounds: fc.array(fc.array(opArb, { minLength: 1, maxLength: 40, size: 'large' }), { minLength: 1, maxLength: 6 }),
});

type TopUpSetting = { threshold: number; pack: 100 | 500 } | null;

/**
 * A world: WORKSPACES workspaces on one test clock, each with a pack lot, a monthly lot, a budgeted key and
 * maybe an automatic top-up.
 */
async function makeWorld(sql: Sql, funds: number[], limits: (number | null)[], topUps: TopUpSetting[] = []) {
  const clock = await createTestClock(sql, new Date(AT));
  const workspaces = [];
  for (let w = 0; w < WORKSPACES; w += 1) {
    const { id } = await createWorkspace(sql, { name: `batched ${w}`, testClockId: clock.id });
    await sql`
      INSERT INTO subscriptions (id, workspace_id, plan, interval, status, current_period_start, current_period_end)
      VALUES (${newId('sub')}, ${id}, 'plus', 'month', 'active', ${new Date(AT)}, ${new Date('2026-04-10T12:00:00Z')})`;
    if (funds[w]! > 0) await grantLot(sql, { key: `${id}:pack`, workspaceId: id, source: 'pack', amount: funds[w]!, grantedAt: new Date(AT), expiresAt: null });
    await grantLot(sql, { key: `${id}:monthly`, workspaceId: id, source: 'monthly', amount: 40, grantedAt: new Date(AT),
      expiresAt: new Date('2026-04-10T12:00:00Z') });
    const key = await insertApiKey(sql, id, { name: `key ${w}`, dailyCreditLimit: limits[w] ?? null });
    const topUp = topUps[w];
    if (topUp) await saveAutoTopUp(sql, id, { enabled: true, threshold: topUp.threshold, pack: topUp.pack, monthly_limit_cents: 10_000_000 }, new Date(AT));
    workspaces.push({ id, keyId: key.id });
  }
  return { workspaces, creations: [] as { w: number; id: string; quoteId: string; keyed: boolean; reported?: number }[] };
}
type World = Awaited<ReturnType<typeof makeWorld>>;

/** What an answer says, without ids and with lots as amounts in burn order (the two worlds' ids differ). */
function shape(outcome: PromiseSettledResult<unknown>): unknown {
  if (outcome.status === 'rejected') {
    const error = outcome.reason as Error;
    // An unexpected error: the driver's (one by one) or the batch's LedgerItemError (the same SQLSTATE as code).
    return error instanceof Refusal ? { refused: error.code, detail: error.detail } : { error: (error as { code?: string }).code };
  }
  const value = outcome.value as { creation?: Record<string, unknown>; replayed?: boolean } & Record<string, unknown>;
  const c = (value.creation ?? value) as Record<string, any>;
  return {
    replayed: value.replayed, status: c.status, quoted: c.quoted, held: c.held, charged: c.charged, released: c.released,
    variance: c.variance, lots: c.lots.map((l: { credits: number }) => l.credits), model: c.model, key: c.api_key?.name ?? null,
    external_id: c.external_id, metadata: c.metadata,
  };
}

/** The calls of one round on one world (quotes made first, one by one); `run` decides at once or one by one. */
async function playRound(sql: Sql, world: World, ops: Op[], run: (calls: (() => Promise<unknown>)[]) => Promise<PromiseSettledResult<unknown>[]>) {
  const calls: (() => Promise<unknown>)[] = [];
  const after: ((outcome: PromiseSettledResult<unknown>) => void)[] = [];
  const pick = (n: number) => world.creations[n % world.creations.length];
  for (const op of ops) {
    if (op.kind === 'settleTopUp') {
      const ws = world.workspaces[op.w]!;
      const [pending] = await sql<{ id: string }[]>`SELECT id FROM auto_top_ups WHERE workspace_id = ${ws.id} AND status = 'pending'`;
      if (pending) await settleTopUp(sql, pending.id, { status: 'failed', failureCode: 'card_declined', at: new Date(AT) });
      continue;
    }
    if (op.kind === 'hold') {
      const ws = world.workspaces[op.w]!;
      const quote = await createQuote(sql, ws.id, { model: 'imagen-3', count: op.credits }, op.credits);
      if (op.expired) await sql`UPDATE quotes SET expires_at = ${new Date(AT)} WHERE id = ${quote.quote_id}`;
      calls.push(() => holdForQuote(sql, ws.id, quote.quote_id, op.raises ? { externalId: 'x'.repeat(201) } : op.withKey
        ? { apiKeyId: ws.keyId, externalId: `job-${op.credits}`, metadata: { round: 'x' } } : {}));
      after.push((o) => {
        if (o.status === 'fulfilled') {
          const { creation } = o.value as { creation: { id: string } };
          world.creations.push({ w: op.w, id: creation.id, quoteId: quote.quote_id, keyed: op.withKey });
        }
      });
      continue;
    }
    const c = world.creations.length > 0 ? pick(op.pick)! : undefined;
    if (!c) continue; // nothing to end yet: the same on both worlds
    const ws = world.workspaces[c.w]!;
    if (op.kind === 'replayHold') calls.push(() => holdForQuote(sql, ws.id, c.quoteId, c.keyed ? { apiKeyId: ws.keyId } : {}));
    else if (op.kind === 'fail') calls.push(() => endCreation(sql, ws.id, c.id, { status: 'failed' }));
    else {
      const reported = op.kind === 'replayComplete' && c.reported !== undefined && op.reported % 2 === 0 ? c.reported : op.reported;
      calls.push(() => endCreation(sql, ws.id, c.id, { status: 'succeeded', reported }));
      after.push((o) => { if (o.status === 'fulfilled' && c.reported === undefined) c.reported = reported; });
      continue;
    }
    after.push(() => {});
  }
  const outcomes = await run(calls);
  outcomes.forEach((o, i) => after[i]!(o));
  return outcomes.map(shape);
}

/** Balances and journals of a world, by workspace, without ids. */
async function ledgerOf(sql: Sql, world: World) {
  const balances = await Promise.all(world.workspaces.map((ws) => readBalance(sql, ws.id)));
  return Promise.all(world.workspaces.map(async (ws, w) => ({
    available: balances[w]!.balance.available,
    held: balances[w]!.balance.held,
    lots: balances[w]!.balance.lots.map((l) => [l.source, l.granted, l.remaining, l.held]),
    journal: await sql`SELECT kind, count(*)::int AS n, sum(amount)::int AS amount FROM ledger_entries
                       WHERE workspace_id = ${ws.id} GROUP BY kind ORDER BY kind`,
    notifications: (await sql`SELECT kind FROM notifications WHERE workspace_id = ${ws.id} ORDER BY kind`).map((r) => r.kind),
    keyDay: (await sql`SELECT used FROM api_key_daily_spend WHERE api_key_id = ${ws.keyId}`).map((r) => r.used),
    // The automatic top-ups recorded (in order) and the setting as GET /v1/auto-top-up shows it (armed by its rule).
    topUps: (await sql`SELECT cause, status, pack_credits, available FROM auto_top_ups WHERE workspace_id = ${ws.id} ORDER BY seq`)
      .map((r) => `${r.cause}:${r.status}:${r.pack_credits}:${r.available}`),
    topUpSetting: await readAutoTopUp(sql, ws.id, new Date(AT)).then((v) => v && {
      enabled: v.enabled, armed: v.armed, failures_in_row: v.failures_in_row, disabled_reason: v.disabled_reason, pending: v.pending !== null,
    }),
  })));
}

describe('batched ledger commits: the same answers as one call per operation', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let batched: Sql;
  let single: Sql;
  beforeAll(async () => {
    db = await freshDatabase();
    batched = createSql(db.url);
    single = createSql(db.url);
    await configureLedgerBatching(batched, { windowMs: 1, maxItems: 64, maxInFlight: 4 });
    await configureLedgerBatching(single, { maxItems: 1 });
  });
  afterAll(async () => {
    await batched?.end();
    await single?.end();
    await db?.drop();
  });

  it('random histories of concurrent holds, ends and replays over several workspaces: every answer and balance equal', { timeout: 600_000 }, async () => {
    const seed = Number(process.env.BATCH_SEED ?? Math.floor(Math.random() * 2 ** 31));
    console.log(`[batched-equivalence] seed ${seed} (BATCH_SEED=${seed} to replay)`);
    let rounds = 0;
    const answers = new Map<string, number>();
    let topUpsRecorded = 0;
    await fc.assert(fc.asyncProperty(worldArb, async ({ funds, limits, topUps, rounds: history }) => {
      const a = await makeWorld(batched, funds, limits, topUps);
      const b = await makeWorld(single, funds, limits, topUps);
      for (const ops of history) {
        const callsBefore = ledgerBatchStats(batched).spend?.calls ?? 0;
        const together = await playRound(batched, a, ops, (calls) => Promise.allSettled(calls.map((call) => call())));
        const oneByOne = await playRound(single, b, ops, async (calls) => {
          const outcomes: PromiseSettledResult<unknown>[] = [];
          for (const call of calls) outcomes.push(await call().then((value) => ({ status: 'fulfilled' as const, value }), (reason: unknown) => ({ status: 'rejected' as const, reason })));
          return outcomes;
        });
        expect(together).toEqual(oneByOne);
        for (const answer of together as { refused?: string; status?: string; detail?: { top_up_pending?: boolean } }[]) {
          const seen = answer.refused ?? answer.status ?? 'error';
          answers.set(seen, (answers.get(seen) ?? 0) + 1);
          if (answer.detail?.top_up_pending) answers.set('top_up_pending', (answers.get('top_up_pending') ?? 0) + 1);
        }
        // The round's operations went out at once: one ledger_batch call per group of workspaces (at most
        // maxInFlight calls side by side, each workspace's items in one of them).
        const calls = (ledgerBatchStats(batched).spend?.calls ?? 0) - callsBefore;
        if (together.length > 0) expect(calls).toBeGreaterThanOrEqual(1);
        expect(calls).toBeLessThanOrEqual(4);
        rounds += 1;
      }
      const ledger = await ledgerOf(batched, a);
      expect(ledger).toEqual(await ledgerOf(single, b));
      topUpsRecorded += ledger.reduce((n, ws) => n + ws.topUps.length, 0);
    }), { seed, numRuns: Number(process.env.BATCH_RUNS ?? 20) });
    console.log(`[batched-equivalence] ${rounds} rounds; answers ${JSON.stringify(Object.fromEntries(answers))}; `
      + `batcher ${JSON.stringify(ledgerBatchStats(batched))}; automatic top-ups recorded ${topUpsRecorded}`);
    // The histories met the refusals this is about.
    for (const code of ['insufficient_credits', 'spending_limit_reached', 'top_up_pending', 'error']) expect(answers.get(code) ?? 0).toBeGreaterThan(0);
    expect(topUpsRecorded).toBeGreaterThan(0);
  });

  it('an unexpected error in one item fails that item only: its neighbours in the batch commit', async () => {
    const world = await makeWorld(batched, [100, 100, 100, 100], [null, null, null, null]);
    // One call out at a time: the five items share one call (else they would be split over two by workspace).
    await configureLedgerBatching(batched, { maxInFlight: 1 });
    const quotes = await Promise.all(world.workspaces.map((ws) => createQuote(batched, ws.id, { model: 'imagen-3' }, 10)));
    const callsBefore = ledgerBatchStats(batched).spend?.calls ?? 0;
    const settled = await Promise.allSettled([
      ...quotes.map((q, w) => holdForQuote(batched, world.workspaces[w]!.id, q.quote_id)),
      // No such workspace: ledger_lock_workspace raises (SQLSTATE P0002), which aborts the first call.
      holdForQuote(batched, 'ws_missing', quotes[0]!.quote_id),
    ]);
    expect(settled.slice(0, WORKSPACES).map((s) => s.status)).toEqual(Array(WORKSPACES).fill('fulfilled'));
    const failed = settled[WORKSPACES] as PromiseRejectedResult;
    expect(failed.reason).toBeInstanceOf(LedgerItemError);
    expect((failed.reason as LedgerItemError).code).toBe('P0002');
    // One batch (sent twice inside it: as is, then with a savepoint per item).
    expect(ledgerBatchStats(batched).spend!.calls - callsBefore).toBe(1);
    await configureLedgerBatching(batched, { maxInFlight: 4 });
    for (const ws of world.workspaces) expect((await readBalance(single, ws.id)).balance).toMatchObject({ available: 130, held: 10 });
    const [journal] = await single<{ n: number }[]>`
      SELECT count(*)::int AS n FROM ledger_entries WHERE kind = 'hold' AND workspace_id IN ${single(world.workspaces.map((ws) => ws.id))}`;
    expect(journal!.n).toBe(WORKSPACES);
  });

  it('balance reads of several workspaces share one query and answer as one read each', async () => {
    const world = await makeWorld(batched, [5, 50, 500, 0], [null, null, null, null]);
    const before = ledgerBatchStats(batched).balance?.calls ?? 0;
    const together = await Promise.all(world.workspaces.map((ws) => readBalance(batched, ws.id)));
    expect((ledgerBatchStats(batched).balance?.calls ?? 0) - before).toBe(1);
    const alone = [];
    for (const ws of world.workspaces) alone.push(await readBalance(single, ws.id));
    expect(together).toEqual(alone);
    expect(together.map((r) => r.balance.available)).toEqual([45, 90, 540, 40]);
  });
});
