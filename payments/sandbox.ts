import type { Sql } from '../ledger/db.js';
import { ProviderInvalidRequestError, withPermanentFailures } from './provider-errors.js';
import { randomBytes } from 'node:crypto';
import { attemptKey, type ChargeOutcome, type ChargeRequest, type PaymentProvider } from './provider.js';

/** Stripe's test payment method ids, with the behaviour Stripe gives them. */
export const SANDBOX_PAYMENT_METHODS = ['pm_card_visa', 'pm_card_chargeDeclined', 'pm_card_authenticationRequired', 'pm_card_createDispute'] as const;
export type SandboxPaymentMethod = (typeof SANDBOX_PAYMENT_METHODS)[number];

/**
 * A payment attempt the sandbox holds as waiting for 3-D Secure: its latest event about the invoice is
 * `invoice.payment_action_required` and it has paid nothing for it. `attemptId` names that attempt (its event
 * id): the hosted page's token is bound to it, so a token never outlives the attempt it was shown for.
 */
export interface PendingAuthentication {
  attemptId: string;
  /** The customer and the cents the sandbox was asked to charge in that attempt. */
  workspaceId: string;
  amountDueCents: number;
}

export interface SandboxProvider extends PaymentProvider {
  /** The attempt waiting for 3-D Secure on this invoice, or null (paid, declined, never asked, or unknown). */
  pendingAuthentication(invoiceId: string): Promise<PendingAuthentication | null>;
  /**
   * The customer completed 3-D Secure on the hosted invoice page for attempt `attemptId`: the invoice is paid,
   * once. Returns false, paying nothing, unless that attempt is still the one waiting and its customer and
   * amount are the invoice's (a declined, paid, void or re-attempted invoice is not paid by authenticating).
   */
  completeAuthentication(
    invoice: { id: string; workspace_id: string; subscription_id: string | null; amount_due_cents: number },
    attemptId: string,
  ): Promise<boolean>;
  /**
   * Closes a dispute `pm_card_createDispute` opened, as the bank would decide it, and sends
   * `charge.dispute.closed`. Null when the sandbox has no such dispute. Closing again sends nothing new.
   */
  closeDispute(id: string, outcome: 'won' | 'lost'): Promise<{ id: string; status: string; invoiceId: string } | null>;
}

/** The sandbox's invoice object id for one of our invoices (its webhook events carry it as `data.object.id`). */
export const sandboxInvoiceId = (invoiceId: string) => `in_sandbox_${invoiceId}`;

/** The sandbox's charge of one of our invoices (a card pays each invoice once). */
const chargeOf = (invoiceId: string) => ({ id: `ch_sbx_${invoiceId}`, payment_intent: `pi_sbx_${invoiceId}` });

type InvoiceEventType = 'invoice.paid' | 'invoice.payment_failed' | 'invoice.payment_action_required' | 'invoice.voided';

/**
 * Offline stand-in for Stripe when no key is configured: deterministic by payment method id, persisted
 * in Postgres. Besides answering each charge, it queues the Stripe-shaped event Stripe would send; the
 * API delivers them, signed, to its own webhook endpoint (see api/webhooks/sandbox-outbox.ts). Like Stripe, it
 * refuses a charge it could never make (amounts that are not whole cents, a negative amount due) as an
 * invalid request: a non-retryable ApplicationFailure (payments/provider-errors.ts).
 */
