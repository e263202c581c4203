/** Bindings and secrets of the control worker (see wrangler.toml `[env.control]`). */
export interface ControlEnv {
  CONFIG: KVNamespace;
  DB: D1Database;
  /** The snapshot publisher Durable Object (src/control/publishing/config-publisher.ts). */
  PUBLISHER: DurableObjectNamespace;
  /** Publisher and long-poll limits (src/control/publishing/publisher-settings.ts). */
  SNAPSHOT_MAX_BLOB_BYTES?: string;
  SNAPSHOT_BLOB_RETENTION_SECONDS?: string;
  SNAPSHOT_BLOB_SWEEP_INTERVAL_SECONDS?: string;
  SNAPSHOT_LONGPOLL_MAX_SECONDS?: string;
  SNAPSHOT_LONGPOLL_MAX_PER_CREDENTIAL?: string;
  PUBLISH_WAIT_MAX_SECONDS?: string;
  /** Default per-namespace quotas (src/control/config/namespace-quotas.ts). */
  NAMESPACE_MAX_RESOURCES?: string;
  NAMESPACE_MAX_BYTES?: string;
  TRUST_DOMAIN?: string;
  ROOT_NAMESPACE?: string;
  X509_SVID_TTL_SECONDS?: string;
  JWT_SVID_TTL_SECONDS?: string;
  K8S_CLUSTERS?: string;
  /** Days audit events are kept (default 90) and refused-request counters (default 14). */
  AUDIT_RETENTION_DAYS?: string;
  AUDIT_REFUSAL_RETENTION_DAYS?: string;
  /** Secrets. */
  ADMIN_TOKEN?: string;
  CA_ROOT_CERT?: string;
  CA_INTERMEDIATE_CERT?: string;
  CA_INTERMEDIATE_KEY?: string;
  JWT_SIGNING_KEY?: string;
  CA_KEK?: string;
}
