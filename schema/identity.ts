import { sqliteTable, text, integer, index, uniqueIndex } from "drizzle-orm/sqlite-core";

/** One-time node join tokens. Only the SHA-256 of the token is stored. */
export const joinTokens = sqliteTable("join_tokens", {
  tokenHash: text("token_hash").primaryKey(),
  cluster: text("cluster").notNull(),
  node: text("node").notNull(),
  createdAt: integer("created_at").notNull(),
  expiresAt: integer("expires_at").notNull(),
  /** Set atomically (UPDATE ... WHERE used_at IS NULL) when the token is consumed. */
  usedAt: integer("used_at"),
  createdBy: text("created_by").notNull(),
});

/** Node proxies that passed attestation. */
export const attestedNodes = sqliteTable(
  "attested_nodes",
  {
    spiffeId: text("spiffe_id").primaryKey(),
    cluster: text("cluster").notNull(),
    node: text("node").notNull(),
    attestationType: text("attestation_type").notNull(),
    attestedAt: integer("attested_at").notNull(),
    lastSeenAt: integer("last_seen_at").notNull(),
    /** Serial of the node's current X.509-SVID. */
    currentSerial: text("current_serial"),
  },
  (t) => [uniqueIndex("attested_nodes_cluster_node").on(t.cluster, t.node)],
);

/** Every X.509-SVID the issuer signed. */
export const issuedSvids = sqliteTable(
  "issued_svids",
  {
    serial: text("serial").primaryKey(),
    spiffeId: text("spiffe_id").notNull(),
    notBefore: integer("not_before").notNull(),
    notAfter: integer("not_after").notNull(),
    /** SPIFFE ID of the node the SVID was issued to (itself, for node SVIDs). */
    node: text("node").notNull(),
    caGeneration: integer("ca_generation").notNull(),
    issuedAt: integer("issued_at").notNull(),
  },
  (t) => [index("issued_svids_node").on(t.node), index("issued_svids_generation").on(t.caGeneration)],
);

/** Revoked node identities. Published for proxies to pull. */
export const revocations = sqliteTable("revocations", {
  spiffeId: text("spiffe_id").primaryKey(),
  reason: text("reason").notNull(),
  revokedAt: integer("revoked_at").notNull(),
  revokedBy: text("revoked_by").notNull(),
});

/**
 * CA generations: an intermediate signing CA plus a JWT-SVID signing key.
 * status: staged (published, not signing) -> active (signing) -> retired (published until its last SVID expires) -> pruned.
 * Private keys are stored as PKCS#8, encrypted with the CA_KEK secret (AES-GCM).
 */
export const caGenerations = sqliteTable("ca_generations", {
  id: integer("id").primaryKey(),
  status: text("status", { enum: ["staged", "active", "retired", "pruned"] }).notNull(),
  certificatePem: text("certificate_pem").notNull(),
  encryptedKey: text("encrypted_key").notNull(),
  jwtKid: text("jwt_kid").notNull(),
  jwtPublicJwk: text("jwt_public_jwk").notNull(),
  encryptedJwtKey: text("encrypted_jwt_key").notNull(),
  notAfter: integer("not_after").notNull(),
  createdAt: integer("created_at").notNull(),
  activatedAt: integer("activated_at"),
  retiredAt: integer("retired_at"),
  /** Retired generations stay in the bundle until this time (the last SVID they signed expires). */
  publishUntil: integer("publish_until"),
});

/** Workload registration records: which workload identities a node may obtain SVIDs for. */
export const workloadRegistrations = sqliteTable(
  "workload_registrations",
  {
    id: text("id").primaryKey(),
    spiffeId: text("spiffe_id").notNull(),
    /** SPIFFE ID of the node proxy allowed to obtain this identity. */
    nodeSpiffeId: text("node_spiffe_id").notNull(),
    /** "admin" for registrations created by hand, "workloadentry" when fed from config. */
    source: text("source").notNull(),
    sourceRef: text("source_ref"),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [uniqueIndex("workload_registrations_unique").on(t.spiffeId, t.nodeSpiffeId), index("workload_registrations_node").on(t.nodeSpiffeId)],
);

/** Append-only audit log of every privileged action. */
export const auditEvents = sqliteTable(
  "audit_events",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    at: integer("at").notNull(),
    actor: text("actor").notNull(),
    action: text("action").notNull(),
    target: text("target").notNull(),
    outcome: text("outcome").notNull(),
    detail: text("detail"),
  },
  (t) => [index("audit_events_at").on(t.at)],
);

/**
 * Single-use server nonces for `POST /v1/identity/renew` (proof of possession of the
 * node's current X.509-SVID key). Only the SHA-256 of the nonce is stored; consumed
 * atomically (UPDATE ... WHERE used_at IS NULL AND expires_at > now).
 */
export const renewalNonces = sqliteTable(
  "renewal_nonces",
  {
    nonceHash: text("nonce_hash").primaryKey(),
    /** The node the nonce was handed to; only that node can spend it. */
    spiffeId: text("spiffe_id").notNull(),
    createdAt: integer("created_at").notNull(),
    expiresAt: integer("expires_at").notNull(),
    usedAt: integer("used_at"),
  },
  (t) => [index("renewal_nonces_node").on(t.spiffeId), index("renewal_nonces_expires").on(t.expiresAt)],
);

/**
 * Keys that sign scoped API tokens, separate from the CA generations' JWT-SVID keys so
 * retiring a CA generation never waits for long-lived API tokens, and an API token can
 * never pass as a JWT-SVID. status: active (signs) -> retired (verifies until
 * verify_until) | revoked (verifies nothing). Private keys are sealed with CA_KEK.
 */
export const apiTokenKeys = sqliteTable("api_token_keys", {
  kid: text("kid").primaryKey(),
  /** 1, 2, ...: the order keys were created in; the unique index makes concurrent creation safe. */
  seq: integer("seq").notNull().unique(),
  status: text("status", { enum: ["active", "retired", "revoked"] }).notNull(),
  publicJwk: text("public_jwk").notNull(),
  encryptedKey: text("encrypted_key").notNull(),
  createdAt: integer("created_at").notNull(),
  retiredAt: integer("retired_at"),
  /** A retired key verifies tokens until this time (the latest expiry of a token it may have signed). */
  verifyUntil: integer("verify_until"),
});
