/**
 * How the node obtains and renews its own identity (`spiffe://<td>/node/<cluster>/<node>`):
 * attestation once (join token, or a projected service-account token), then renewal
 * with proof of possession of the CURRENT X.509-SVID's key over a server nonce
 * (src/identity/renewal-proof.ts) — never a second join token.
 */
import { readFile } from "node:fs/promises";
import { signRenewalProof } from "../../identity/renewal-proof.ts";
import { importP256PrivateKeyPem } from "../../identity/x509.ts";
import type { AttestationSettings } from "../context.ts";
import type { ControlApi, NodeCredentialsAnswer } from "./control-api.ts";
import { ControlApiError, NodeIdentityError } from "./errors.ts";
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
 * Renews the node's credentials (src/control/identity/node-routes.ts): `POST /v1/identity/renew/nonce`
 * (JWT-SVID bearer) for a single-use nonce, sign `strait-renew-v1\n<nonce>\n<id>\n<sha256(csr)>` with
 * the CURRENT X.509-SVID's key, then `POST /v1/identity/renew {csr, nonce, certificate, signature}`
 * with the CSR of a NEW key.
 */
export async function renewWith(api: ControlApi, current: { spiffeId: string; keyPem: string; certChainPem: string }, next: LocalKey): Promise<NodeCredentialsAnswer> {
  const csr = await createCsr(next, current.spiffeId);
  const nonceAnswer = await api.postJson("/v1/identity/renew/nonce", {});
  const nonce = typeof nonceAnswer === "object" && nonceAnswer !== null ? (nonceAnswer as { nonce?: unknown }).nonce : undefined;
  if (typeof nonce !== "string" || nonce === "") throw new ControlApiError("renew/nonce: answer lacks nonce", undefined);
  const currentKey = await importP256PrivateKeyPem(current.keyPem, "node key");
  const signature = await signRenewalProof(currentKey, { nonce, spiffeId: current.spiffeId, csr });
  // `certificate`: the current X.509-SVID (the chain is accepted; its first certificate is the leaf).
  return api.renew({ csr, nonce, certificate: current.certChainPem, signature });
}
