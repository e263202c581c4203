/**
 * The TLS server name (SNI) a client sends to pick which workload SVID the peer
 * node proxy presents. A SPIFFE ID is not a DNS name, so the SNI is a hash label of
 * it: `<32 hex>.hbone.strait` (both sides compute it; nothing secret is in it).
 */
import { createHash } from "node:crypto";

export const HBONE_SNI_SUFFIX = ".hbone.strait";

export function hboneServerName(spiffeId: string): string {
  return `${createHash("sha256").update(spiffeId).digest("hex").slice(0, 32)}${HBONE_SNI_SUFFIX}`;
}
