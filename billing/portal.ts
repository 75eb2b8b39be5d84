import { randomBytes } from 'node:crypto';
import type { Sql } from '../ledger/db.js';
import { getWorkspace, type WorkspaceIdentity } from '../ledger/workspaces.js';
import type { StripeProvider } from '../payments/stripe.js';

/**
 * The workspace's Stripe customer, created on first need and remembered on the workspace (SPEC §5).
 * Throws what the provider throws.
 */
export async function providerCustomerId(deps: { sql: Sql }, stripe: StripeProvider, workspace: WorkspaceIdentity): Promise<string> {
  const known = (await getWorkspace(deps.sql, workspace.id))?.provider_customer_id;
  if (known) return known;
  const { customerId } = await stripe.ensureCustomer({ workspaceId: workspace.id, name: workspace.name });
  await deps.sql`UPDATE workspaces SET provider_customer_id = ${customerId} WHERE id = ${workspace.id}`;
  return customerId;
}

/**
 * Opens a billing portal session for the workspace (SPEC §5) and returns its URL: Stripe's Billing Portal
 * (returning to /pricing) in Stripe mode, the sandbox's portal page otherwise. Used by POST
 * /v1/billing-portal and by the billing page's "Manage subscription" link alike. Throws what the provider
 * throws (a network or Stripe error).
 */
export async function openBillingPortal(
  deps: { sql: Sql; stripe?: StripeProvider; publicUrl: string }, workspace: WorkspaceIdentity,
): Promise<{ url: string }> {
  if (!deps.stripe) return { url: `${deps.publicUrl}/sandbox/portal` };
  const customerId = await providerCustomerId(deps, deps.stripe, workspace);
  // A fresh request id: each portal session is a new one (Stripe's sessions are short-lived and single-use).
  const { url } = await deps.stripe.createPortalSession({ customerId, requestId: randomBytes(8).toString('hex'), returnUrl: `${deps.publicUrl}/pricing` });
  return { url };
}
