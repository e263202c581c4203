/**
 * HTTP plumbing shared by the tests that talk to the control worker: auth headers,
 * JSON bodies, join-token attestation with a real openssl CSR, and `/v1/apply`.
 * Response bodies are typed by the caller (`B`, `unknown` unless told), so nothing
 * exported here is `any`.
 *
 * @example
 * const control = controlClient<Record<string, unknown>>(() => worker, () => ca.adminToken);
 * const node = await control.attest("c1", "a");
 */
import assert from "node:assert/strict";
import type { StartedWorker } from "./control-worker.ts";
import { opensslCsr } from "./throwaway-ca.ts";

/** Headers `authorization: Bearer <token>` and a content type (JSON unless told). */
export function bearer(token: string, contentType = "application/json"): Record<string, string> {
  return { authorization: `Bearer ${token}`, "content-type": contentType };
}

/** Reads a JSON object body; anything else fails the test with the status, URL and text. */
export async function readJson<B = unknown>(r: Response): Promise<B> {
  const text = await r.text();
  assert.match(text, /^\{/, `${r.status} ${r.url}: ${text}`);
  return JSON.parse(text) as B;
}

/** What {@link callApi} sends. */
export interface ApiRequest {
  /** GET without a body, POST with one, unless told. */
  method?: string;
  /** Sent as `authorization: Bearer <token>`. */
  token?: string;
  /** A raw `authorization` header; wins over `token`. */
  authorization?: string;
  /** Sent as a JSON body with `content-type: application/json`. */
  json?: unknown;
  /** A raw body, for what is not JSON. */
  body?: string;
  /** A content type; wins over the JSON one. */
  contentType?: string;
}

/** A control API answer: the body is parsed JSON, or the text when it is not JSON (PEM). */
export interface ApiResponse<B = unknown> {
  status: number;
  body: B;
  text: string;
  headers: Headers;
}

/** Sends one request to the control worker and reads the whole answer. */
export async function callApi<B = unknown>(worker: StartedWorker, path: string, o: ApiRequest = {}): Promise<ApiResponse<B>> {
  const headers: Record<string, string> = {};
  if (o.token !== undefined) headers.authorization = `Bearer ${o.token}`;
  if (o.authorization !== undefined) headers.authorization = o.authorization;
  let body = o.body;
  if (o.json !== undefined) {
    body = JSON.stringify(o.json);
    headers["content-type"] = "application/json";
  }
  if (o.contentType !== undefined) headers["content-type"] = o.contentType;
  const res = await worker.fetch(path, { method: o.method ?? (body === undefined ? "GET" : "POST"), headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // PEM and other text bodies stay strings.
  }
  return { status: res.status, body: parsed as B, text, headers: res.headers };
}

/** A node attested with a join token: its SPIFFE ID, JWT-SVID and X.509-SVID. */
export interface AttestedNode {
  spiffeId: string;
  jwt: string;
  serial: string;
  certificatePem: string;
  notAfter: string;
  joinToken: string;
}

interface AttestAnswer {
  spiffeId: string;
  jwtSvid: { token: string };
  x509Svid: { serial: string; certificatePem: string; notAfter: string };
}

/** Mints a join token for `cluster`/`node` as admin (expects 201). */
export async function mintJoinToken(worker: StartedWorker, adminToken: string, cluster: string, node: string, ttlSeconds?: number): Promise<string> {
  const r = await callApi<{ token: string }>(worker, "/v1/identity/join-tokens", {
    token: adminToken,
    json: { cluster, node, ...(ttlSeconds === undefined ? {} : { ttlSeconds }) },
  });
  assert.equal(r.status, 201, r.text);
  return r.body.token;
}

/** Attests `cluster`/`node` with a fresh join token and an openssl CSR (expects 200). */
export async function attestNode(worker: StartedWorker, adminToken: string, cluster: string, node: string): Promise<AttestedNode> {
  const joinToken = await mintJoinToken(worker, adminToken, cluster, node);
  const r = await callApi<AttestAnswer>(worker, "/v1/identity/attest", { json: { csr: await opensslCsr(), joinToken } });
  assert.equal(r.status, 200, r.text);
  const b = r.body;
  return { spiffeId: b.spiffeId, jwt: b.jwtSvid.token, serial: b.x509Svid.serial, certificatePem: b.x509Svid.certificatePem, notAfter: b.x509Svid.notAfter, joinToken };
}

/** POSTs a YAML stream to `/v1/apply` (expects 200) and returns the JSON answer. */
export async function applyYaml<B = unknown>(worker: StartedWorker, token: string, yaml: string): Promise<B> {
  const r = await worker.fetch("/v1/apply", { method: "POST", headers: bearer(token, "application/yaml"), body: yaml });
  assert.equal(r.status, 200, await r.clone().text());
  return readJson<B>(r);
}

/** The helpers above bound to one test file's worker and admin token (read lazily, as both come from `before`). */
export interface ControlClient<B> {
  json(r: Response): Promise<B>;
  api(path: string, o?: ApiRequest): Promise<ApiResponse<B>>;
  joinToken(cluster: string, node: string, ttlSeconds?: number): Promise<string>;
  attest(cluster: string, node: string): Promise<AttestedNode>;
  apply(yaml: string): Promise<B>;
}

/** Binds the helpers to a worker and an admin token; `B` is how the test reads response bodies. */
export function controlClient<B = unknown>(worker: () => StartedWorker, adminToken: () => string): ControlClient<B> {
  return {
    json: (r) => readJson<B>(r),
    api: (path, o) => callApi<B>(worker(), path, o),
    joinToken: (cluster, node, ttlSeconds) => mintJoinToken(worker(), adminToken(), cluster, node, ttlSeconds),
    attest: (cluster, node) => attestNode(worker(), adminToken(), cluster, node),
    apply: (yaml) => applyYaml<B>(worker(), adminToken(), yaml),
  };
}
