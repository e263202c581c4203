import type { Context, MiddlewareHandler } from "hono";
import { systemClock } from "../core/clock.ts";
import { ForbiddenError, StraitError, UnauthenticatedError } from "../core/errors.ts";
import { parseNodeId } from "../identity/spiffe-id.ts";
import { JwtSvidCache } from "../identity/jwt-svid-cache.ts";
import type { ControlApp, Principal } from "./types.ts";
import type { ControlEnv } from "./env.ts";
import { database } from "./db.ts";
import { getTrustBundles } from "./signer.ts";
import { looksLikeApiToken, verifyApiToken } from "./api-tokens.ts";
import { CONTROL_AUDIENCE, jwtSvidTtlSeconds, trustDomainOf } from "./identity/settings.ts";
import { FieldError } from "./identity/fields.ts";
import { readNodeStanding, standingRefusal } from "./identity/nodes.ts";

export type NodePrincipal = Extract<Principal, { type: "node" }>;

/** Compares secrets in time independent of where they differ (digests first, so lengths leak nothing either). */
async function constantTimeEqual(a: string, b: string): Promise<boolean> {
  const enc = new TextEncoder();
  const [da, db] = await Promise.all([crypto.subtle.digest("SHA-256", enc.encode(a)), crypto.subtle.digest("SHA-256", enc.encode(b))]);
  const x = new Uint8Array(da);
  const y = new Uint8Array(db);
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/**
 * Snapshot reads (`GET /v1/snapshots/nodes/...`, `/v1/snapshots/blobs/...`): the routes whose
 * node standing (attested, not revoked) the publisher object checks from memory.
 */
const PUBLISHER_CHECKED = /^\/v1\/snapshots\/(nodes|blobs)\//;

/** Node JWT-SVIDs this isolate validated (a node proxy presents one token on every poll until it renews it). */
const nodeTokens = new JwtSvidCache();

/**
 * A JWT-SVID for audience "strait-control" whose subject is an attested, unrevoked node of our
 * trust domain. With `standingByPublisher` the attested/revoked check is left to the publisher
 * object (the caller must pass the node to it).
 */
async function authenticateNode(env: ControlEnv, token: string, standingByPublisher = false): Promise<NodePrincipal> {
  const trustDomain = trustDomainOf(env);
  // Nodes get JWT-SVIDs of exactly JWT_SVID_TTL_SECONDS; a longer-lived one was not minted under this configuration.
  const svid = await nodeTokens.validate(token, { audience: CONTROL_AUDIENCE, bundles: await getTrustBundles(env), clock: systemClock, maxLifetimeSeconds: jwtSvidTtlSeconds(env) });
  const node = svid.spiffeId.isMemberOf(trustDomain) ? parseNodeId(svid.spiffeId) : undefined;
  if (node === undefined) throw new UnauthenticatedError(`JWT-SVID subject ${svid.spiffeId.toString()} is not a node identity of trust domain ${trustDomain}`);
  const spiffeId = svid.spiffeId.toString();
  if (standingByPublisher) return { type: "node", spiffeId, cluster: node.cluster, node: node.node, standing: "publisher" };
  const refused = standingRefusal(spiffeId, await readNodeStanding(database(env), spiffeId));
  if (refused !== null) throw new UnauthenticatedError(refused);
  return { type: "node", spiffeId, cluster: node.cluster, node: node.node };
}

/** Credential failures are reported against the Authorization header, keeping their code (e.g. ERR_JWT_SVID_INVALID). */
async function onAuthorization<T>(verification: Promise<T>): Promise<T> {
  try {
    return await verification;
  } catch (err) {
    if (err instanceof StraitError && err.category === "unauthenticated") throw new FieldError("Authorization", err);
    throw err;
  }
}

/**
 * Sets `c.var.principal` from `Authorization: Bearer <credential>`: the admin
 * token, a node's JWT-SVID, or a scoped API token. No header leaves it
 * undefined (public routes still work); a credential that fails is a 401.
 */
export const authenticate: MiddlewareHandler<ControlApp> = async (c, next) => {
  const header = c.req.header("authorization");
  if (header === undefined) {
    c.set("principal", undefined);
    return next();
  }
  const match = /^Bearer +(\S+) *$/i.exec(header);
  const token = match?.[1];
  if (token === undefined) throw new UnauthenticatedError("Authorization: expected \"Bearer <token>\"", { field: "Authorization" });
  const adminToken = c.env.ADMIN_TOKEN;
  let principal: Principal;
  if (adminToken !== undefined && adminToken !== "" && (await constantTimeEqual(token, adminToken))) {
    principal = { type: "admin" };
  } else if (looksLikeApiToken(token)) {
    principal = await onAuthorization(verifyApiToken(c.env, database(c.env), token, systemClock));
  } else if (token.split(".").length === 3) {
    principal = await onAuthorization(authenticateNode(c.env, token, c.req.method === "GET" && PUBLISHER_CHECKED.test(c.req.path)));
  } else {
    throw new UnauthenticatedError("Authorization: credential not recognised", { field: "Authorization" });
  }
  c.set("principal", principal);
  return next();
};

function authenticated(c: Context<ControlApp>): Principal {
  const p = c.get("principal");
  if (p === undefined) throw new UnauthenticatedError("authentication required: send Authorization: Bearer <credential>");
  return p;
}

/** Throws 401 without credentials, 403 with non-admin ones. */
export function requireAdmin(c: Context<ControlApp>): void {
  if (authenticated(c).type !== "admin") throw new ForbiddenError("admin credentials required");
}

/** Re-raises a node-standing refusal the publisher object returned, as the middleware reports credential failures. */
export function nodeStandingRefused(message: string): never {
  throw new FieldError("Authorization", new UnauthenticatedError(message));
}

/** The calling node, its standing checked; 401 without credentials, 403 for a non-node caller. */
export function requireNode(c: Context<ControlApp>): NodePrincipal {
  const p = authenticated(c);
  if (p.type !== "node") throw new ForbiddenError("node credentials (a JWT-SVID for audience strait-control) required");
  // A principal whose standing the publisher checks exists only on snapshot reads, which pass it on.
  if (p.standing === "publisher") throw new TypeError("requireNode: node standing not checked on this route");
  return p;
}

/**
 * Admin: always. API token: `namespace` in its scope ("*" = all) and access
 * sufficient (write implies read). Node: 403 (nodes use their own routes).
 */
export function requireAccess(c: Context<ControlApp>, namespace: string, access: "read" | "write"): Principal {
  const p = authenticated(c);
  if (p.type === "admin") return p;
  if (p.type === "node") throw new ForbiddenError(`node credentials cannot ${access} namespace ${namespace}`);
  if (!p.namespaces.includes("*") && !p.namespaces.includes(namespace)) throw new ForbiddenError(`API token ${p.tokenId} is not scoped to namespace ${namespace}`);
  if (access === "write" && p.access !== "write") throw new ForbiddenError(`API token ${p.tokenId} has read access only`);
  return p;
}

/** How a principal appears in the audit log: "admin", "node:spiffe://...", "token:<id>:<subject>". */
export function actorOf(p: Principal | undefined): string {
  if (p === undefined) return "anonymous";
  switch (p.type) {
    case "admin":
      return "admin";
    case "node":
      return `node:${p.spiffeId}`;
    case "token":
      return `token:${p.tokenId}:${p.subject}`;
  }
}
