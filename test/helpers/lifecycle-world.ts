/**
 * A simulated world around the pure lifecycle core: a clock, a card, invoices with the customer balance,
 * credit lots, packs and custom models. It carries out the core's effects the way the workflow shell and
 * the activities do (same order, same charge loop), records what was enjoyed when, and checks the SPEC §4
 * invariants. Used by the invariant property test (thousands of histories) and, as the prediction, by the
 * differential test against the real workflow.
 */
import { periodBounds, periodOfRefresh, refreshAt } from '../../domain/calendar.js';
import { type Interval, planById, priceCents } from '../../domain/catalog.js';
import {
  afterCharge, afterLapse, type Charge, type ChargeOutcome, type Coverage, type Effect, initialState, type LifecycleRequest,
  type ChangePreview, type LifecycleState, needsLedgerView, nextChargeAt, previewChange, nextDueEvent, onDue, onRequest, startCycle, type Step, UNPAID_TTL_MS, type UpcomingInvoice, upcomingInvoice, viewOf,
} from '../../domain/lifecycle/index.js';
import { isLive } from '../../domain/lifecycle/status.js';
import { prorateCredits, remainingFraction } from '../../domain/proration.js';
import { Refusal, REFUSAL_CODES } from '../../domain/refusals.js';

export type Card = 'visa' | 'declined' | '3ds';

export interface SimInvoice {
  id: string;
  businessKey: string;
  kind: string;
  lines: { description: string; amount_cents: number }[];
  coverage: (Coverage | null)[];
  /** Credits paid for beyond time (a switch's credits already used). */
  creditsBought: number;
  total: number;
  applied: number;
  status: 'open' | 'paid' | 'void';
  createdAt: number;
  paidAt: number | null;
  /** The last attempt needed 3-D Secure: the customer can complete it on the hosted page. */
  awaitingAction: boolean;
  /** A change's invoice: the credits the rule says it grants once paid, and whether it did. */
  changeCredits: { expected: number; granted: boolean } | null;
  subscriptionId: string;
}

export interface SimLot {
  key: string;
  source: 'monthly' | 'upgrade' | 'pack';
  credits: number;
  /** Taken back by a claw_back effect. */
  clawed: number;
  /** Spent by creations. */
  spent: number;
  /** The last clawback that took from it, and how much (for checking a restore). */
  clawedBy?: string;
  clawedByAmount?: number;
  grantedAt: number;
  expiresAt: number | null;
  retired: 'expired' | 'forfeited' | null;
  /** When it was retired (a forfeit ends the lot then). */
  retiredAt?: number;
  frozen: boolean;
}

/** A stretch of time with the subscription as it was then (for the money invariants). */
interface Enjoyed {
  from: number;
  status: LifecycleState['status'];
  plan: string;
  interval: Interval;
  /**
   * Paid for but not applied yet: a change waiting for 3-D Secure, or a first invoice not yet paid. Paid
   * later, its money covers the time since its request (the period does not move), so that plan may be
   * what the money covers.
   */
  pending: { plan: string; interval: Interval } | null;
}

export type Action =
  | { kind: 'advance'; ms: number }
  /** To the current period's end (the pause's end while paused) plus `offsetMs` (may be negative), if ahead. */
  | { kind: 'advance_to_period_end'; offsetMs: number }
  | { kind: 'change'; plan?: string; interval?: Interval }
  | { kind: 'withdraw' }
  | { kind: 'cancel' }
  /** An operator cancels at once (SPEC §10): the rest of the paid period is forgone (refunded separately, if at all). */
  | { kind: 'cancel_now' }
  | { kind: 'resume' }
  | { kind: 'pause'; cycles: number }
  | { kind: 'card'; card: Card }
  /** The customer pays a waiting invoice (3-D Secure); `delayed`: its webhook arrives only with `deliver_webhooks`. */
  | { kind: 'complete_3ds'; pick: number; delayed?: boolean }
  | { kind: 'deliver_webhooks' }
  | { kind: 'duplicate_webhook'; pick: number }
  | { kind: 'pack' }
  | { kind: 'activate_model' }
  | { kind: 'use_model'; pick: number }
  | { kind: 'resubscribe'; plan: string; interval: Interval }
  /** Creations capture up to `credits` from the available lots in burn order. */
  | { kind: 'spend'; credits: number };

export class InvariantViolation extends Error {}

function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new InvariantViolation(message);
}

const iso = (ms: number) => new Date(ms).toISOString();

