/**
 * Node credentials for tests that renew: attestation that keeps the node's private
 * key (an openssl-made P-256 key and CSR), and renewal with proof of possession
 * (nonce, then the renewal message signed with the current X.509-SVID's key).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { signRenewalProof } from "../../src/identity/renewal-proof.ts";
import type { StartedWorker } from "./control-worker.ts";
import { callApi, mintJoinToken, type ApiResponse } from "./control-client.ts";

const run = promisify(execFile);

/** A CSR made by the openssl CLI and its private key, imported for signing. */
export interface KeyedCsr {
  csr: string;
  keyPem: string;
  key: CryptoKey;
}

/** `openssl req` with a fresh P-256 key; the key is kept. */
export async function opensslKeyedCsr(): Promise<KeyedCsr> {
  const dir = await mkdtemp(join(tmpdir(), "strait-renew-"));
  try {
    await run("openssl", ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", join(dir, "key.pem"), "-subj", "/O=strait-test", "-out", join(dir, "csr.pem")]);
    const [csr, keyPem] = await Promise.all([readFile(join(dir, "csr.pem"), "utf8"), readFile(join(dir, "key.pem"), "utf8")]);
    const der = Buffer.from(keyPem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64");
    const key = await crypto.subtle.importKey("pkcs8", der, { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
    return { csr, keyPem, key };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A node's current credentials, private key included. */
export interface KeyedNode {
  spiffeId: string;
  jwt: string;
  serial: string;
  certificatePem: string;
  chainPem: string;
  notAfter: string;
  key: CryptoKey;
}

interface CredentialsAnswer {
  spiffeId: string;
  jwtSvid: { token: string };
  x509Svid: { serial: string; certificatePem: string; chainPem: string; notAfter: string };
}

function keyedNode(b: CredentialsAnswer, key: CryptoKey): KeyedNode {
  return { spiffeId: b.spiffeId, jwt: b.jwtSvid.token, serial: b.x509Svid.serial, certificatePem: b.x509Svid.certificatePem, chainPem: b.x509Svid.chainPem, notAfter: b.x509Svid.notAfter, key };
}

/** Attests `cluster`/`node` with a fresh join token, keeping the key (expects 200). */
export async function attestKeyed(worker: StartedWorker, adminToken: string, cluster: string, node: string): Promise<KeyedNode> {
  const joinToken = await mintJoinToken(worker, adminToken, cluster, node);
  const { csr, key } = await opensslKeyedCsr();
  const r = await callApi<CredentialsAnswer>(worker, "/v1/identity/attest", { json: { csr, joinToken } });
  assert.equal(r.status, 200, r.text);
  return keyedNode(r.body, key);
}

/** `POST /v1/identity/renew/nonce` with the node's JWT-SVID (expects 201). */
export async function renewalNonce(worker: StartedWorker, jwt: string): Promise<string> {
  const r = await callApi<{ nonce: string }>(worker, "/v1/identity/renew/nonce", { method: "POST", token: jwt });
  assert.equal(r.status, 201, r.text);
  return r.body.nonce;
}

/** The renewal body: a fresh CSR (unless given) signed over with `node.key`. Parts can be overridden to build bad requests. */
export async function renewalBody(
  worker: StartedWorker,
  node: KeyedNode,
  o: { csr?: KeyedCsr; nonce?: string; signWith?: CryptoKey; spiffeId?: string; certificate?: string } = {},
): Promise<{ body: { csr: string; nonce: string; certificate: string; signature: string }; next: KeyedCsr }> {
  const next = o.csr ?? (await opensslKeyedCsr());
  const nonce = o.nonce ?? (await renewalNonce(worker, node.jwt));
  const signature = await signRenewalProof(o.signWith ?? node.key, { nonce, spiffeId: o.spiffeId ?? node.spiffeId, csr: next.csr });
  return { body: { csr: next.csr, nonce, certificate: o.certificate ?? node.certificatePem, signature }, next };
}

/** Renews with proof of possession; on 200 also returns the node's new credentials. */
export async function renewKeyed<B = unknown>(worker: StartedWorker, node: KeyedNode): Promise<{ response: ApiResponse<B>; node?: KeyedNode }> {
  const { body, next } = await renewalBody(worker, node);
  const response = await callApi<B>(worker, "/v1/identity/renew", { token: node.jwt, json: body });
  return response.status === 200 ? { response, node: keyedNode(response.body as unknown as CredentialsAnswer, next.key) } : { response };
}
