/**
 * Proof of possession for node renewal (`POST /v1/identity/renew`): the node
 * signs a server nonce, its SPIFFE ID and the hash of the CSR it sends with the
 * private key of its CURRENT X.509-SVID, so a stolen JWT-SVID alone cannot renew.
 *
 * The signed bytes are the UTF-8 encoding of four lines joined by "\n" (no
 * trailing newline):
 *
 *   strait-renew-v1
 *   <nonce, exactly as returned by POST /v1/identity/renew/nonce>
 *   <the node's SPIFFE ID>
 *   <lowercase hex SHA-256 of the UTF-8 bytes of the `csr` field, exactly as sent>
 *
 * The signature is made with the certificate's key: ECDSA P-256 with SHA-256 in
 * IEEE P1363 form (r || s, 64 bytes, what WebCrypto and JOSE ES256 produce), or
 * RSASSA-PKCS1-v1_5 with SHA-256 for an RSA key; sent base64url without padding.
 * Web APIs only.
 */
import { RenewalProofError } from "./errors.ts";
import { toHex, x509 } from "./x509.ts";

/** First line of the signed message; versioned so the format can change. */
export const RENEWAL_PROOF_CONTEXT = "strait-renew-v1";

const ECDSA_VERIFY = { name: "ECDSA", hash: "SHA-256" } as const;
const RSA_PKCS1 = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } as const;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** The exact bytes a node signs to renew. */
export async function renewalProofMessage(p: { nonce: string; spiffeId: string; csr: string }): Promise<Uint8Array<ArrayBuffer>> {
  const enc = new TextEncoder();
  const csrHash = toHex(await crypto.subtle.digest("SHA-256", enc.encode(p.csr)));
  return enc.encode([RENEWAL_PROOF_CONTEXT, p.nonce, p.spiffeId, csrHash].join("\n"));
}

function base64urlEncode(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function base64urlDecode(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (!BASE64URL.test(text) || text.length % 4 === 1) return undefined;
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (text.length % 4)) % 4));
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

/**
 * Client side: signs the renewal message with the current X.509-SVID's private key
 * (ECDSA P-256 or RSA, imported for "sign"). Returns the base64url signature.
 * @example
 * const signature = await signRenewalProof(nodeKey, { nonce, spiffeId, csr });
 */
export async function signRenewalProof(privateKey: CryptoKey, p: { nonce: string; spiffeId: string; csr: string }): Promise<string> {
  const message = await renewalProofMessage(p);
  const alg = privateKey.algorithm.name === "ECDSA" ? ECDSA_VERIFY : RSA_PKCS1;
  return base64urlEncode(new Uint8Array(await crypto.subtle.sign(alg, privateKey, message)));
}

/**
 * Server side: true when `signature` (base64url) is `certificate`'s key's signature
 * over the renewal message. Only ECDSA P-256 and RSA keys are accepted.
 * @throws RenewalProofError (field `signature`) when it is malformed or does not verify.
 */
export async function verifyRenewalSignature(
  certificate: x509.X509Certificate,
  signature: string,
  p: { nonce: string; spiffeId: string; csr: string },
): Promise<void> {
  const sig = base64urlDecode(signature);
  if (sig === undefined) throw new RenewalProofError("signature: must be base64url (no padding)", { field: "signature" });
  const keyAlg = certificate.publicKey.algorithm as Algorithm & { namedCurve?: string };
  let alg: typeof ECDSA_VERIFY | typeof RSA_PKCS1;
  let key: CryptoKey;
  if (keyAlg.name === "ECDSA" && keyAlg.namedCurve === "P-256") {
    if (sig.length !== 64) throw new RenewalProofError("signature: an ECDSA P-256 signature is 64 bytes (r || s, IEEE P1363)", { field: "signature" });
    alg = ECDSA_VERIFY;
    key = await certificate.publicKey.export({ name: "ECDSA", namedCurve: "P-256" }, ["verify"]);
  } else if (keyAlg.name.startsWith("RSA")) {
    alg = RSA_PKCS1;
    key = await certificate.publicKey.export(RSA_PKCS1, ["verify"]);
  } else {
    throw new RenewalProofError("certificate: key is neither ECDSA P-256 nor RSA", { field: "certificate" });
  }
  const ok = await crypto.subtle.verify(alg, key, sig, await renewalProofMessage(p));
  if (!ok) {
    throw new RenewalProofError("signature: does not verify with the certificate's key over strait-renew-v1\\n<nonce>\\n<SPIFFE ID>\\n<hex SHA-256 of csr>", {
      field: "signature",
    });
  }
}