export class World {
  state: LifecycleState;
  now: number;
  card: Card;
  readonly invoices: SimInvoice[] = [];
  balance = 0;
  readonly lots: SimLot[] = [];
  readonly models: { id: number; active: boolean; lastUsed: number }[] = [];
  readonly notifications: { kind: string; dedupeKey: string }[] = [];
  readonly paidEvents: { eventId: string; invoiceId: string; subscriptionId: string }[] = [];
  /** Paid-invoice webhooks not delivered yet. */
  private readonly inFlight: { eventId: string; invoiceId: string; subscriptionId: string }[] = [];
  readonly enjoyed: Enjoyed[] = [];
  /** Paid time an operator's cancel-now ended early: paid for, not enjoyed, by the operator's decision. */
  private readonly forgone: Coverage[] = [];
  private subscriptions = 1;
  private nextInvoice = 1;
  /** Plan credits available when the last request came (what a switch is priced with). */
  private availableBeforeRequest = 0;
  /** The invoice paid last: a change's grant follows its payment at once. */
  private lastPaid: SimInvoice | null = null;
  /** The next charge the schedule promised, when no request came since (null: none promised). */
  private promised: { at: number | null; subscriptionId: string; invoice: UpcomingInvoice | null } | null = null;
  /** The scheduled change the view promised (plan from effective_at), when no request came since. */
  private promisedChange: { plan: string; at: number } | null = null;
  readonly log: string[] = [];

  /** The refusal code of the last request (null: accepted). */
  lastRefusal: string | null = null;

  constructor(opts: { plan: string; interval: Interval; start: number; card: Card; subscriptionId?: string }) {
    this.now = opts.start;
    this.card = opts.card;
    this.state = initialState({ subscriptionId: opts.subscriptionId ?? 'sub_1', plan: opts.plan, interval: opts.interval, startedAt: opts.start });
    this.log.push(`subscribe ${opts.plan} ${opts.interval} at ${iso(opts.start)} with ${opts.card}`);
    this.run(startCycle(this.state, this.state.anchor, 'subscribe'), 'subscribe');
    this.afterStep();
  }

  // ---- The shell's job: effects, then the charge loop ----------------------------------------------

  private run(first: Step, cause: 'subscribe' | 'due' | 'request'): Step {
    let step = first;
    for (;;) {
      for (const effect of step.effects) this.perform(effect, step.state);
      this.state = step.state;
      if (step.charge) step = afterCharge(this.state, step.charge, this.charge(step.charge, cause));
      else if (step.lapse) step = afterLapse(this.state, step.lapse, this.voidAtProvider(step.lapse.invoiceId));
      else break;
    }
    this.recordEnjoyed();
    return step;
  }

  private charge(c: Charge, cause: 'subscribe' | 'due' | 'request'): ChargeOutcome {
    let promisedInvoice: UpcomingInvoice | null | undefined;
    if (cause === 'due' && this.promised && this.promised.subscriptionId === this.state.subscriptionId) {
      check(this.promised.at === c.at, `the schedule promised the next charge at ${this.promised.at === null ? 'none' : iso(this.promised.at)}, charged at ${iso(c.at)}`);
      promisedInvoice = this.promised.invoice;
      this.promised = null;
    }
    let invoice = this.invoices.find((i) => i.businessKey === c.businessKey);
    if (!invoice) {
      const total = c.lines.reduce((sum, line) => sum + line.amount_cents, 0);
      const applied = Math.min(this.balance, Math.max(total, 0));
      this.balance = this.balance - applied + Math.max(-total, 0);
      invoice = {
        id: `in_${this.nextInvoice++}`, businessKey: c.businessKey, kind: c.invoiceKind, lines: c.lines, coverage: c.coverage, total, applied,
        status: 'open', createdAt: c.at, paidAt: null, awaitingAction: false, subscriptionId: this.state.subscriptionId, creditsBought: c.creditsBought ?? 0,
        changeCredits: c.purpose.kind === 'change' ? { expected: this.expectedCredits(c), granted: false } : null,
      };
      this.invoices.push(invoice);
      this.checkLines(invoice);
    }
    if (promisedInvoice !== undefined) this.checkUpcoming(promisedInvoice, invoice);
    if (invoice.status === 'paid') return { status: 'paid', invoiceId: invoice.id, paidAt: invoice.paidAt! };
    if (invoice.status === 'void') return { status: 'declined', invoiceId: invoice.id, code: 'invoice_void' };
    const due = invoice.total - invoice.applied;
    if (due <= 0 || this.card === 'visa') {
      Object.assign(invoice, { status: 'paid', paidAt: c.at, awaitingAction: false });
      this.lastPaid = invoice;
      return { status: 'paid', invoiceId: invoice.id, paidAt: c.at };
    }
    if (this.card === '3ds') {
      invoice.awaitingAction = true;
      return { status: 'requires_action', invoiceId: invoice.id, hostedUrl: `https://sandbox/${invoice.id}` };
    }
    invoice.awaitingAction = false;
    return { status: 'declined', invoiceId: invoice.id, code: 'card_declined', hostedUrl: `https://sandbox/${invoice.id}` };
  }

