import { Hono } from "hono";
import type { ControlApp } from "../types.ts";

/** Config API routes (Kubernetes-style REST, apply, revisions, snapshots). */
export const configRoutes = new Hono<ControlApp>();
