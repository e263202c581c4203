import { Hono } from "hono";
import type { ControlApp } from "../types.ts";
import { kubeRoutes } from "./kube-routes.ts";
import { applyRoutes } from "./apply-routes.ts";
import { revisionRoutes } from "./revision-routes.ts";
import { snapshotRoutes } from "./snapshot-routes.ts";
import { proxyStatusRoutes } from "./proxy-status-routes.ts";
import { analyzeRoutes } from "./analyze-routes.ts";
import { publishRoutes } from "./publish-routes.ts";
import { quotaRoutes } from "./quota-routes.ts";
import { deleteRoutes } from "./delete-routes.ts";

/** Config API routes (Kubernetes-style REST, apply, revisions, snapshots, proxy status, analyze). */
export const configRoutes = new Hono<ControlApp>();
configRoutes.route("/", kubeRoutes);
configRoutes.route("/", applyRoutes);
configRoutes.route("/", revisionRoutes);
configRoutes.route("/", snapshotRoutes);
configRoutes.route("/", proxyStatusRoutes);
configRoutes.route("/", analyzeRoutes);
configRoutes.route("/", publishRoutes);
configRoutes.route("/", quotaRoutes);
configRoutes.route("/", deleteRoutes);