  /** Voids an unpaid invoice, unless the customer paid it meanwhile (its webhook may still be on its way). */
  private voidAtProvider(invoiceId: string): 'void' | 'paid' {
    const invoice = this.invoices.find((i) => i.id === invoiceId)!;
    if (invoice.status === 'paid') {
      this.lastPaid = invoice;
      return 'paid';
    }
    this.perform({ kind: 'void', invoiceId }, this.state);
    return 'void';
  }

  private perform(effect: Effect, next: LifecycleState): void {
    switch (effect.kind) {
      case 'grant': {
        check(!this.lots.some((lot) => lot.key === effect.key), `grant ${effect.key} asked twice`);
        this.checkGrantSize(effect, next);
        this.lots.push({ key: effect.key, source: effect.source, credits: effect.credits, clawed: 0, spent: 0, grantedAt: effect.grantedAt, expiresAt: effect.expiresAt, retired: null, frozen: false });
        break;
      }
      case 'expire': {
        const lot = this.lots.find((l) => l.key === effect.key);
        check(lot !== undefined && lot.expiresAt === effect.at, `expiry of ${effect.key} at ${iso(effect.at)} does not match its lot`);
        if (lot.retired === null) lot.retired = 'expired';
        break;
      }
      case 'claw_back': {
        let left = effect.credits;
        const lots = this.lots.filter((l) => effect.grantKeys.includes(l.key) && this.isAvailable(l))
          .sort((a, b) => effect.grantKeys.indexOf(a.key) - effect.grantKeys.indexOf(b.key));
        for (const lot of lots) {
          const take = Math.min(left, lot.credits - lot.clawed - lot.spent);
          lot.clawed += take;
          if (take > 0) Object.assign(lot, { clawedBy: effect.key, clawedByAmount: (lot.clawedBy === effect.key ? lot.clawedByAmount ?? 0 : 0) + take });
          left -= take;
        }
        check(left === 0, `claw back of ${effect.credits} found only ${effect.credits - left} in ${effect.grantKeys.join(', ')}`);
        break;
      }
      case 'void': {
        const invoice = this.invoices.find((i) => i.id === effect.invoiceId)!;
        if (invoice.status === 'open') {
          invoice.status = 'void';
          invoice.awaitingAction = false;
          this.balance += invoice.applied;
        }
        break;
      }
      case 'end_plan_credits':
        for (const lot of this.lots) {
          // As the ledger does: lots with credits left (a used-up lot simply expires on its date).
          const left = lot.credits - lot.clawed - lot.spent;
          if (lot.source !== 'pack' && lot.retired === null && lot.expiresAt! > effect.at && left > 0) Object.assign(lot, { retired: 'forfeited', retiredAt: effect.at });
          if (lot.source === 'pack') lot.frozen = true;
        }
        break;
      case 'thaw_packs':
        for (const lot of this.lots) if (lot.source === 'pack') lot.frozen = false;
        break;
      case 'deactivate_models': {
        const active = this.models.filter((m) => m.active).sort((a, b) => b.lastUsed - a.lastUsed || b.id - a.id);
        active.slice(effect.keep).forEach((m) => { m.active = false; });
        break;
      }
      case 'notify':
        this.notifications.push({ kind: effect.notification, dedupeKey: effect.dedupeKey });
        break;
    }
  }

  // ---- Actions -----------------------------------------------------------------------------------------