export function createSandboxProvider(options: { publicUrl: string; sql: Sql }): SandboxProvider {
  const { sql } = options;

  /**
   * Queues a Stripe-shaped invoice event. Like Stripe's invoice object it names the customer (our workspace id)
   * and the cents due and paid, which the inbox checks against our invoice before applying a payment.
   */
  async function emit(
    type: InvoiceEventType, eventId: string, invoice: { id: string; workspace_id: string; subscription_id: string | null },
    status: string, amountDueCents: number, db: Sql = sql,
  ) {
    const payload = {
      id: eventId,
      object: 'event',
      type,
      created: Math.floor(Date.now() / 1000),
      data: { object: { id: sandboxInvoiceId(invoice.id), object: 'invoice', status, customer: invoice.workspace_id,
        amount_due: amountDueCents, amount_paid: status === 'paid' ? amountDueCents : 0,
        metadata: { invoice_id: invoice.id, workspace_id: invoice.workspace_id, subscription_id: invoice.subscription_id ?? '' } } },
    };
    await db`INSERT INTO sandbox_outbox (event_id, payload) VALUES (${eventId}, ${db.json(payload)}) ON CONFLICT (event_id) DO NOTHING`;
  }

  async function pendingAuthentication(invoiceId: string, db: Sql = sql): Promise<PendingAuthentication | null> {
    const [latest] = await db<{ event_id: string; type: string; customer: string | null; amount_due: string | null }[]>`
      SELECT event_id, payload->>'type' AS type, payload->'data'->'object'->>'customer' AS customer,
             payload->'data'->'object'->>'amount_due' AS amount_due
      FROM sandbox_outbox
      WHERE payload->'data'->'object'->'metadata'->>'invoice_id' = ${invoiceId} AND payload->>'type' LIKE 'invoice.%'
      ORDER BY id DESC LIMIT 1`;
    if (!latest || latest.type !== 'invoice.payment_action_required' || latest.customer === null || latest.amount_due === null) return null;
    return { attemptId: latest.event_id, workspaceId: latest.customer, amountDueCents: Number(latest.amount_due) };
  }

  /** The sandbox's own record of a payment: the invoice.paid event it queued. */
  async function paidInSandbox(invoiceId: string, db: Sql = sql): Promise<boolean> {
    const [row] = await db`
      SELECT 1 FROM sandbox_outbox WHERE payload->>'type' = 'invoice.paid'
        AND payload->'data'->'object'->'metadata'->>'invoice_id' = ${invoiceId} LIMIT 1`;
    return row !== undefined;
  }

  /** What Stripe would refuse with an invalid_request_error, whatever the payment method. */
  function validate(request: ChargeRequest): void {
    if (!Number.isSafeInteger(request.amountDueCents) || request.amountDueCents < 0) {
      throw new ProviderInvalidRequestError(`invalid amount due: ${request.amountDueCents} (whole cents, not negative)`, 'amount');
    }
    const line = request.lines.find((l) => !Number.isSafeInteger(l.amount_cents));
    if (line) throw new ProviderInvalidRequestError(`invalid line amount: ${line.amount_cents} (whole cents)`, 'amount');
  }

  function decide(request: ChargeRequest): ChargeOutcome {
    const hostedUrl = `${options.publicUrl}/sandbox/invoices/${request.invoiceId}`;
    const pdfUrl = `${options.publicUrl}/sandbox/invoices/${request.invoiceId}/pdf`;
    if (request.amountDueCents <= 0) return { status: 'paid', hostedUrl, pdfUrl };
    switch (request.paymentMethod) {
      case 'pm_card_visa':
      case 'pm_card_createDispute': // pays, then the cardholder disputes the charge (see charge below)
        return { status: 'paid', hostedUrl, pdfUrl };
      case 'pm_card_authenticationRequired':
        return { status: 'requires_action', hostedUrl, pdfUrl };
      case 'pm_card_chargeDeclined':
        return { status: 'declined', code: 'card_declined', hostedUrl, pdfUrl };
      default:
        return { status: 'declined', code: 'no_payment_method', hostedUrl, pdfUrl };
    }
  }

  async function emitObject(type: string, eventId: string, object: Record<string, unknown>) {
    const payload = { id: eventId, object: 'event', type, created: Math.floor(Date.now() / 1000), data: { object } };
    await sql`INSERT INTO sandbox_outbox (event_id, payload) VALUES (${eventId}, ${sql.json(payload as never)}) ON CONFLICT (event_id) DO NOTHING`;
  }

  const metadataOf = (invoice: { id: string; workspace_id: string }) => ({ invoice_id: invoice.id, workspace_id: invoice.workspace_id });

  /** Stripe's dispute object, with our invoice's metadata as the sandbox's charges carry it. */
  function disputeObject(row: { id: string; invoice_id: string; workspace_id: string; amount_cents: number; status: string }) {
    const charge = chargeOf(row.invoice_id);
    return { id: row.id, object: 'dispute', amount: Number(row.amount_cents), currency: 'usd', status: row.status, reason: 'fraudulent',
      charge: charge.id, payment_intent: charge.payment_intent, metadata: metadataOf({ id: row.invoice_id, workspace_id: row.workspace_id }) };
  }

  /** The cardholder disputes the whole charge, once per invoice (a retried charge opens no second one). */
  async function openDispute(invoice: { id: string; workspace_id: string }, amountCents: number) {
    await sql`
      INSERT INTO sandbox_disputes (id, invoice_id, workspace_id, amount_cents, status)
      VALUES (${`dp_sbx_${randomBytes(8).toString('hex')}`}, ${invoice.id}, ${invoice.workspace_id}, ${amountCents}, 'needs_response')
      ON CONFLICT (invoice_id) DO NOTHING`;
    const [row] = await sql<{ id: string; invoice_id: string; workspace_id: string; amount_cents: number }[]>`
      SELECT id, invoice_id, workspace_id, amount_cents FROM sandbox_disputes WHERE invoice_id = ${invoice.id}`;
    await emitObject('charge.dispute.created', `evt_sbx_${row!.id}:created`, disputeObject({ ...row!, status: 'needs_response' }));
  }

  const eventType = { paid: 'invoice.paid', declined: 'invoice.payment_failed', requires_action: 'invoice.payment_action_required' } as const;

  return withPermanentFailures<SandboxProvider>({
    name: 'sandbox',
    async charge(request) {
      validate(request);
      const outcome = decide(request);
      const invoice = { id: request.invoiceId, workspace_id: request.workspaceId, subscription_id: request.subscriptionId };
      // The event id comes from the payment attempt: a retried call queues the same event once.
      await emit(eventType[outcome.status], `evt_sbx_${attemptKey(request)}:${outcome.status}`, invoice,
        outcome.status === 'paid' ? 'paid' : 'open', Math.max(request.amountDueCents, 0));
      if (outcome.status === 'paid' && request.paymentMethod === 'pm_card_createDispute' && request.amountDueCents > 0) {
        await openDispute(invoice, request.amountDueCents);
      }
      return outcome;
    },
    // The sandbox's own record of a payment is the invoice.paid event it queued.
    isInvoicePaid: (invoice) => paidInSandbox(invoice.id),
    // As Stripe does: an invoice the sandbox holds as paid (3-D Secure completed on its hosted page, its
    // invoice.paid maybe still on its way) cannot be voided, the answer is `paid`; otherwise it is voided
    // there too (`invoice.voided`, after which no pending 3-D Secure attempt can complete). Serialized with
    // completeAuthentication by the charge's lock name, so a payment and a void never both win; idempotent.
    async voidInvoice({ invoiceId }) {
      return sql.begin(async (tx) => {
        const db = tx as unknown as Sql;
        await db`SELECT pg_advisory_xact_lock(hashtext(${`sandbox-charge:${invoiceId}`}))`;
        if (await paidInSandbox(invoiceId, db)) return { status: 'paid' };
        const [invoice] = await db<{ id: string; workspace_id: string; subscription_id: string | null; amount_due_cents: number }[]>`
          SELECT id, workspace_id, subscription_id, amount_due_cents FROM invoices WHERE id = ${invoiceId}`;
        if (invoice) await emit('invoice.voided', `evt_sbx_${invoiceId}:voided`, invoice, 'void', Number(invoice.amount_due_cents), db);
        return { status: 'void' };
      });
    },
    pendingAuthentication: (invoiceId) => pendingAuthentication(invoiceId),
    // Serialized per invoice with the charge's own lock name, so two posts of one form pay once.
    async completeAuthentication(invoice, attemptId) {
      return sql.begin(async (tx) => {
        await tx`SELECT pg_advisory_xact_lock(hashtext(${`sandbox-charge:${invoice.id}`}))`;
        const pending = await pendingAuthentication(invoice.id, tx as unknown as Sql);
        if (!pending || pending.attemptId !== attemptId) return false;
        if (pending.workspaceId !== invoice.workspace_id || pending.amountDueCents !== invoice.amount_due_cents) return false;
        await emit('invoice.paid', `${attemptId}:authenticated`, invoice, 'paid', pending.amountDueCents, tx as unknown as Sql);
        return true;
      });
    },
    // Like Stripe: at most what the card paid less earlier refunds, once per idempotency key, then
    // `charge.refunded` carrying the charge's total refunded so far.
    async refund(request) {
      if (!Number.isSafeInteger(request.amountCents) || request.amountCents <= 0) {
        throw new ProviderInvalidRequestError(`invalid refund amount: ${request.amountCents} (positive whole cents)`, 'amount');
      }
      const refunded = await sql.begin(async (tx) => {
        await tx`SELECT pg_advisory_xact_lock(hashtext(${`sandbox-charge:${request.invoiceId}`}))`;
        const [known] = await tx<{ id: string; seq: number }[]>`SELECT id, seq FROM sandbox_refunds WHERE idempotency_key = ${request.idempotencyKey}`;
        if (known) return known;
        const [paid] = await tx<{ cents: number | null; refunded: number }[]>`
          SELECT (SELECT amount_due_cents FROM invoices WHERE id = ${request.invoiceId} AND status = 'paid') AS cents,
                 (SELECT coalesce(sum(amount_cents), 0) FROM sandbox_refunds WHERE invoice_id = ${request.invoiceId})::bigint AS refunded`;
        const left = Number(paid!.cents ?? 0) - Number(paid!.refunded);
        if (request.amountCents > left) {
          throw new ProviderInvalidRequestError(`refund of ${request.amountCents} exceeds the ${left} cents left on the charge`, 'amount');
        }
        const [row] = await tx<{ id: string; seq: number }[]>`
          INSERT INTO sandbox_refunds (id, idempotency_key, invoice_id, amount_cents, reason)
          VALUES (${`re_sbx_${randomBytes(12).toString('hex')}`}, ${request.idempotencyKey}, ${request.invoiceId}, ${request.amountCents}, ${request.reason})
          RETURNING id, seq`;
        return row!;
      });
      const [totals] = await sql<{ refunded: number; paid: number | null }[]>`
        SELECT (SELECT coalesce(sum(amount_cents), 0) FROM sandbox_refunds WHERE invoice_id = ${request.invoiceId} AND seq <= ${refunded.seq})::bigint AS refunded,
               (SELECT amount_due_cents FROM invoices WHERE id = ${request.invoiceId}) AS paid`;
      const [amount, amountRefunded] = [Number(totals!.paid ?? 0), Number(totals!.refunded)];
      await emitObject('charge.refunded', `evt_sbx_${refunded.id}:refunded`, {
        ...chargeOf(request.invoiceId), object: 'charge', amount, amount_refunded: amountRefunded, refunded: amountRefunded >= amount,
        currency: 'usd', status: 'succeeded', metadata: metadataOf({ id: request.invoiceId, workspace_id: request.workspaceId }),
      });
      return { refundId: refunded.id };
    },
    async closeDispute(id, outcome) {
      const [row] = await sql<{ id: string; invoice_id: string; workspace_id: string; amount_cents: number; status: string }[]>`
        UPDATE sandbox_disputes SET status = CASE WHEN status IN ('won', 'lost') THEN status ELSE ${outcome} END
        WHERE id = ${id} RETURNING id, invoice_id, workspace_id, amount_cents, status`;
      if (!row) return null;
      await emitObject('charge.dispute.closed', `evt_sbx_${row.id}:closed`, disputeObject(row));
      return { id: row.id, status: row.status, invoiceId: row.invoice_id };
    },
  });
}
