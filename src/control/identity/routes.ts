import { Hono } from "hono";
import type { ControlApp } from "../types.ts";

/** Identity issuer routes (bundle, attestation, SVIDs, join tokens, revocation, CA rotation). */
export const identityRoutes = new Hono<ControlApp>();
