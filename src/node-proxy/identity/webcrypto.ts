/**
 * The WebCrypto provider of the proxy. Node's built-in `globalThis.crypto` covers
 * everything the proxy does today (P-256 keys, ECDSA, SHA-256, PKCS#8/SPKI export);
 * `@peculiar/webcrypto` is the provider where the runtime lacks an algorithm
 * (older Node builds without `crypto.subtle`), selected here and nowhere else.
 */
import { Crypto as PeculiarCrypto } from "@peculiar/webcrypto";

let provider: Crypto | undefined;

export function webCrypto(): Crypto {
  if (provider === undefined) {
    const builtin = (globalThis as { crypto?: Crypto }).crypto;
    provider = builtin?.subtle !== undefined ? builtin : (new PeculiarCrypto() as unknown as Crypto);
  }
  return provider;
}
