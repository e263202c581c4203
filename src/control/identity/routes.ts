import { Hono } from "hono";
import type { ControlApp } from "../types.ts";
import { bundleRoutes } from "./bundle-routes.ts";
import { nodeRoutes } from "./node-routes.ts";
import { joinTokenRoutes } from "./join-token-routes.ts";
import { registrationRoutes } from "./registration-routes.ts";
import { nodeAdminRoutes } from "./node-admin-routes.ts";
import { caRoutes } from "./ca-routes.ts";
import { tokenRoutes } from "./token-routes.ts";
import { auditRoutes } from "./audit-routes.ts";

/** Identity issuer routes (bundle, attestation, SVIDs, join tokens, revocation, CA rotation), API tokens and the audit log. */
export const identityRoutes = new Hono<ControlApp>();

for (const routes of [bundleRoutes, nodeRoutes, joinTokenRoutes, registrationRoutes, nodeAdminRoutes, caRoutes, tokenRoutes, auditRoutes]) {
  identityRoutes.route("/", routes);
}
