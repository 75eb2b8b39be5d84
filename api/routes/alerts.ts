import { createRoute, z } from '@hono/zod-openapi';
import { getAlertSettings, updateAlertSettings } from '../../ledger/alerts.js';
import { privateTargetsAllowed, webhookTargetProblem } from '../../runtime/outgoing-http.js';
import { requireWorkspace } from '../auth.js';
import { invalid } from '../errors.js';
import { newRouter, type ApiDeps } from '../router.js';
import { bearer, json, problemResponses, refuseUnstorableText } from '../schemas.js';

const AlertsBody = z.object({
  low_balance_threshold: z.number().int().min(0).max(1_000_000_000).nullable().optional()
    .openapi({ description: 'Alert when the available balance drops below this; null restores the default (10% of the plan\'s monthly credits).' }),
  webhook_url: z.url({ protocol: /^https?$/, hostname: z.regexes.hostname }).max(2048).superRefine(refuseUnstorableText({ singleLine: true })).nullable().optional()
    .openapi({ description: 'Where notifications are POSTed as signed webhooks; null stops delivery (they stay listed). '
      + 'http(s), no credentials, a public host: private, loopback and link-local addresses are refused (here and when connecting).' }),
}).strict().openapi('AlertSettingsUpdateParams');
const Alerts = z.object({
  low_balance_threshold: z.number().int().nullable(),
  effective_low_balance_threshold: z.number().int().nullable(),
  webhook_url: z.string().nullable(),
  signing_secret: z.string().optional().openapi({
    description: 'Shown once, when a webhook URL is first set: verify `x-credit-engine-signature` (t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">) with it.',
  }),
}).openapi('AlertSettings');

export function alertRoutes(deps: ApiDeps) {
  const router = newRouter();

  router.openapi(
    createRoute({ method: 'get', path: '/v1/alerts', security: bearer,
      responses: { 200: { description: 'Alert settings', ...json(Alerts) }, ...problemResponses } }),
    async (c) => {
      const workspace = requireWorkspace(c.get('principal'));
      return c.json(await getAlertSettings(deps.sql, workspace.id), 200);
    },
  );

  router.openapi(
    createRoute({ method: 'put', path: '/v1/alerts', security: bearer,
      description: 'Sets the low-balance threshold and the webhook URL; absent fields stay as they are.',
      request: { body: { ...json(AlertsBody), required: true } },
      responses: { 200: { description: 'Alert settings', ...json(Alerts) }, ...problemResponses } }),
    async (c) => {
      const workspace = requireWorkspace(c.get('principal'));
      const body = c.req.valid('json');
      if (body.webhook_url) {
        // SSRF (issue 16): obvious private targets are a 400 here; the worker's guarded client checks the resolved addresses.
        const why = webhookTargetProblem(body.webhook_url, { allowPrivateTargets: deps.allowPrivateWebhookTargets ?? privateTargetsAllowed() });
        if (why) throw invalid('webhook_url', why);
      }
      return c.json(await updateAlertSettings(deps.sql, workspace.id, body), 200);
    },
  );
  return router;
}