  apply(action: Action): void {
    this.log.push(`${iso(this.now)} ${JSON.stringify(action)}`);
    switch (action.kind) {
      case 'advance':
        this.advanceTo(this.now + action.ms);
        break;
      case 'advance_to_period_end': {
        const target = Date.parse(viewOf(this.state).current_period_end) + action.offsetMs;
        if (target > this.now) this.advanceTo(target);
        break;
      }
      case 'change':
        this.request({ kind: 'change', request: { ...(action.plan ? { plan: action.plan } : {}), ...(action.interval ? { interval: action.interval } : {}) } });
        break;
      case 'withdraw': case 'cancel': case 'resume':
        this.request({ kind: action.kind });
        break;
      case 'cancel_now': {
        const coveringNow = [...this.invoices.filter((i) => i.status === 'paid').flatMap((i) => i.coverage), ...this.forgone]
          .filter((c): c is Coverage => c !== null && c.from <= this.now && this.now < c.to);
        this.request({ kind: 'cancel_now' });
        // Ended now (not settled into a cancel at the period end by a payment that raced it): whatever was paid
        // from now on is written off, so the time after now counts as paid for nothing.
        if (this.state.status === 'canceled') for (const c of coveringNow) this.forgone.push({ ...c, from: this.now, sign: c.sign === 1 ? -1 : 1 });
        break;
      }
      case 'pause':
        this.request({ kind: 'pause', cycles: action.cycles });
        break;
      case 'card':
        this.card = action.card;
        this.request({ kind: 'payment_method_updated' });
        break;
      case 'complete_3ds': {
        const waiting = this.invoices.filter((i) => i.status === 'open' && i.awaitingAction);
        const invoice = waiting[action.pick % Math.max(waiting.length, 1)];
        if (!invoice) return;
        Object.assign(invoice, { status: 'paid', paidAt: this.now, awaitingAction: false });
        this.lastPaid = invoice;
        const event = { eventId: `evt_${this.paidEvents.length + 1}`, invoiceId: invoice.id, subscriptionId: invoice.subscriptionId };
        this.paidEvents.push(event);
        if (action.delayed) this.inFlight.push(event);
        else this.deliver(event);
        break;
      }
      case 'deliver_webhooks':
        for (const event of this.inFlight.splice(0)) this.deliver(event);
        break;
      case 'duplicate_webhook': {
        const event = this.paidEvents[action.pick % Math.max(this.paidEvents.length, 1)];
        if (event) this.deliver(event);
        break;
      }
      case 'pack':
        // SPEC §1: packs need a live subscription.
        if (isLive(this.state.status)) {
          this.lots.push({ key: `pack_${this.lots.length}`, source: 'pack', credits: 100, clawed: 0, spent: 0, grantedAt: this.now, expiresAt: null, retired: null, frozen: false });
        }
        break;
      case 'activate_model': {
        const active = this.models.filter((m) => m.active).length;
        if (isLive(this.state.status) && active < planById(this.state.plan).customModelLimit) {
          this.models.push({ id: this.models.length + 1, active: true, lastUsed: this.now });
        }
        break;
      }
      case 'use_model': {
        const model = this.models[action.pick % Math.max(this.models.length, 1)];
        if (model) model.lastUsed = this.now;
        break;
      }
      case 'spend': {
        // Burn order: earliest expiry first, packs last.
        let left = action.credits;
        const lots = this.lots.filter((l) => this.isAvailable(l) && !l.frozen)
          .sort((a, b) => (a.expiresAt ?? Infinity) - (b.expiresAt ?? Infinity) || a.grantedAt - b.grantedAt);
        for (const lot of lots) {
          const take = Math.min(left, lot.credits - lot.clawed - lot.spent);
          lot.spent += take;
          left -= take;
        }
        break;
      }
      case 'resubscribe':
        if (this.state.status !== 'canceled' || this.state.incomplete) return;
        this.subscriptions += 1;
        this.state = initialState({ subscriptionId: `sub_${this.subscriptions}`, plan: action.plan, interval: action.interval, startedAt: this.now });
        this.promised = null;
        this.promisedChange = null;
        this.run(startCycle(this.state, this.now, 'subscribe'), 'subscribe');
        break;
    }
    this.afterStep();
  }

  /** Handles every due event up to `target` in order, as the shell does on a timer or a clock advance. */
  advanceTo(target: number): void {
    for (let guard = 0; ; guard++) {
      check(guard < 10_000, 'due events never end');
      const due = nextDueEvent(this.state);
      if (!due || due.at > target) break;
      check(due.at >= this.now, `due event ${due.kind} at ${iso(due.at)} is before now ${iso(this.now)}`);
      this.now = due.at;
      this.run(onDue(this.state, due), 'due');
    }
    if (this.promisedChange && this.promisedChange.at <= target && this.state.status !== 'canceled') {
      check(this.state.plan === this.promisedChange.plan, `the downgrade to ${this.promisedChange.plan} promised for ${iso(this.promisedChange.at)} did not happen (plan ${this.state.plan})`);
    }
    if (this.promised?.at != null && this.promised.at <= target) {
      check(false, `the schedule promised a charge at ${iso(this.promised.at)} and none was made`);
    }
    this.now = target;
  }

  private deliver(event: { eventId: string; invoiceId: string; subscriptionId: string }): void {
    // A webhook reaches the workflow of its own subscription only.
    if (event.subscriptionId !== this.state.subscriptionId) return;
    this.lastPaid = this.invoices.find((i) => i.id === event.invoiceId)!;
    this.request({ kind: 'payment', event: { eventId: event.eventId, type: 'invoice.paid', invoiceId: event.invoiceId } });
  }

  /** Credits left in a lot that still counts at the world's time. */
  private isAvailable(lot: SimLot): boolean {
    return lot.retired === null && (lot.expiresAt === null || lot.expiresAt > this.now) && lot.credits - lot.clawed - lot.spent > 0;
  }

