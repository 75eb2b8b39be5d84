import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, advanceClock, startStack } from '../helpers/stack.js';
import { eventually } from '../helpers/temporal.js';

/**
 * Breaker (balance) finding: a lost dispute's take-back of the customer balance (SPEC §4/§10, README "A dispute lost
 * after a change", ledger/lost-dispute-takeback.ts) reads the balance at that moment, so balance that an open invoice
 * holds at that moment escapes it and comes back afterwards when that invoice is voided. Max yearly 20880 paid
 * 2026-01-01 with pm_card_createDispute (a dispute opens); on 2026-07-02 a switch to monthly credits 10469 of unused
 * time (with the disputed lots counted as used, the total is −5853: balance 5853); on 07-03 an upgrade to Team waits
 * for 3-D Secure and holds all 5853; the dispute is lost: note 20880, and the take-back finds a balance of 0 (taken 0,
 * shortfall 10469); the upgrade lapses 23 hours later and its void gives the 5853 back. The customer ends with the
 * 20880 the bank returned AND 5853 of balance for the same half year. Expected, as when nothing holds the balance
 * (e2e dispute-lost-after-switch): the balance that comes back leaves it (balance 0 after the void).
 */
describe('breaker balance finding: a lost dispute while an open invoice holds the balance', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  const operator = () => stack.api(ADMIN_KEY);
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => stack?.stop());
  const settled = () => eventually(async () => (await stack.sql<{ n: number }[]>`
    SELECT (SELECT count(*) FROM sandbox_outbox WHERE delivered_at IS NULL)::int
         + (SELECT count(*) FROM webhook_events WHERE forwarded_at IS NULL)::int AS n`)[0]!.n, (n) => n === 0, 30_000);

  it('takes back the balance that comes back from the lapsed upgrade', async () => {
    const clockId = (await operator().post('/v1/test-clocks', { frozen_time: '2026-01-01T00:00:00Z' })).body.id as string;
    const ws = (await operator().post('/v1/workspaces', { name: 'lost dispute while balance held', test_clock_id: clockId })).body;
    const customer = stack.api(ws.api_key);
    const setCard = async (pm: string) => expect((await customer.put('/v1/payment-method', { payment_method: pm })).status).toBe(200);
    await setCard('pm_card_createDispute');
    expect((await customer.post('/v1/subscription', { plan: 'max', interval: 'year' })).status).toBe(201);
    await setCard('pm_card_visa');
    const [yearly] = await stack.sql<{ id: string }[]>`SELECT id FROM invoices WHERE workspace_id = ${ws.id} ORDER BY seq LIMIT 1`;
    const [sandboxDispute] = await eventually(() => stack.sql<{ id: string }[]>`SELECT id FROM sandbox_disputes WHERE workspace_id = ${ws.id}`, (rows) => rows.length === 1);
    await eventually(() => stack.sql`SELECT id FROM disputes WHERE invoice_id = ${yearly!.id}`, (rows) => rows.length === 1);
    await settled();
    const balance = async () => Number((await stack.sql`SELECT customer_balance_cents FROM workspaces WHERE id = ${ws.id}`)[0]!.customer_balance_cents);

    await advanceClock(operator(), clockId, '2026-07-02T00:00:00Z');
    // The dispute froze the year's lots, which a switch counts as used (README known limit): an "already used" line
    // lowers the credit to the balance (−5853 here instead of −7569); the unused-time line is still −10469.
    const switched = (await customer.post('/v1/subscription/change', { interval: 'month' })).body.latest_invoice;
    expect(switched.lines.find((l: { description: string }) => l.description.startsWith('Unused time on ')).amount_cents).toBe(-10469);
    const held = await balance();
    expect(held).toBe(-switched.total_cents);
    await advanceClock(operator(), clockId, '2026-07-03T00:00:00Z');
    await setCard('pm_card_authenticationRequired');
    const upgrade = await customer.post('/v1/subscription/change', { plan: 'team' });
    expect(upgrade.body).toMatchObject({ pending: true, latest_invoice: { status: 'open' } });
    expect(await stack.sql`SELECT balance_applied_cents::int AS applied FROM invoices WHERE id = ${upgrade.body.invoice_id}`).toEqual([{ applied: held }]);
    expect(await balance()).toBe(0);

    expect((await operator().post(`/v1/admin/sandbox/disputes/${sandboxDispute!.id}/close`, { outcome: 'lost' })).status).toBe(200);
    await eventually(() => stack.sql`SELECT id FROM credit_notes WHERE invoice_id = ${yearly!.id} AND status = 'issued'`, (rows) => rows.length === 1);
    await settled();
    // The upgrade lapses unpaid 23 hours after its request: voided, its balance given back.
    await setCard('pm_card_visa');
    await advanceClock(operator(), clockId, '2026-07-04T00:00:00Z');
    await settled();
    expect(await stack.sql`SELECT status FROM invoices WHERE id = ${upgrade.body.invoice_id}`).toEqual([{ status: 'void' }]);
    const [note] = await stack.sql<{ amount_cents: number; taken: number; shortfall: number }[]>`
      SELECT amount_cents::int, balance_taken_back_cents::int AS taken, balance_shortfall_cents::int AS shortfall FROM credit_notes WHERE invoice_id = ${yearly!.id}`;
    expect(note!.amount_cents).toBe(20880);
    // The bank returned the whole year; the switch's 10469 for the same half year must not stay with the customer as balance.
    expect({ balance: await balance(), takenPlusShortfall: note!.taken + note!.shortfall }).toEqual({ balance: 0, takenPlusShortfall: 10469 });
  });
});
