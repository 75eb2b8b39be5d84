import { createRoute, z } from '@hono/zod-openapi';
import { retryDelivery } from '../../billing/webhook-delivery.js';
import { EVENT_TYPES } from '../../domain/events.js';
import { refuse } from '../../domain/refusals.js';
import { findRetryTarget, getEnabledEvents, listDeliveries, setEnabledEvents } from '../../ledger/events.js';
import { guardedFetch } from '../../runtime/outgoing-http.js';
import { requireWorkspace } from '../auth.js';
import { invalid, notFound } from '../errors.js';
import { newRouter, type ApiDeps } from '../router.js';
import { Instant, bearer, json, listOf, Problem, problemResponses, TextLine } from '../schemas.js';

/** Outgoing events (SPEC §11): which types a workspace receives, the delivery log and manual retries. */

const EventTypeOrAll = z.enum([...EVENT_TYPES, '*']);
const WebhookEvents = z.object({
  enabled_events: z.array(EventTypeOrAll).openapi({ description: 'The event types sent to the webhook URL of PUT /v1/alerts; `*` is every type. None by default (alerts only).' }),
  available_events: z.array(z.enum(EVENT_TYPES)),
}).openapi('WebhookEvents');
const WebhookEventsBody = z.object({
  enabled_events: z.array(EventTypeOrAll).max(EVENT_TYPES.length + 1),
}).strict().openapi('WebhookEventsUpdateParams');

const WebhookDelivery = z.object({
  id: z.string().openapi({ example: 'whd_42' }),
  event_id: z.string().openapi({ description: 'The event (`evt_…`) or alert (`ntf_…`) sent: the `id` of the body', example: 'evt_0f5181b1ca294dc9ab1b3ccc127963ce' }),
  event_type: z.string().openapi({ example: 'invoice.paid' }),
  sequence: z.number().int().nullable().openapi({ description: 'The event\'s per-workspace sequence; null for alerts' }),
  attempt: z.number().int().openapi({ description: '1 for the event\'s first attempt, then 2, 3, … (automatic and manual together)' }),
  trigger: z.enum(['automatic', 'manual']),
  url: z.string(),
  status_code: z.number().int().nullable().openapi({ description: 'The receiver\'s HTTP status; null when none came (network error, timeout)' }),
  error: z.string().nullable().openapi({ description: 'Null when the receiver answered 2xx' }),
  duration_ms: z.number().int(),
  at: Instant.openapi({ description: 'When the attempt started (wall clock)' }),
  event_status: z.enum(['pending', 'delivered', 'failed']).openapi({ description: 'Where the event stands now: delivered (a 2xx came), failed (all 10 automatic attempts failed; a manual retry may still deliver it), pending' }),
}).openapi('WebhookDelivery');

const DeliveriesQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  starting_after: TextLine.min(1).max(64).optional().openapi({ description: 'The `next_cursor` of the previous page' }),
  event_id: TextLine.min(1).max(64).optional().openapi({ description: 'Only this event\'s attempts' }),
});
const RetryParams = z.object({
  id: TextLine.min(1).max(64).openapi({ param: { name: 'id', in: 'path' }, description: 'A delivery (`whd_…`) or an event (`evt_…`, `ntf_…`)' }),
});
const notFoundResponse = { description: 'No such delivery or event (or not this workspace\'s)', content: { 'application/problem+json': { schema: Problem } } };
const conflictResponse = {
  description: '`webhook_not_configured`: no webhook URL is set; `event_not_yet_sent`: the event\'s first attempt has not ended (first attempts go in sequence order)',
  content: { 'application/problem+json': { schema: Problem } },
};

export function webhookDeliveryRoutes(deps: ApiDeps) {
  const router = newRouter();

  router.openapi(
    createRoute({ method: 'get', path: '/v1/webhook-events', security: bearer,
      responses: { 200: { description: 'The event types the workspace receives', ...json(WebhookEvents) }, ...problemResponses } }),
    async (c) => {
      const workspace = requireWorkspace(c.get('principal'));
      return c.json({ enabled_events: await getEnabledEvents(deps.sql, workspace.id) as z.infer<typeof EventTypeOrAll>[], available_events: [...EVENT_TYPES] }, 200);
    },
  );

  router.openapi(
    createRoute({ method: 'put', path: '/v1/webhook-events', security: bearer,
      description: 'Chooses the event types sent (signed, retried, in sequence order) to the webhook URL of PUT /v1/alerts. '
        + 'Changes committed from now on are recorded as events; earlier ones never are.',
      request: { body: { ...json(WebhookEventsBody), required: true } },
      responses: { 200: { description: 'The event types the workspace receives', ...json(WebhookEvents) }, ...problemResponses } }),
    async (c) => {
      const workspace = requireWorkspace(c.get('principal'));
      const enabled = await setEnabledEvents(deps.sql, workspace.id, c.req.valid('json').enabled_events);
      return c.json({ enabled_events: enabled as z.infer<typeof EventTypeOrAll>[], available_events: [...EVENT_TYPES] }, 200);
    },
  );

  router.openapi(
    createRoute({ method: 'get', path: '/v1/webhook-deliveries', security: bearer,
      description: 'Every attempt to deliver an event or alert to the webhook URL, newest first.',
      request: { query: DeliveriesQuery },
      responses: {
        200: { description: 'A page of deliveries', ...json(listOf('WebhookDeliveryList', WebhookDelivery)) },
        ...problemResponses,
      } }),
    async (c) => {
      const workspace = requireWorkspace(c.get('principal'));
      const { limit, starting_after, event_id } = c.req.valid('query');
      const page = await listDeliveries(deps.sql, workspace.id, { limit, after: starting_after, eventId: event_id });
      if (!page) throw invalid('starting_after', 'not a delivery id of this workspace');
      return c.json(page, 200);
    },
  );

  router.openapi(
    createRoute({ method: 'post', path: '/v1/webhook-deliveries/{id}/retry', security: bearer,
      description: 'Sends the event again now: the identical body, with a fresh signature timestamp, logged as a `manual` attempt '
        + '(also for an event already delivered). A 2xx marks it delivered. Answers the logged attempt, whatever the receiver said.',
      request: { params: RetryParams },
      responses: { 200: { description: 'The attempt made', ...json(WebhookDelivery) }, 404: notFoundResponse, 409: conflictResponse, ...problemResponses } }),
    async (c) => {
      const workspace = requireWorkspace(c.get('principal'));
      const target = await findRetryTarget(deps.sql, workspace.id, c.req.valid('param').id);
      if (!target) throw notFound('webhook delivery');
      if (!target.configured) refuse('webhook_not_configured', 'no webhook URL is set (PUT /v1/alerts)');
      if (target.awaitingFirstAttempt) {
        refuse('event_not_yet_sent', 'the event\'s first attempt has not ended; first attempts go in sequence order', { sequence: target.sequence });
      }
      return c.json(await retryDelivery({ sql: deps.sql, fetchImpl: guardedFetch }, target), 200);
    },
  );
  return router;
}