  /** What the ledger tells the shell before an interval switch is priced: this subscription's plan credits still available. */
  private availablePlanCredits(): number {
    const keys = new Set(this.state.lots.map((l) => l.key));
    return this.lots.filter((l) => keys.has(l.key) && this.isAvailable(l)).reduce((sum, l) => sum + l.credits - l.clawed - l.spent, 0);
  }

  /** A request as the workflow applies it: refused (nothing changes) or carried out; every Update is answered. */
  request(plain: LifecycleRequest): { refused: string | null } {
    this.availableBeforeRequest = this.availablePlanCredits();
    const request: LifecycleRequest = plain.kind === 'change' && needsLedgerView(this.state, plain.request)
      ? { ...plain, ledger: { availablePlanCredits: this.availablePlanCredits() } } : plain;
    const before = JSON.stringify(this.state);
    const preview = request.kind === 'change' ? this.preview(request) : null;
    const [invoicesBefore, lotsBefore, activeBefore] = [this.invoices.length, this.lots.length, this.models.filter((m) => m.active).length];
    let step: Step;
    try {
      step = onRequest(this.state, request, this.now);
    } catch (error) {
      check(error instanceof Refusal, `request ${request.kind} threw ${String(error)}`);
      check((REFUSAL_CODES as readonly string[]).includes(error.code), `unknown refusal code ${error.code}`);
      check(JSON.stringify(this.state) === before, 'a refused request changed the state');
      check(preview === null || preview.refused === error.code, `the preview said ${JSON.stringify(preview)}, the change was refused ${error.code}`);
      this.lastRefusal = error.code;
      return { refused: error.code };
    }
    this.promised = null; // a request may change what is scheduled
    this.promisedChange = null;
    const end = this.run(step, 'request');
    const isUpdate = !['payment', 'payment_method_updated'].includes(request.kind);
    check(!isUpdate || end.reply !== undefined || end.refusal !== undefined, `request ${request.kind} got no answer`);
    if (end.refusal) check(end.refusal.code === 'payment_declined', `refused after a payment attempt with ${end.refusal.code}`);
    if (preview) this.checkPreview(preview, invoicesBefore, lotsBefore, activeBefore);
    this.lastRefusal = end.refusal?.code ?? null;
    return { refused: end.refusal?.code ?? null };
  }

  /** What the preview says of a change, taken right before it is made (SPEC §10). */
  private preview(request: LifecycleRequest & { kind: 'change' }): { refused: string | null; result: ChangePreview | null } {
    try {
      const result = previewChange(this.state, request.request, this.now, {
        ...(request.ledger ? { ledger: request.ledger } : {}), customerBalanceCents: this.balance,
        activeCustomModels: this.models.filter((m) => m.active).length,
      });
      return { refused: null, result };
    } catch (error) {
      check(error instanceof Refusal, `preview threw ${String(error)}`);
      return { refused: error.code, result: null };
    }
  }

  /** The preview equals the change made right after it: lines, totals, balance applied, credits, expiry, models. */
  private checkPreview(preview: { refused: string | null; result: ChangePreview | null }, invoicesBefore: number, lotsBefore: number, activeBefore: number): void {
    check(preview.result !== null, `the preview refused (${preview.refused}) a change that was made`);
    const p = preview.result;
    const invoice = this.invoices.length > invoicesBefore ? this.invoices[invoicesBefore]! : null;
    if (p.kind === 'downgrade') {
      check(invoice === null, 'a downgrade invoiced at once');
      return;
    }
    check(invoice !== null, 'the change made no invoice');
    const made = { lines: invoice.lines, total: invoice.total, applied: invoice.applied, due: Math.max(invoice.total, 0) - invoice.applied };
    const shown = { lines: p.invoice!.lines, total: p.invoice!.total_cents, applied: p.invoice!.balance_applied_cents, due: p.invoice!.amount_due_cents };
    check(JSON.stringify(made) === JSON.stringify(shown), `preview ${JSON.stringify(shown)} ≠ change ${JSON.stringify(made)}`);
    if (invoice.status !== 'paid') return; // declined or waiting for 3-D Secure: nothing granted yet
    const grant = this.lots.slice(lotsBefore).find((l) => l.source !== 'pack' && !l.key.endsWith(':restore'));
    check((grant?.credits ?? 0) === p.credits_granted, `preview grants ${p.credits_granted}, the change granted ${grant?.credits ?? 0}`);
    check((grant ? new Date(grant.expiresAt!).toISOString() : null) === p.credits_expire_at, `preview expiry ${p.credits_expire_at}, the grant's ${grant?.expiresAt}`);
    const deactivated = activeBefore - this.models.filter((m) => m.active).length;
    check(deactivated === p.custom_models_deactivated, `preview deactivates ${p.custom_models_deactivated}, the change ${deactivated}`);
  }

