// The quick tour: a studio's workspace on a test clock, from its first subscription to a finished creation.
// Run it while `npm start` runs: npx tsx examples/quick-tour.ts
// (CREDIT_ENGINE_URL and ADMIN_API_KEY point it elsewhere; by default http://localhost:3000 and .data/admin-api-key.)
import { readFileSync } from 'node:fs';
import { createCreditEngineClient, idempotencyKey } from '../client/index.js';

const baseUrl = process.env.CREDIT_ENGINE_URL ?? 'http://localhost:3000';
await fetch(`${baseUrl}/readyz`).catch(() => {
  console.error(`No API answers at ${baseUrl}: start it with \`npm start\` (or set CREDIT_ENGINE_URL), then run the tour again.`);
  process.exit(1);
});
const operatorKey = process.env.ADMIN_API_KEY ?? readFileSync('.data/admin-api-key', 'utf8').trim();
const operator = createCreditEngineClient({ baseUrl, apiKey: operatorKey });

/** The answer's body, or a thrown error carrying the problem document (status, code, detail). */
function ok<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.data === undefined) throw new Error(`HTTP ${result.response.status}: ${JSON.stringify(result.error)}`);
  return result.data;
}

// 1. A test clock (the operator's): the workspace's time stands still until the clock is advanced.
const clock = ok(await operator.POST('/v1/test-clocks', { body: { frozen_time: '2026-01-01T00:00:00Z' } }));

// 2. A workspace on that clock; its first API key is in the answer, shown this once.
const workspace = ok(await operator.POST('/v1/workspaces', { body: { name: 'Quick tour studio', test_clock_id: clock.id } }));
const studio = createCreditEngineClient({ baseUrl, apiKey: workspace.api_key });
console.log(`workspace ${workspace.id} on clock ${clock.id}`);

// 3. A card (sandbox test id), then Max monthly. The Idempotency-Key makes a retried POST safe.
ok(await studio.PUT('/v1/payment-method', { body: { payment_method: 'pm_card_visa' } }));
const subscription = ok(await studio.POST('/v1/subscription', {
  body: { plan: 'max', interval: 'month' }, ...idempotencyKey(`subscribe-${workspace.id}`),
}));
console.log(`subscription ${subscription.status}: ${subscription.plan} until ${subscription.current_period_end}`);

// 4. Two months later. An advance answers at once; the renewals run in the background, so wait for `ready`.
ok(await operator.POST('/v1/test-clocks/{id}/advance', {
  params: { path: { id: clock.id } }, body: { frozen_time: '2026-03-05T00:00:00Z' },
}));
for (;;) {
  const { status } = ok(await operator.GET('/v1/test-clocks/{id}', { params: { path: { id: clock.id } } }));
  if (status === 'ready') break;
  await new Promise((resolve) => setTimeout(resolve, 200));
}

// 5. Credits and invoices: one lot per 30 days (each usable for 60), one invoice per period.
const credits = ok(await studio.GET('/v1/credits'));
console.log(`credits available: ${credits.available}`);
for (const lot of credits.lots) console.log(`  lot ${lot.source}: ${lot.remaining} of ${lot.granted}, expires ${lot.expires_at}`);
const invoices = ok(await studio.GET('/v1/invoices')).data;
console.log(`invoices: ${invoices.length}`);
for (const invoice of invoices) console.log(`  ${invoice.created_at} ${invoice.kind} ${invoice.total_cents} cents ${invoice.status}`);

// 6. Estimate an 8-second veo-2 video, start it (the quote's credits are held), complete it (captured).
const quote = ok(await studio.POST('/v1/credits/estimate', { body: { model: 'veo-2', duration_s: 8 } }));
console.log(`estimate: ${quote.credits} credits (quote ${quote.quote_id}, valid until ${quote.expires_at})`);
const creation = ok(await studio.POST('/v1/creations', { body: { quote_id: quote.quote_id } }));
console.log(`creation ${creation.id} ${creation.status}, holding ${creation.held} credits`);
const completed = ok(await studio.POST('/v1/creations/{id}/complete', {
  params: { path: { id: creation.id } }, body: { credits: quote.credits },
}));
console.log(`creation ${completed.status}: charged ${completed.charged} credits`);
console.log(`credits available after: ${ok(await studio.GET('/v1/credits')).available}`);
