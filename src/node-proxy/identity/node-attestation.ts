/**
 * How the node obtains and renews its own identity (`spiffe://<td>/node/<cluster>/<node>`):
 * attestation once (join token, or a projected service-account token), then renewal
 * with proof of possession of the CURRENT X.509-SVID's key over a server nonce
 * (src/identity/renewal-proof.ts) — never a second join token, and never needing the JWT-SVID.
 */
import { readFile } from "node:fs/promises";
import { signRenewalProof } from "../../identity/renewal-proof.ts";
import { importP256PrivateKeyPem } from "../../identity/x509.ts";
import type { AttestationSettings } from "../context.ts";
import type { ControlApi, NodeCredentialsAnswer } from "./control-api.ts";
import { NodeIdentityError } from "./errors.ts";
import { createCsr, type LocalKey } from "./keys.ts";

/** Largest projected token the proxy reads (the control plane refuses more than 8 KiB). */
const MAX_TOKEN_BYTES = 8192;

export async function attestWith(api: ControlApi, attestation: AttestationSettings, key: LocalKey, expectedSpiffeId: string | undefined): Promise<NodeCredentialsAnswer> {
  // The CSR names the node ID when it is known; the control plane takes the identity from attestation anyway.
  const csr = await createCsr(key, expectedSpiffeId);
  if (attestation.kind === "join-token") return api.attest({ csr, joinToken: attestation.token });
  let token: string;
  try {
    token = (await readFile(attestation.tokenPath, "utf8")).trim();
  } catch (cause) {
    throw new NodeIdentityError(`cannot read the projected service-account token at ${attestation.tokenPath}`, { cause });
  }
  if (token === "" || token.length > MAX_TOKEN_BYTES) throw new NodeIdentityError(`the projected service-account token at ${attestation.tokenPath} is empty or too large`);
  return api.attest({ csr, k8s: { cluster: attestation.cluster, token } });
}

/**
 * Renews the node's credentials (src/control/identity/node-routes.ts) by proof of possession of
 * the CURRENT X.509-SVID's key alone, as a SPIRE agent renews over mTLS with its SVID: no JWT-SVID
 * is sent, so one that expired while the control plane was unreachable never blocks renewal.
 * `POST /v1/identity/renew/nonce {certificate}` for a single-use nonce bound to the node, sign
 * `strait-renew-v1\n<nonce>\n<id>\n<sha256(csr)>` with the current key, then
 * `POST /v1/identity/renew {csr, nonce, certificate, signature}` with the CSR of a NEW key.
 */
export async function renewWith(api: ControlApi, current: { spiffeId: string; keyPem: string; certChainPem: string }, next: LocalKey): Promise<NodeCredentialsAnswer> {
  const csr = await createCsr(next, current.spiffeId);
  // `certificate`: the current X.509-SVID (the chain is accepted; its first certificate is the leaf).
  const nonce = await api.renewalNonce(current.certChainPem);
  const currentKey = await importP256PrivateKeyPem(current.keyPem, "node key");
  const signature = await signRenewalProof(currentKey, { nonce, spiffeId: current.spiffeId, csr });
  return api.renew({ csr, nonce, certificate: current.certChainPem, signature });
}