  /** The upcoming invoice shown before a scheduled charge equals the charge made (lines, totals, balance applied). */
  private checkUpcoming(upcoming: UpcomingInvoice | null, invoice: SimInvoice): void {
    check(upcoming !== null, `a charge at ${iso(invoice.createdAt)} that no upcoming invoice showed`);
    if (upcoming.invoice_id !== null) {
      check(upcoming.invoice_id === invoice.id, `upcoming showed open invoice ${upcoming.invoice_id}, the retry paid ${invoice.id}`);
      return;
    }
    const made = { lines: invoice.lines, total: invoice.total, applied: invoice.applied, due: Math.max(invoice.total, 0) - invoice.applied };
    const shown = { lines: upcoming.lines, total: upcoming.total_cents, applied: upcoming.balance_applied_cents, due: upcoming.amount_due_cents };
    check(JSON.stringify(made) === JSON.stringify(shown), `upcoming ${JSON.stringify(shown)} ≠ charged ${JSON.stringify(made)}`);
  }

  // ---- Invariants --------------------------------------------------------------------------------------

  private recordEnjoyed(): void {
    const s = this.state;
    const entry: Enjoyed = {
      from: this.now, status: s.status, plan: s.plan, interval: s.interval,
      pending: s.pendingChange ? { plan: s.pendingChange.plan, interval: s.pendingChange.interval }
        : s.incomplete ? { plan: s.plan, interval: s.interval } : null,
    };
    const last = this.enjoyed.at(-1);
    if (last && last.from === entry.from) this.enjoyed[this.enjoyed.length - 1] = entry;
    else this.enjoyed.push(entry);
  }

  /** The cheap invariants, after every step. */
  private afterStep(): void {
    const s = this.state;
    const view = viewOf(s);
    const live = isLive(s.status);
    // Entitlements follow the live plan.
    if (live) {
      const active = this.models.filter((m) => m.active).length;
      check(active <= planById(s.plan).customModelLimit, `${active} active custom models on ${s.plan} (limit ${planById(s.plan).customModelLimit})`);
    }
    // Packs are frozen exactly while no subscription is live.
    for (const lot of this.lots.filter((l) => l.source === 'pack')) check(lot.frozen === !live, `pack ${lot.key} frozen=${lot.frozen} while ${s.status}`);
    // Customer balance: never negative, never lost.
    check(this.balance >= 0, `customer balance ${this.balance}`);
    const owed = this.invoices.filter((i) => i.status !== 'void').reduce((sum, i) => sum + Math.max(-i.total, 0) - i.applied, 0);
    check(owed === this.balance, `customer balance ${this.balance}, invoices say ${owed}`);
    // Nothing hangs: pending changes and unpaid first invoices end by their deadlines.
    if (s.pendingChange) {
      const p = s.pendingChange;
      check(this.now < p.deadline && p.deadline <= p.requestedAt + UNPAID_TTL_MS, `pending change past its deadline ${iso(p.deadline)}`);
      check(p.deadline <= periodBounds(s.anchor, s.interval, periodOfRefresh(s.interval, Math.max(s.nextRefresh - 1, 0))).end, 'pending change outlives its period');
    }
    if (s.incomplete) check(this.now < s.incomplete.deadline, `unpaid first invoice past its deadline ${iso(s.incomplete.deadline)}`);
    // The view never shows a past instant as upcoming.
    if (view.scheduled_change) check(Date.parse(view.scheduled_change.effective_at) > this.now, 'scheduled change shown in the past');
    if (view.pause?.resumes_at) check(Date.parse(view.pause.resumes_at) > this.now, 'pause resumes in the past');
    if (view.pause && s.status === 'active') check(Date.parse(view.pause.starts_at!) > this.now, 'pause starts in the past');
    if (view.pending_upgrade) check(Date.parse(view.pending_upgrade.expires_at) > this.now, 'pending upgrade expired in the past');
    if (view.next_due_at) check(Date.parse(view.next_due_at) > this.now, `next_due_at ${view.next_due_at} is not ahead of ${iso(this.now)}`);
    if (['active', 'paused', 'past_due'].includes(s.status)) {
      const [start, end] = [Date.parse(view.current_period_start), Date.parse(view.current_period_end)];
      check(start <= this.now && this.now < end, `current period ${view.current_period_start} → ${view.current_period_end} does not hold ${iso(this.now)}`);
    }
    // next_due_at is the next scheduled charge: the next due-driven charge must happen exactly then.
    const next = nextChargeAt(s);
    check(view.next_due_at === (next === null ? null : iso(next)), 'view and schedule disagree on next_due_at');
    // While a payment's webhook is on its way the world knows more than the schedule: no promise then.
    const open = s.dunning ? this.invoices.find((i) => i.id === s.dunning!.invoiceId) : undefined;
    const pendingInvoice = s.pendingChange ? this.invoices.find((i) => i.id === s.pendingChange!.invoiceId && i.status === 'open') : undefined;
    const upcoming = upcomingInvoice(s, {
      customerBalanceCents: this.balance, pendingChangeBalanceAppliedCents: pendingInvoice?.applied ?? 0,
      ...(open ? { openInvoice: { id: open.id, lines: open.lines, total_cents: open.total, amount_due_cents: Math.max(open.total, 0) - open.applied } } : {}),
    });
    // GET /v1/invoices/upcoming: there exactly when a charge is scheduled (or a past-due invoice waits), at next_due_at.
    check((upcoming?.next_attempt_at ?? null) === view.next_due_at, `upcoming invoice at ${upcoming?.next_attempt_at}, next_due_at ${view.next_due_at}`);
    check(upcoming === null || upcoming.reason === 'dunning_retry' || !['canceled', 'incomplete'].includes(s.status), `upcoming invoice while ${s.status}`);
    this.promised = this.inFlight.length > 0 ? null : { at: next, subscriptionId: s.subscriptionId, invoice: upcoming };
    this.promisedChange = view.scheduled_change && this.inFlight.length === 0 ? { plan: view.scheduled_change.plan, at: Date.parse(view.scheduled_change.effective_at) } : null;
    // Credits: a paid change granted what the credit-aware rule says (nothing when it says 0).
    for (const i of this.invoices) {
      if (i.status === 'paid' && i.changeCredits && !this.inFlight.some((e) => e.invoiceId === i.id)) check(i.changeCredits.granted === i.changeCredits.expected > 0, `paid change ${i.id} granted=${i.changeCredits.granted}, the rule says ${i.changeCredits.expected}`);
    }
  }

