import { createRoute, z } from '@hono/zod-openapi';
import { INTERVALS, PLAN_IDS } from '../../domain/catalog.js';
import { currentSubscription, type SubscriptionRow } from '../../ledger/subscriptions.js';
import {
  cancelUpdate, type ChangeResult as ChangeResultView, pauseUpdate, resumeUpdate, type SubscriptionView, withdrawScheduledChangeUpdate,
} from '../../workflows/messages.js';
import { requireWorkspace } from '../auth.js';
import { Refusal } from '../../domain/refusals.js';
import { invalid } from '../errors.js';
import { newRouter, type ApiDeps } from '../router.js';
import { Instant, bearer, json, Problem, problemResponses } from '../schemas.js';
import { getInvoice } from '../../ledger/invoices.js';
import { refundViewsOf } from './admin-invoices.js';
import { Invoice, presentInvoice } from './invoices.js';
import { changeSubscriptionAsConfirmed } from '../../billing/confirmed-change.js';
import { previewSubscriptionChange } from '../../billing/previews.js';
import { startSubscription, updateSubscription } from '../../billing/subscriptions.js';

const Interval = z.enum(INTERVALS as ['month', 'year']);
const NewSubscription = z.object({ plan: z.enum(PLAN_IDS), interval: Interval }).strict().openapi('SubscriptionCreateParams');
const ChangeBody = z.object({ plan: z.enum(PLAN_IDS).optional(), interval: Interval.optional() }).strict().openapi('SubscriptionChangePreviewParams');
const ConfirmedChangeBody = ChangeBody.extend({
  expected_amount_due_cents: z.number().int().min(0).optional()
    .openapi({ description: 'The amount due the customer confirmed (from the preview): if it differs now, 409 preview_outdated with the fresh preview, nothing charged' }),
}).strict().openapi('SubscriptionChangeParams');
export const PauseBody = z.object({ cycles: z.number().int().min(1).max(3) }).strict().openapi('SubscriptionPauseParams');
export const Subscription = z.object({
  id: z.string(),
  status: z.enum(['incomplete', 'active', 'past_due', 'paused', 'canceled']),
  plan: z.string(),
  interval: Interval,
  current_period_start: Instant,
  current_period_end: Instant,
  cancel_at_period_end: z.boolean(),
  next_due_at: Instant.nullable(),
  scheduled_change: z.object({ plan: z.string(), effective_at: Instant }).nullable(),
  pause: z.object({ cycles: z.number().int(), starts_at: Instant.nullable(), resumes_at: Instant.nullable() }).nullable(),
  pending_upgrade: z.object({ plan: z.string(), interval: Interval, invoice_id: z.string(), expires_at: Instant }).nullable(),
  incomplete_payment: z.object({
    outcome: z.enum(['declined', 'requires_action']).openapi({
      description: '`declined`: the card was declined (see decline_code); `requires_action`: the customer must complete 3-D Secure on the hosted invoice page.',
    }),
    decline_code: z.string().nullable().openapi({ description: 'The provider\'s decline code (e.g. `card_declined`), null unless declined.' }),
    invoice_id: z.string().openapi({ description: 'The open invoice of the first period; paying it starts the subscription.' }),
    hosted_url: z.string().nullable().openapi({ description: 'Where the customer can pay or authenticate the invoice; null when there is none.' }),
    expires_at: Instant.openapi({ description: 'When the attempt lapses if still unpaid (23 hours after it started); its invoice is then voided.' }),
  }).nullable().openapi({
    description: 'Why the first payment of a subscribe (status `incomplete`) or of a restart has not succeeded yet, the invoice to pay and '
      + 'the deadline; null when no first payment is outstanding. A new payment method retries it at once; cancel ends an incomplete '
      + 'subscription at once.',
  }),
}).openapi('Subscription');
const ChangeResult = z.object({
  kind: z.enum(['upgrade', 'downgrade', 'interval_switch']),
  effective_at: Instant.nullable(),
  invoice_id: z.string().nullable().openapi({ description: 'The invoice the change made now (upgrade, interval switch); null for a downgrade' }),
  // A union, not Invoice.nullable(): the nullable copy keeps Invoice's component name and would make Invoice itself nullable.
  latest_invoice: z.union([Invoice, z.null()]),
  invoice: z.string().optional().openapi({ deprecated: true, description: 'Deprecated: the same id as `invoice_id`, absent for a downgrade (kept for clients written before it)' }),
  credits_granted: z.number().int().optional(),
  pending: z.boolean().optional(),
}).openapi('ChangeResult', {
  description: 'A change: `invoice_id` and `latest_invoice` are the invoice it made now, as GET /v1/invoices/{id} shows it (the object a pack '
    + 'purchase answers as `invoice`); both null for a downgrade, which is invoiced at the renewal.',
});
const Preview = z.object({
  kind: z.enum(['upgrade', 'downgrade', 'interval_switch']),
  effective_at: Instant,
  invoice: z.object({
    lines: z.array(z.object({ description: z.string(), amount_cents: z.number().int() })),
    subtotal_cents: z.number().int(), tax_cents: z.number().int(), total_cents: z.number().int(),
    balance_applied_cents: z.number().int(), amount_due_cents: z.number().int(),
  }).nullable().openapi({ description: 'What is invoiced at once (null for a downgrade, which takes effect at the period end)' }),
  credits_granted: z.number().int(),
  credits_expire_at: Instant.nullable(),
  custom_models_deactivated: z.number().int().openapi({ description: 'Active custom models the change deactivates when it takes effect' }),
}).openapi('ChangePreview');
const refusals = {
  ...problemResponses,
  402: { description: 'Payment declined', content: { 'application/problem+json': { schema: Problem } } },
  404: { description: 'No subscription', content: { 'application/problem+json': { schema: Problem } } },
  409: { description: 'Not allowed in the subscription\'s current state', content: { 'application/problem+json': { schema: Problem } } },
} as const;

