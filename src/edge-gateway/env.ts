/** Bindings of the edge gateway worker (wrangler.toml default environment). */
export interface GatewayEnv {
  CONFIG: KVNamespace;
  TRUST_DOMAIN?: string;
}