  /** The expensive invariants over the whole history: money matches the plan enjoyed, credits never created. */
  checkHistory(): void {
    const paid = this.invoices.filter((i) => i.status === 'paid');
    // Paid time an operator's cancel-now ended is written off (not enjoyed, not refunded by the cancel): it
    // counts as unpaid from then on, so a restart within it pays it again, and nothing else may.
    const paidSegments = paid.flatMap((i) => i.coverage).filter((c): c is Coverage => c !== null);
    const segments = [...paidSegments, ...this.forgone];
    const points = new Set<number>([this.now]);
    for (const c of segments) points.add(c.from).add(c.to);
    for (const e of this.enjoyed) points.add(e.from);
    const sorted = [...points].sort((a, b) => a - b);
    for (let k = 0; k + 1 < sorted.length; k++) {
      const [a, b] = [sorted[k]!, sorted[k + 1]!];
      const net = new Map<string, number>();
      for (const c of segments) if (c.from <= a && b <= c.to) net.set(`${c.plan}/${c.interval}`, (net.get(`${c.plan}/${c.interval}`) ?? 0) + c.sign);
      const covered = [...net].filter(([, n]) => n !== 0);
      check(covered.every(([, n]) => n === 1) && covered.length <= 1, `[${iso(a)}, ${iso(b)}) is paid ${JSON.stringify(covered)}: charged twice or credited unpaid`);
      if (b > this.now) continue;
      const enjoyed = [...this.enjoyed].reverse().find((e) => e.from <= a);
      if (!enjoyed) continue;
      const paidFor = covered[0]?.[0] ?? null;
      const plan = `${enjoyed.plan}/${enjoyed.interval}`;
      const pending = enjoyed.pending ? `${enjoyed.pending.plan}/${enjoyed.pending.interval}` : null;
      const ok = paidFor === null ? enjoyed.status !== 'active'
        : paidFor === pending || (paidFor === plan && ['active', 'past_due'].includes(enjoyed.status));
      check(ok, `[${iso(a)}, ${iso(b)}) ${enjoyed.status} on ${plan} but paid for ${paidFor ?? 'nothing'}`);
    }
    // Credits: no sequence of changes creates more credits than the plans paid for (the spec's floor in a
    // switch's deduction may round at most one credit per switch the customer's way).
    const granted = this.lots.filter((l) => l.source !== 'pack').reduce((sum, l) => sum + l.credits - l.clawed, 0);
    // Refresh lots come at the start of each refresh month: only months already started count.
    const entitled = paidSegments.reduce((sum, c) => sum + c.sign * planById(c.plan).monthlyCredits * refreshIntervalsIn(c, this.now), 0);
    const switches = paid.filter((i) => i.kind === 'interval_switch').length;
    const bought = paid.reduce((sum, i) => sum + i.creditsBought, 0);
    check(granted <= entitled + bought + switches + 1e-6, `granted ${granted} plan credits, paid for ${entitled.toFixed(2)} + ${bought} bought (+${switches} rounding)`);
  }

