import { createRoute, z } from '@hono/zod-openapi';
import { autoTopUpState, setAutoTopUp } from '../../billing/auto-top-up.js';
import { PACKS } from '../../domain/catalog.js';
import type { AutoTopUpView } from '../../ledger/auto-top-up.js';
import { requireWorkspace } from '../auth.js';
import { invalid } from '../errors.js';
import { newRouter, type ApiDeps } from '../router.js';
import { Instant, bearer, json, problemResponses } from '../schemas.js';

const sizes = PACKS.map((p) => p.credits);
const AutoTopUpBody = z.object({
  enabled: z.boolean(),
  threshold: z.number().int().min(0).max(1_000_000_000)
    .openapi({ description: 'Credits: when a capture or an expiry takes the available balance below this, or a hold is refused for want of credits, one pack is bought.' }),
  pack: z.number().int().refine((size) => sizes.includes(size), { message: `one of ${sizes.join(', ')}` })
    .openapi({ enum: sizes, description: 'Credits of the pack bought, priced as any pack (your plan\'s discount applies).' }),
  monthly_limit_cents: z.number().int().min(1).max(100_000_000)
    .openapi({ description: 'Cap on automatic top-ups (paid and in flight) per calendar month (UTC); at least one pack\'s price.' }),
}).strict().openapi('AutoTopUpUpdateParams');

const TopUp = z.object({
  id: z.string(),
  status: z.enum(['pending', 'paid', 'failed', 'skipped']),
  cause: z.enum(['capture', 'expiry', 'refusal']),
  pack: z.number().int(),
  amount_cents: z.number().int().nullable(),
  invoice_id: z.string().nullable(),
  failure_code: z.string().nullable().openapi({ description: 'A decline code, `authentication_required`, or why it was skipped.' }),
  created_at: Instant,
  updated_at: Instant,
}).openapi('AutoTopUp');

const AutoTopUpState = z.object({
  configured: z.boolean().openapi({ description: 'False until the setting is first saved (then the other settings are null).' }),
  enabled: z.boolean(),
  threshold: z.number().int().nullable(),
  pack: z.number().int().nullable(),
  monthly_limit_cents: z.number().int().nullable(),
  armed: z.boolean().openapi({ description: 'The next crossing below the threshold buys a pack (armed when saved and whenever available is at or above the threshold).' }),
  failures_in_row: z.number().int(),
  disabled_reason: z.string().nullable().openapi({ description: '`payment_failed_twice` when two failed top-ups in a row turned it off; saving again clears it.' }),
  pending_top_up: z.object({ id: z.string(), created_at: Instant }).nullable(),
  this_month: z.object({ month: z.string(), spent_cents: z.number().int(), count: z.number().int() })
    .openapi({ description: 'Automatic top-ups paid or in flight this calendar month (UTC, the workspace\'s time).' }),
  top_ups: z.array(TopUp).openapi({ description: 'The latest ten, newest first.' }),
}).openapi('AutoTopUpSettings');

function present(view: AutoTopUpView | undefined, month: string): z.infer<typeof AutoTopUpState> {
  if (!view) {
    return {
      configured: false, enabled: false, threshold: null, pack: null, monthly_limit_cents: null, armed: false, failures_in_row: 0,
      disabled_reason: null, pending_top_up: null, this_month: { month, spent_cents: 0, count: 0 }, top_ups: [],
    };
  }
  return {
    configured: true, enabled: view.enabled, threshold: view.threshold, pack: view.pack, monthly_limit_cents: view.monthly_limit_cents,
    armed: view.armed, failures_in_row: view.failures_in_row, disabled_reason: view.disabled_reason,
    pending_top_up: view.pending ? { id: view.pending.id, created_at: view.pending.created_at.toISOString() } : null,
    this_month: view.this_month,
    top_ups: view.recent.map((t) => ({
      id: t.id, status: t.status, cause: t.cause, pack: t.pack_credits, amount_cents: t.amount_cents, invoice_id: t.invoice_id,
      failure_code: t.failure_code, created_at: t.created_at.toISOString(), updated_at: t.updated_at.toISOString(),
    })),
  };
}

export function autoTopUpRoutes(deps: ApiDeps) {
  const router = newRouter();

  router.openapi(
    createRoute({ method: 'get', path: '/v1/auto-top-up', security: bearer,
      description: 'The automatic top-up setting and where it stands: armed, failures in a row, why it was disabled, this month\'s spend, the latest top-ups.',
      responses: { 200: { description: 'Automatic top-up', ...json(AutoTopUpState) }, ...problemResponses } }),
    async (c) => {
      const workspace = requireWorkspace(c.get('principal'));
      const { view, month } = await autoTopUpState(deps.sql, workspace.id);
      return c.json(present(view, month), 200);
    },
  );

  router.openapi(
    createRoute({ method: 'put', path: '/v1/auto-top-up', security: bearer,
      description: 'Saves the automatic top-up (SPEC §11): armed at once; a failure count and a disable are cleared. A monthly limit below one pack\'s price is a 400.',
      request: { body: { ...json(AutoTopUpBody), required: true } },
      responses: { 200: { description: 'Automatic top-up', ...json(AutoTopUpState) }, ...problemResponses } }),
    async (c) => {
      const workspace = requireWorkspace(c.get('principal'));
      const saved = await setAutoTopUp(deps.sql, workspace.id, c.req.valid('json'));
      if ('invalid' in saved) throw invalid(saved.invalid.field, saved.invalid.reason);
      return c.json(present(saved.view, saved.view.this_month.month), 200);
    },
  );
  return router;
}
