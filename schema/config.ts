import { sqliteTable, text, integer, index, uniqueIndex, primaryKey } from "drizzle-orm/sqlite-core";

/** Current state of every config resource (Istio-shaped). */
export const resources = sqliteTable(
  "resources",
  {
    kind: text("kind").notNull(),
    namespace: text("namespace").notNull(),
    name: text("name").notNull(),
    apiVersion: text("api_version").notNull(),
    uid: text("uid").notNull(),
    /** Increases on every write to this resource; optimistic-concurrency token. */
    resourceVersion: integer("resource_version").notNull(),
    /** Increases when the spec changes. */
    generation: integer("generation").notNull(),
    labels: text("labels").notNull(),
    annotations: text("annotations").notNull(),
    spec: text("spec").notNull(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.kind, t.namespace, t.name] }), index("resources_kind_ns").on(t.kind, t.namespace)],
);

/** The revision log: one row per landed change (a multi-document apply is one revision with several changes). */
export const revisions = sqliteTable("revisions", {
  id: integer("id").primaryKey(),
  at: integer("at").notNull(),
  actor: text("actor").notNull(),
  /** apply | create | update | delete | rollback */
  operation: text("operation").notNull(),
  message: text("message"),
});

export const revisionChanges = sqliteTable(
  "revision_changes",
  {
    revision: integer("revision").notNull(),
    seq: integer("seq").notNull(),
    kind: text("kind").notNull(),
    namespace: text("namespace").notNull(),
    name: text("name").notNull(),
    /** JSON of the full resource before the change; null for a create. */
    before: text("before"),
    /** JSON of the full resource after the change; null for a delete. */
    after: text("after"),
  },
  (t) => [primaryKey({ columns: [t.revision, t.seq] }), index("revision_changes_resource").on(t.kind, t.namespace, t.name)],
);

/** Per publish target: its current signed manifest in KV and how its publishing is going. */
export const snapshots = sqliteTable(
  "snapshots",
  {
    /** "gateway" or "node:<cluster>/<node>". */
    target: text("target").primaryKey(),
    /** Version of the manifest in KV (0: never published). */
    version: integer("version").notNull(),
    /** Revision that manifest was compiled from. */
    revision: integer("revision").notNull(),
    /** Snapshot hash (manifest `hash`); "" when never published. */
    hash: text("hash").notNull(),
    /** Bytes of the manifest's JWS. */
    size: integer("size").notNull(),
    updatedAt: integer("updated_at").notNull(),
    /** Newest revision this target is known to reflect (published or found unchanged). */
    syncedRevision: integer("synced_revision").notNull().default(0),
    /** Why the last publish of this target failed; null when it succeeded. */
    error: text("error"),
    /** Revision whose publish failed for this target (null when none). */
    failedRevision: integer("failed_revision"),
    /** Consecutive failed publishes of this target. */
    failures: integer("failures").notNull().default(0),
  },
);

/** Admin-set quota overrides per namespace (defaults come from vars NAMESPACE_MAX_RESOURCES / NAMESPACE_MAX_BYTES). */
export const namespaceQuotas = sqliteTable("namespace_quotas", {
  namespace: text("namespace").primaryKey(),
  /** Most resources the namespace may hold (every kind together). */
  maxResources: integer("max_resources").notNull(),
  /** Most bytes of stored JSON (spec + labels + annotations) the namespace may hold. */
  maxBytes: integer("max_bytes").notNull(),
  updatedAt: integer("updated_at").notNull(),
});

/** What each node proxy reported it applied. */
export const proxyStatus = sqliteTable(
  "proxy_status",
  {
    nodeSpiffeId: text("node_spiffe_id").primaryKey(),
    appliedVersion: integer("applied_version").notNull(),
    appliedHash: text("applied_hash").notNull(),
    reportedAt: integer("reported_at").notNull(),
    detail: text("detail"),
  },
);

/** Scoped API tokens (JWTs signed by the control plane); kept so they can be listed and revoked. */
export const apiTokens = sqliteTable(
  "api_tokens",
  {
    id: text("id").primaryKey(),
    subject: text("subject").notNull(),
    namespaces: text("namespaces").notNull(),
    access: text("access", { enum: ["read", "write"] }).notNull(),
    createdAt: integer("created_at").notNull(),
    expiresAt: integer("expires_at").notNull(),
    revokedAt: integer("revoked_at"),
  },
  (t) => [uniqueIndex("api_tokens_id").on(t.id)],
);