export function fromRow(row: SubscriptionRow): z.infer<typeof Subscription> {
  return {
    id: row.id, status: row.status, plan: row.plan, interval: row.interval,
    current_period_start: row.current_period_start.toISOString(), current_period_end: row.current_period_end.toISOString(),
    cancel_at_period_end: row.cancel_at_period_end, next_due_at: row.next_due_at?.toISOString() ?? null,
    scheduled_change: row.scheduled_change ?? null, pause: row.pause ?? null, pending_upgrade: row.pending_upgrade ?? null,
    incomplete_payment: row.incomplete_payment ?? null,
  };
}

export function subscriptionRoutes(deps: ApiDeps) {
  const router = newRouter();
  const post = (path: string, description: string, body?: z.ZodType) => createRoute({
    method: 'post', path, security: bearer, description,
    ...(body ? { request: { body: { ...json(body), required: true } } } : {}),
    responses: { 200: { description: 'The subscription after the request', ...json(Subscription) }, ...refusals },
  });
  const respond = (v: SubscriptionView) => v as z.infer<typeof Subscription>;

  router.openapi(
    createRoute({ method: 'post', path: '/v1/subscription', security: bearer,
      description: 'Charges the first period now; credits are granted once it is paid.',
      request: { body: { ...json(NewSubscription), required: true } },
      responses: { 201: { description: 'Subscription after the first charge attempt', ...json(Subscription) }, ...refusals } }),
    async (c) => c.json(respond(await startSubscription(deps, requireWorkspace(c.get('principal')), c.req.valid('json'))), 201),
  );

  router.openapi(
    createRoute({ method: 'get', path: '/v1/subscription', security: bearer,
      responses: { 200: { description: 'The workspace\'s subscription', ...json(Subscription) }, ...refusals } }),
    async (c) => {
      const row = await currentSubscription(deps.sql, requireWorkspace(c.get('principal')).id);
      if (!row) throw new Refusal('no_subscription', 'this workspace has no subscription');
      return c.json(fromRow(row), 200);
    },
  );

  router.openapi(
    createRoute({ method: 'post', path: '/v1/subscription/change', security: bearer,
      description: 'Upgrade (now, prorated), downgrade (at the next renewal) or switch monthly/yearly (now, re-anchored).',
      request: { body: { ...json(ConfirmedChangeBody), required: true } },
      responses: { 200: { description: 'What the change is and when it takes effect', ...json(ChangeResult) }, ...refusals } }),
    async (c) => {
      const { expected_amount_due_cents: expected, ...body } = c.req.valid('json');
      if (!body.plan && !body.interval) throw invalid('plan', 'give a plan, an interval or both');
      // SPEC §10: a confirmed amount that differs now is 409 preview_outdated with the fresh preview, nothing charged.
      const result: ChangeResultView = await changeSubscriptionAsConfirmed(deps, requireWorkspace(c.get('principal')), body, expected);
      const { invoice_id, ...rest } = result;
      const row = invoice_id ? await getInvoice(deps.sql, invoice_id) : undefined;
      const latest_invoice = row ? presentInvoice(row, (await refundViewsOf(deps.sql, [row.id]))(row.id)) : null;
      return c.json({ ...rest, invoice_id: invoice_id ?? null, latest_invoice, ...(invoice_id ? { invoice: invoice_id } : {}) }, 200);
    },
  );

  router.openapi(
    createRoute({ method: 'post', path: '/v1/subscription/change/preview', security: bearer,
      description: 'What the change would do now (SPEC §10): the invoice with the balance applied, credits and their expiry, models deactivated. Changes nothing; a change that would be refused gets the same error.',
      request: { body: { ...json(ChangeBody), required: true } },
      responses: { 200: { description: 'The preview', ...json(Preview) }, ...refusals } }),
    async (c) => {
      const body = c.req.valid('json');
      if (!body.plan && !body.interval) throw invalid('plan', 'give a plan, an interval or both');
      return c.json(await previewSubscriptionChange(deps, requireWorkspace(c.get('principal')), body), 200);
    },
  );

  router.openapi(
    createRoute({ method: 'delete', path: '/v1/subscription/scheduled-change', security: bearer,
      description: 'Withdraws a scheduled downgrade.',
      responses: { 200: { description: 'The subscription', ...json(Subscription) }, ...refusals } }),
    async (c) => c.json(respond(await updateSubscription(deps, requireWorkspace(c.get('principal')), withdrawScheduledChangeUpdate)), 200),
  );

  router.openapi(post('/v1/subscription/cancel', 'No further renewals; everything stays usable until the period ends.'),
    async (c) => c.json(respond(await updateSubscription(deps, requireWorkspace(c.get('principal')), cancelUpdate)), 200));
  router.openapi(post('/v1/subscription/resume', 'Withdraws a cancellation or pause, ends a pause now, or restarts a canceled subscription (charged).'),
    async (c) => c.json(respond(await updateSubscription(deps, requireWorkspace(c.get('principal')), resumeUpdate)), 200));
  router.openapi(post('/v1/subscription/pause', 'Pauses for 1–3 cycles from the period end: no charge, no refresh.', PauseBody),
    async (c) => {
      const { cycles } = c.req.valid('json' as never) as z.infer<typeof PauseBody>;
      return c.json(respond(await updateSubscription(deps, requireWorkspace(c.get('principal')), pauseUpdate, { cycles })), 200);
    });
  return router;
}
