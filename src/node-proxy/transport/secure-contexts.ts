/**
 * TLS secure contexts per SVID serial: built once per certificate, so a renewed SVID
 * gets a new context (new connections use the new certificate) and old ones age out.
 */
import { createSecureContext, type SecureContext } from "node:tls";
import type { SvidCredentials } from "../context.ts";

/** TLS 1.3 only, as HBONE requires. */
export const TLS_VERSION = { minVersion: "TLSv1.3", maxVersion: "TLSv1.3" } as const;

const MAX_CONTEXTS = 4096;

export class SecureContextCache {
  private readonly bySerial = new Map<string, SecureContext>();

  for(creds: SvidCredentials): SecureContext {
    const key = `${creds.spiffeId}#${creds.serial}`;
    let ctx = this.bySerial.get(key);
    if (ctx === undefined) {
      ctx = createSecureContext({ cert: creds.certChainPem, key: creds.keyPem, ...TLS_VERSION });
      if (this.bySerial.size >= MAX_CONTEXTS) this.bySerial.delete(this.bySerial.keys().next().value as string);
      this.bySerial.set(key, ctx);
    }
    return ctx;
  }
}
