import { adminAdjustmentRoutes } from './admin-adjustments.js';
import { adminAuditRoutes } from './admin-audit.js';
import { adminOperatorKeyRoutes } from './admin-operator-keys.js';
import { adminSubscriptionRoutes } from './admin-subscription.js';
import { adminWorkspaceReadRoutes } from './admin-workspace-reads.js';
import { adminWorkspaceRoutes } from './admin-workspaces.js';

/** The operator routes of SPEC §10 built here (refunds and disputes are api/routes/admin-invoices.ts). */
export const adminRoutes = [
  adminWorkspaceRoutes, adminWorkspaceReadRoutes, adminAdjustmentRoutes, adminSubscriptionRoutes, adminOperatorKeyRoutes, adminAuditRoutes,
];
