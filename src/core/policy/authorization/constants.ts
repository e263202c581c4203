/** Body of Envoy's RBAC 403, which clients and tests recognise. */
export const RBAC_DENIED_BODY = "RBAC: access denied";
