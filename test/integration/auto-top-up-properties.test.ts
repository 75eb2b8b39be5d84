import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pendingTopUps, saveAutoTopUp, settleTopUp } from '../../ledger/auto-top-up.js';
import { expireLot, getBalance, grantLot } from '../../ledger/credits.js';
import type { Sql } from '../../ledger/db.js';
import { createTestClock } from '../../ledger/test-clocks.js';
import { createWorkspace, newId } from '../../ledger/workspaces.js';
import { freshDatabase } from '../helpers/database.js';

/**
 * Property: one top-up per crossing (SPEC §11), on real Postgres. Random histories of grants, expiries (which
 * call the hook in their transaction), capture and refusal checks, top-ups ending paid (the pack granted) or
 * failed, and settings saved again, against a model stated in events: the setting is armed when saved and
 * whenever the balance was at or above the threshold since the last crossing; a capture or expiry check below
 * the threshold, or any refusal, is a crossing; an armed, enabled crossing records a top-up unless one is in
 * flight, and disarms; two failures in a row disable. After every step: the top-ups recorded, the one in flight
 * (never two), the hook's answer (top_up_pending exactly while one is in flight, on a refusal or below the
 * threshold) and `enabled` equal the model's.
 * AUTO_TOP_UP_SEED replays a run (the seed is printed).
 */
type Op =
  | { kind: 'grant'; credits: number }
  | { kind: 'expire'; pick: number }
  | { kind: 'check'; cause: 'capture' | 'refusal' }
  | { kind: 'settle'; outcome: 'paid' | 'failed' }
  | { kind: 'save'; threshold: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('grant' as const), credits: fc.integer({ min: 1, max: 150 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('expire' as const), pick: fc.nat() }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('check' as const), cause: fc.constantFrom('capture' as const, 'refusal' as const) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('settle' as const), outcome: fc.constantFrom('paid' as const, 'failed' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('save' as const), threshold: fc.integer({ min: 0, max: 200 }) }) },
);

describe('automatic top-up: one per crossing (property)', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let sql: Sql;
  beforeAll(async () => {
    db = await freshDatabase();
    sql = db.sql;
  });
  afterAll(async () => db?.drop());
  const T0 = new Date('2026-05-01T00:00:00Z');

  it('records exactly the model\'s top-ups, never two in flight, and says top_up_pending exactly while one is', async () => {
    const seed = Number(process.env.AUTO_TOP_UP_SEED ?? Math.floor(Math.random() * 2 ** 31));
    console.log(`[auto-top-up-properties] seed ${seed} (AUTO_TOP_UP_SEED=${seed} to replay)`);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 200 }), fc.array(op, { minLength: 1, maxLength: 30 }), async (threshold0, ops) => {
        const clock = await createTestClock(sql, T0);
        const { id: ws } = await createWorkspace(sql, { name: 'property', testClockId: clock.id });
        await sql`INSERT INTO subscriptions (id, workspace_id, plan, interval, status, current_period_start, current_period_end)
                  VALUES (${newId('sub')}, ${ws}, 'max', 'month', 'active', ${T0}, '2026-05-31')`;
        const save = (threshold: number) => saveAutoTopUp(sql, ws, { enabled: true, threshold, pack: 100, monthly_limit_cents: 1_000_000 }, T0);
        await save(threshold0);
        const model = { threshold: threshold0, enabled: true, armed: true, pending: false, failures: 0, recorded: 0 };
        const lots: number[] = [];
        let balance = 0;
        let step = 0;
        /** A journal entry leaves the balance at `after`: at or above the threshold, the setting is armed again. */
        const entry = (after: number) => {
          balance = after;
          if (after >= model.threshold) model.armed = true;
        };
        /**
         * The hook's rule as the model states it; answers whether a top-up is in flight, except for a capture or
         * an expiry at or above the threshold: the spend path's common case answers {} at once (its caller
         * ignores the answer; only a refusal's 402 shows it).
         */
        const check = (cause: string, available: number) => {
          if (cause !== 'refusal' && available >= model.threshold) {
            model.armed = true;
            return false;
          } else if (model.enabled && model.armed) {
            model.armed = false;
            if (!model.pending) {
              model.pending = true;
              model.recorded += 1;
            }
          }
          return model.pending;
        };
        const grant = async (credits: number, source: 'monthly' | 'pack') => {
          const { lotId } = await grantLot(sql, {
            key: `${ws}:grant:${step}`, workspaceId: ws, source, amount: credits, grantedAt: T0,
            expiresAt: source === 'pack' ? null : new Date('2027-01-01T00:00:00Z'),
          });
          if (source === 'monthly') lots.push(lotId);
          entry(balance + credits);
        };

        for (const o of ops) {
          step += 1;
          if (o.kind === 'grant') await grant(o.credits, 'monthly');
          if (o.kind === 'expire' && lots.length > 0) {
            const [lotId] = lots.splice(o.pick % lots.length, 1);
            const { expired } = await expireLot(sql, { workspaceId: ws, lotId: lotId!, at: T0 });
            entry(balance - expired);
            check('expiry', balance);
          }
          if (o.kind === 'check') {
            const key = `${o.cause}:${ws}:${step}`;
            const [row] = await sql<{ r: Record<string, unknown> }[]>`SELECT ledger_auto_top_up_check(${ws}, ${balance}, ${o.cause}, ${key}, ${T0}) AS r`;
            expect(row!.r, `step ${step}: the hook's answer`).toEqual(check(o.cause, balance) ? { top_up_pending: true } : {});
          }
          if (o.kind === 'settle' && model.pending) {
            const [pending] = (await pendingTopUps(sql, 1000)).filter((t) => t.workspace_id === ws);
            expect(await settleTopUp(sql, pending!.id, { status: o.outcome, at: T0 })).toBe(true);
            model.pending = false;
            model.failures = o.outcome === 'paid' ? 0 : model.failures + 1;
            if (model.failures >= 2) model.enabled = false;
            if (o.outcome === 'paid') await grant(100, 'pack'); // what the purchase delivers
          }
          if (o.kind === 'save') {
            await save(o.threshold);
            Object.assign(model, { threshold: o.threshold, enabled: true, armed: true, failures: 0 });
          }

          const rows = await sql<{ status: string }[]>`SELECT status FROM auto_top_ups WHERE workspace_id = ${ws}`;
          expect(rows.length, `step ${step}: top-ups recorded`).toBe(model.recorded);
          expect(rows.filter((r) => r.status === 'pending').length, `step ${step}: in flight`).toBe(model.pending ? 1 : 0);
          const [setting] = await sql<{ enabled: boolean }[]>`SELECT enabled FROM auto_top_up_settings WHERE workspace_id = ${ws}`;
          expect(setting!.enabled, `step ${step}: enabled`).toBe(model.enabled);
        }
        expect((await getBalance(sql, ws)).available).toBe(balance);
      }),
      { seed, numRuns: Number(process.env.AUTO_TOP_UP_PROPERTY_RUNS ?? 40) },
    );
  });
});