  // ---- Oracles ------------------------------------------------------------------------------------------

  /** Each line's amount is the plan's price for the time it covers, to the cent (half-up per line). */
  private checkLines(invoice: SimInvoice): void {
    invoice.coverage.forEach((c, n) => {
      if (c === null) return;
      const { start, end } = periodContaining(c);
      const exact = c.sign * priceCents(planById(c.plan), c.interval) * (c.to - c.from) / (end - start);
      const amount = invoice.lines[n]!.amount_cents;
      check(Math.abs(amount - exact) <= 0.5 + 1e-9, `line ${n} of ${invoice.kind} is ${amount}, the time it covers costs ${exact.toFixed(2)}`);
    });
  }

  /** What a change's grant must be (SPEC §4), from the state before it and the calendar. */
  private expectedCredits(c: Charge): number {
    if (c.purpose.kind !== 'change') return 0;
    const s = this.state;
    const last = Math.max(s.nextRefresh - 1, 0);
    const r = remainingFraction(refreshAt(s.anchor, s.interval, last), refreshAt(s.anchor, s.interval, last + 1), c.at);
    const [from, to] = [planById(s.plan).monthlyCredits, planById(c.purpose.change.plan).monthlyCredits];
    if (c.purpose.change.kind === 'upgrade') return prorateCredits(to - from, r);
    // Of the month's unused part, what is still available stays; the rest was used and is bought on the invoice.
    const deductible = prorateCredits(from, r);
    const kept = Math.min(deductible, this.availableBeforeRequest);
    check(c.purpose.change.clawBack === Math.max(0, kept - to), `switch claws back ${c.purpose.change.clawBack}, the rule says ${Math.max(0, kept - to)}`);
    check((c.creditsBought ?? 0) === deductible - kept, `switch charges ${c.creditsBought ?? 0} credits used, the rule says ${deductible - kept}`);
    const usedLine = c.lines[2]?.amount_cents ?? 0;
    const period = periodContaining({ ...c.coverage[0]!, to: c.coverage[0]!.to });
    const month = [refreshAt(s.anchor, s.interval, last), refreshAt(s.anchor, s.interval, last + 1)] as const;
    const exact = priceCents(planById(s.plan), s.interval) * (deductible - kept) * (month[1] - month[0]) / (from * (period.end - period.start));
    check(Math.abs(usedLine - exact) <= 0.5 + 1e-9, `credits-used line ${usedLine}, the rule says ${exact.toFixed(2)}`);
    return Math.max(0, to - kept);
  }

  private checkGrantSize(effect: Effect & { kind: 'grant' }, next: LifecycleState): void {
    if (effect.reason === 'restore') {
      // Gives back exactly what the switch's clawback took.
      const taken = this.lots.filter((l) => l.clawedBy === effect.key.replace(/:restore$/, '')).reduce((sum, l) => sum + (l.clawedByAmount ?? 0), 0);
      check(effect.credits === taken, `restore of ${effect.credits}, the clawback took ${taken}`);
      return;
    }
    if (effect.reason === 'change') {
      // The change paid just now (at once, or by a 3-D Secure completion).
      const invoice = this.lastPaid;
      check(invoice?.changeCredits != null && !invoice.changeCredits.granted, `a change grant of ${effect.credits} without a change paid just before`);
      check(invoice.changeCredits!.expected === effect.credits, `a change granted ${effect.credits}, the rule says ${invoice.changeCredits!.expected}`);
      invoice.changeCredits!.granted = true;
      return;
    }
    check(effect.credits === planById(next.plan).monthlyCredits, `refresh lot of ${effect.credits} on ${next.plan}`);
  }

}

/** The billing period of `c`'s cycle that holds its stretch of time. */
function periodContaining(c: Coverage): { start: number; end: number } {
  for (let n = 0; ; n++) {
    const bounds = periodBounds(c.anchor, c.interval, n);
    if (bounds.end >= c.to) return bounds;
  }
}

/** How many refresh intervals (fractionally) of its cycle `c` covers, of those started by `now`. */
function refreshIntervalsIn(c: Coverage, now: number): number {
  let total = 0;
  for (let i = 0; ; i++) {
    const [start, end] = [refreshAt(c.anchor, c.interval, i), refreshAt(c.anchor, c.interval, i + 1)];
    if (start >= c.to || start > now) return total;
    const overlap = Math.min(end, c.to) - Math.max(start, c.from);
    if (overlap > 0) total += overlap / (end - start);
  }
}
