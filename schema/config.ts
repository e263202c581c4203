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

/** Metadata of the compiled snapshots written to KV. */
export const snapshots = sqliteTable(
  "snapshots",
  {
    /** "gateway" or "node:<cluster>/<node>". */
    target: text("target").primaryKey(),
    version: integer("version").notNull(),
    revision: integer("revision").notNull(),
    hash: text("hash").notNull(),
    size: integer("size").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
);

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
