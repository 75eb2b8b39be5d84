import { describe, expect, it } from 'vitest';
import { viewOf } from '../../domain/lifecycle/index.js';
import { type Action, World } from '../helpers/lifecycle-world.js';

/**
 * Histories that once took or lost money (issue 11's faults, and what the invariant test found since),
 * replayed on the pure core inside the simulated world: every step is checked against the invariants,
 * and each test asserts the amounts, dates and statuses SPEC §4 asks for.
 */
const at = (iso: string) => Date.parse(iso);
const DAY = 86_400_000;

function play(world: World, steps: [string | null, Action][]): World {
  for (const [when, action] of steps) {
    if (when !== null) world.apply({ kind: 'advance', ms: at(when) - world.now });
    world.apply(action);
  }
  world.checkHistory();
  return world;
}
const advanceTo = (world: World, iso: string) => world.apply({ kind: 'advance', ms: at(iso) - world.now });
const charges = (world: World) => world.invoices.map((i) => [new Date(i.createdAt).toISOString().slice(0, 10), i.kind, i.total, i.status]);
const plansLots = (world: World) => world.lots.filter((l) => l.source !== 'pack').map((l) => [l.source, l.credits - l.clawed, new Date(l.grantedAt).toISOString().slice(0, 10)]);

describe('lifecycle regressions (pure core)', () => {
  it('fault 1: a downgrade scheduled where a pause starts takes effect there; the pause end charges the new plan', () => {
    const world = play(new World({ plan: 'generative', interval: 'month', start: at('2043-01-05T00:00:00Z'), card: 'visa' }), [
      ['2043-01-10T00:00:00Z', { kind: 'change', plan: 'max' }],
      ['2043-01-11T00:00:00Z', { kind: 'pause', cycles: 1 }],
    ]);
    advanceTo(world, '2043-02-04T00:00:00Z');
    expect([world.state.status, world.state.plan, world.state.scheduledChange]).toEqual(['paused', 'max', null]);
    expect(charges(world)).toEqual([['2043-01-05', 'subscription', 5900, 'paid']]);
    advanceTo(world, '2043-03-06T00:00:00Z');
    expect(charges(world).at(-1)).toEqual(['2043-03-06', 'subscription', 2900, 'paid']);
    expect(plansLots(world).at(-1)).toEqual(['monthly', 400, '2043-03-06']);
    expect([world.state.plan, viewOf(world.state).current_period_start]).toEqual(['max', '2043-03-06T00:00:00.000Z']);
    world.checkHistory();
  });

  it('fault 2: re-subscribing onto a lower limit keeps only the most recently used custom models', () => {
    const world = play(new World({ plan: 'generative', interval: 'month', start: at('2043-01-01T00:00:00Z'), card: 'visa' }), [
      [null, { kind: 'activate_model' }], ['2043-01-02T00:00:00Z', { kind: 'activate_model' }],
      ['2043-01-03T00:00:00Z', { kind: 'activate_model' }], ['2043-01-04T00:00:00Z', { kind: 'activate_model' }],
      ['2043-01-05T00:00:00Z', { kind: 'use_model', pick: 1 }],
      [null, { kind: 'cancel' }],
      ['2043-02-05T00:00:00Z', { kind: 'resubscribe', plan: 'plus', interval: 'month' }],
    ]);
    expect(world.state.status).toBe('active');
    expect(world.models.filter((m) => m.active).map((m) => m.id)).toEqual([2]);
  });

  it('fault 3: an upgrade waiting for 3-D Secure lapses at the period end, before the renewal', () => {
    const world = play(new World({ plan: 'plus', interval: 'month', start: at('2043-07-01T00:00:00Z'), card: 'visa' }), [
      [null, { kind: 'card', card: '3ds' }],
      ['2043-07-30T12:00:00Z', { kind: 'change', plan: 'max' }],
    ]);
    expect(viewOf(world.state).pending_upgrade?.expires_at).toBe('2043-07-31T00:00:00.000Z');
    play(world, [[null, { kind: 'card', card: 'visa' }], ['2043-07-31T06:00:00Z', { kind: 'complete_3ds', pick: 0 }]]);
    expect(charges(world)).toEqual([
      ['2043-07-01', 'subscription', 1200, 'paid'], ['2043-07-30', 'upgrade', 28, 'void'], ['2043-07-31', 'subscription', 1200, 'paid'],
    ]);
    expect([world.state.plan, world.state.pendingChange]).toEqual(['plus', null]);
  });

  it('fault 4: yearly → monthly → yearly within two minutes grants a credit or two, not 800', () => {
    const world = play(new World({ plan: 'max', interval: 'year', start: at('2043-01-01T00:00:00Z'), card: 'visa' }), [
      ['2043-01-01T00:01:00Z', { kind: 'change', interval: 'month' }],
      ['2043-01-01T00:02:00Z', { kind: 'change', interval: 'year' }],
    ]);
    expect(plansLots(world)).toEqual([['monthly', 400, '2043-01-01'], ['monthly', 1, '2043-01-01'], ['monthly', 1, '2043-01-01']]);
  });

  it('fault 5: next_due_at of a yearly plan is its renewal all year long', () => {
    const world = new World({ plan: 'max', interval: 'year', start: at('2043-01-10T00:00:00Z'), card: 'visa' });
    for (const day of ['2043-02-10', '2043-03-01', '2043-06-15', '2043-12-31']) {
      advanceTo(world, `${day}T00:00:00Z`);
      expect(viewOf(world.state).next_due_at).toBe('2044-01-10T00:00:00.000Z');
    }
  });

  it('fault 6: while paused the view shows the pause, nothing past as upcoming', () => {
    const world = play(new World({ plan: 'max', interval: 'month', start: at('2043-01-01T00:00:00Z'), card: 'visa' }), [
      ['2043-01-10T00:00:00Z', { kind: 'change', plan: 'plus' }],
      [null, { kind: 'pause', cycles: 1 }],
      ['2043-02-05T00:00:00Z', { kind: 'advance', ms: 0 }],
    ]);
    expect(viewOf(world.state)).toMatchObject({
      status: 'paused', plan: 'plus', scheduled_change: null, current_period_start: '2043-01-31T00:00:00.000Z',
      current_period_end: '2043-03-02T00:00:00.000Z', next_due_at: '2043-03-02T00:00:00.000Z',
      pause: { cycles: 1, starts_at: '2043-01-31T00:00:00.000Z', resumes_at: '2043-03-02T00:00:00.000Z' },
    });
  });

  it('fault 8: a declined first payment says why, is paid by a new card at once, or ends at once when canceled', () => {
    const world = new World({ plan: 'plus', interval: 'month', start: at('2043-09-01T00:00:00Z'), card: 'declined' });
    expect(viewOf(world.state)).toMatchObject({
      status: 'incomplete', incomplete_payment: { outcome: 'declined', decline_code: 'card_declined', invoice_id: 'in_1', expires_at: '2043-09-01T23:00:00.000Z' },
    });
    play(world, [['2043-09-01T02:00:00Z', { kind: 'card', card: 'visa' }]]);
    expect([world.state.status, charges(world), plansLots(world)]).toEqual(['active', [['2043-09-01', 'subscription', 1200, 'paid']], [['monthly', 150, '2043-09-01']]]);

    const canceled = play(new World({ plan: 'plus', interval: 'month', start: at('2043-09-01T00:00:00Z'), card: 'declined' }), [[null, { kind: 'cancel' }]]);
    expect([canceled.state.status, charges(canceled)]).toEqual(['canceled', [['2043-09-01', 'subscription', 1200, 'void']]]);
  });

  it('found: three interval switches at the subscribe instant each have their own invoice and grant (cycle in the business key)', () => {
    const world = play(new World({ plan: 'plus', interval: 'month', start: at('2043-01-01T00:00:00Z'), card: 'visa' }), [
      [null, { kind: 'change', interval: 'year' }], [null, { kind: 'change', interval: 'month' }], [null, { kind: 'change', interval: 'year' }],
    ]);
    expect(new Set(world.invoices.map((i) => i.businessKey)).size).toBe(4);
    expect(charges(world).map((c) => c[2])).toEqual([1200, 8640 - 1200, 1200 - 8640, 8640 - 1200]);
  });

  it('found: switching onto fewer credits than the current lot\'s unused part claws the difference back', () => {
    const world = play(new World({ plan: 'team', interval: 'month', start: at('2043-01-01T00:00:00Z'), card: 'visa' }), [
      ['2043-01-16T00:00:00Z', { kind: 'change', plan: 'plus', interval: 'year' }],
    ]);
    // Half of the month unused: floor(6000 × 15/30) = 3000 deducted; Plus gives 150, so 2850 are taken back.
    expect(plansLots(world)).toEqual([['monthly', 3150, '2043-01-01']]);
  });

  it('found: a first invoice paid after 3-D Secure starts the period it was billed for', () => {
    const world = play(new World({ plan: 'max', interval: 'month', start: at('2043-01-01T00:00:00Z'), card: '3ds' }), [
      ['2043-01-01T05:00:00Z', { kind: 'complete_3ds', pick: 0 }],
    ]);
    expect(world.state.status).toBe('active');
    expect(world.lots.map((l) => [new Date(l.grantedAt).toISOString(), new Date(l.expiresAt!).toISOString()])).toEqual([
      ['2043-01-01T05:00:00.000Z', new Date(at('2043-01-31T00:00:00Z') + 30 * DAY).toISOString()],
    ]);
  });

  it('found: the upcoming invoice counts the balance a waiting switch holds, which returns when the switch lapses unpaid', () => {
    const world = play(new World({ plan: 'plus', interval: 'year', start: at('2026-01-01T00:00:00Z'), card: 'visa' }), [
      [null, { kind: 'card', card: '3ds' }],
      [null, { kind: 'change', interval: 'month' }], // −7569-like credit: a balance
      [null, { kind: 'change', plan: 'generative', interval: 'year' }], // waits for 3-D Secure, holding that balance
    ]);
    expect(world.state.pendingChange).not.toBeNull();
    // Passes only if the renewal after the lapse applies the returned balance exactly as shown before it.
    world.apply({ kind: 'advance_to_period_end', offsetMs: 60_000 });
    expect(world.state.pendingChange).toBeNull();
    world.checkHistory();
  });

  it('found: an operator\'s cancel-now ends at once; a restart the same day is a new cycle charged in full (the forgone time is the operator\'s to refund)', () => {
    const world = play(new World({ plan: 'plus', interval: 'month', start: at('2026-01-01T00:00:00Z'), card: 'visa' }), [
      ['2026-01-10T00:00:00Z', { kind: 'cancel_now' }],
    ]);
    expect([world.state.status, world.lots.filter((l) => l.source !== 'pack').every((l) => l.retired !== null)]).toEqual(['canceled', true]);
    world.apply({ kind: 'resume' });
    expect(world.state.status).toBe('active');
    expect(charges(world)).toEqual([['2026-01-01', 'subscription', 1200, 'paid'], ['2026-01-10', 'subscription', 1200, 'paid']]);
    world.apply({ kind: 'cancel_now' });
    world.apply({ kind: 'resubscribe', plan: 'plus', interval: 'month' });
    world.checkHistory();
  });

  it('found: cancel-now while an upgrade waits for 3-D Secure is refused (its payment may be under way), so a paid upgrade is never voided unapplied', () => {
    const world = play(new World({ plan: 'plus', interval: 'month', start: at('2026-01-01T00:00:00Z'), card: 'visa' }), [
      [null, { kind: 'card', card: '3ds' }],
      ['2026-01-05T00:00:00Z', { kind: 'change', plan: 'team' }],
      [null, { kind: 'complete_3ds', pick: 0, delayed: true }],
      [null, { kind: 'cancel_now' }],
    ]);
    expect([world.lastRefusal, world.state.status]).toEqual(['change_pending', 'active']);
    world.apply({ kind: 'deliver_webhooks' });
    expect(world.state.plan).toBe('team');
    world.checkHistory();
  });
});
