import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { findKind, findKindByPlural, resolveKindName, storageApiVersion } from "../../../src/core/config/resource.ts";
import { parseDocuments } from "../../../src/core/config/parse-documents.ts";
import { validateResource } from "../../../src/core/config/validate.ts";

const FIXTURES = join(import.meta.dirname, "../../fixtures/istio");

test("Sidecar is a networking.istio.io kind served at v1, v1beta1 and v1alpha3", () => {
  for (const v of ["v1", "v1beta1", "v1alpha3"]) assert.equal(findKind(`networking.istio.io/${v}`, "Sidecar")?.kind, "Sidecar");
  assert.equal(findKindByPlural("networking.istio.io", "v1alpha3", "sidecars")?.kind, "Sidecar");
  assert.equal(resolveKindName("sidecar")?.kind, "Sidecar");
  assert.equal(storageApiVersion("Sidecar"), "networking.istio.io/v1");
});

test("Istio's Sidecar documentation examples validate unchanged", () => {
  const docs = parseDocuments(readFileSync(join(FIXTURES, "sidecar-examples.yaml"), "utf8"));
  assert.ok(docs.length >= 8);
  for (const d of docs) {
    const r = validateResource(d);
    assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
    assert.deepEqual(r.resource.spec, (d as { spec: unknown }).spec);
  }
});

type Doc = { apiVersion: string; kind: string; metadata: { name: string; namespace: string }; spec: unknown };
const sidecar = (spec: unknown): Doc => ({ apiVersion: "networking.istio.io/v1", kind: "Sidecar", metadata: { name: "sc", namespace: "shop" }, spec });

/** Refusals from Istio's ValidateSidecar (pkg/config/validation/validation.go), each with the field it names. */
const refused: { name: string; spec: unknown; path: string; message: string }[] = [
  { name: "empty configuration", spec: {}, path: "spec", message: "empty configuration" },
  { name: "egress host without a namespace", spec: { egress: [{ hosts: ["foo.example.com"] }] }, path: "spec.egress[0].hosts[0]", message: "namespace/dnsName" },
  { name: "egress host with a short name", spec: { egress: [{ hosts: ["shop/reviews"] }] }, path: "spec.egress[0].hosts[0]", message: "short names" },
  { name: "egress host with a partial wildcard", spec: { egress: [{ hosts: ["shop/*foo.example.com"] }] }, path: "spec.egress[0].hosts[0]", message: "partial wildcard" },
  { name: "egress host with a bad namespace", spec: { egress: [{ hosts: ["Bad_NS/foo.example.com"] }] }, path: "spec.egress[0].hosts[0]", message: "invalid namespace value" },
  { name: "egress listener without hosts", spec: { egress: [{ hosts: [] }] }, path: "spec.egress[0].hosts", message: "at least one host" },
  { name: "catch-all egress not last", spec: { egress: [{ hosts: ["*/*"] }, { port: { number: 80, protocol: "HTTP", name: "http" }, hosts: ["./*"] }] }, path: "spec.egress[0].port", message: "must be the last" },
  { name: "duplicate egress ports", spec: { egress: [{ port: { number: 80, protocol: "HTTP" }, hosts: ["./*"] }, { port: { number: 80, protocol: "HTTP" }, hosts: ["./*"] }] }, path: "spec.egress[1].port.number", message: "must be unique" },
  { name: "egress port 0 without a unix bind", spec: { egress: [{ port: { number: 0, protocol: "HTTP" }, hosts: ["./*"] }] }, path: "spec.egress[0].bind", message: "unix domain socket" },
  { name: "egress unix bind with a relative path", spec: { egress: [{ port: { number: 0, protocol: "HTTP" }, bind: "unix://run/app.sock", hosts: ["./*"] }] }, path: "spec.egress[0].bind", message: "absolute path" },
  { name: "egress unix bind with IPTABLES capture", spec: { egress: [{ port: { number: 0, protocol: "HTTP" }, bind: "unix:///run/app.sock", captureMode: "IPTABLES", hosts: ["./*"] }] }, path: "spec.egress[0].captureMode", message: "DEFAULT/NONE" },
  { name: "egress bind not an IP", spec: { egress: [{ port: { number: 80, protocol: "HTTP" }, bind: "localhost", hosts: ["./*"] }] }, path: "spec.egress[0].bind", message: "not a valid IP" },
  { name: "egress port without protocol", spec: { egress: [{ port: { number: 80 }, hosts: ["./*"] }] }, path: "spec.egress[0].port.protocol", message: "unrecognized protocol" },
  { name: "egress targetPort", spec: { egress: [{ port: { number: 80, protocol: "HTTP", targetPort: 8080 }, hosts: ["./*"] }] }, path: "spec.egress[0].port.targetPort", message: "no impact" },
  { name: "bad capture mode", spec: { egress: [{ port: { number: 80, protocol: "HTTP" }, captureMode: "EBPF", hosts: ["./*"] }] }, path: "spec.egress[0].captureMode", message: "must be one of" },
  { name: "ingress without port", spec: { ingress: [{ defaultEndpoint: "127.0.0.1:8080" }] }, path: "spec.ingress[0].port", message: "required" },
  { name: "ingress port name invalid", spec: { ingress: [{ port: { number: 80, protocol: "HTTP", name: "web_ui" } }] }, path: "spec.ingress[0].port.name", message: "invalid port name" },
  { name: "ingress defaultEndpoint on another host", spec: { ingress: [{ port: { number: 80, protocol: "HTTP" }, defaultEndpoint: "10.0.0.1:8080" }] }, path: "spec.ingress[0].defaultEndpoint", message: "127.0.0.1" },
  { name: "ingress defaultEndpoint without port", spec: { ingress: [{ port: { number: 80, protocol: "HTTP" }, defaultEndpoint: "127.0.0.1" }] }, path: "spec.ingress[0].defaultEndpoint", message: "127.0.0.1:<port>" },
  { name: "ingress duplicate ports", spec: { ingress: [{ port: { number: 80, protocol: "HTTP" } }, { port: { number: 80, protocol: "TCP" } }] }, path: "spec.ingress[1].port.number", message: "must be unique" },
  { name: "ingress tls on an HTTP port", spec: { ingress: [{ port: { number: 80, protocol: "HTTP" }, tls: { mode: "SIMPLE", serverCertificate: "/c", privateKey: "/k" } }] }, path: "spec.ingress[0].tls", message: "non HTTPS/TLS" },
  { name: "ingress tls ISTIO_MUTUAL", spec: { ingress: [{ port: { number: 443, protocol: "HTTPS" }, tls: { mode: "ISTIO_MUTUAL" } }] }, path: "spec.ingress[0].tls.mode", message: "cannot set mode to ISTIO_MUTUAL" },
  { name: "ingress tls credentialName", spec: { ingress: [{ port: { number: 443, protocol: "HTTPS" }, tls: { mode: "SIMPLE", credentialName: "c" } }] }, path: "spec.ingress[0].tls.credentialName", message: "not currently supported" },
  { name: "connection pool without tcp or http", spec: { inboundConnectionPool: {} }, path: "spec.inboundConnectionPool", message: "at least one field" },
  { name: "egressProxy with REGISTRY_ONLY", spec: { outboundTrafficPolicy: { mode: "REGISTRY_ONLY", egressProxy: { host: "proxy.example.com", port: { number: 3128 } } } }, path: "spec.outboundTrafficPolicy.egressProxy", message: "ALLOW_ANY" },
  { name: "egressProxy without port", spec: { outboundTrafficPolicy: { mode: "ALLOW_ANY", egressProxy: { host: "proxy.example.com" } } }, path: "spec.outboundTrafficPolicy.egressProxy.port", message: "port" },
  { name: "bad outbound mode", spec: { outboundTrafficPolicy: { mode: "DENY" } }, path: "spec.outboundTrafficPolicy.mode", message: "must be one of" },
  { name: "wildcard in the selector", spec: { workloadSelector: { labels: { app: "*" } }, egress: [{ hosts: ["./*"] }] }, path: "spec.workloadSelector.labels.app", message: "*" },
  { name: "unknown field", spec: { egress: [{ hosts: ["./*"], port: { number: 80, protocol: "HTTP", nmae: "x" } }] }, path: "spec.egress[0].port.nmae", message: "unknown field" },
];

for (const c of refused) {
  test(`Sidecar refused: ${c.name}`, () => {
    const r = validateResource(sidecar(c.spec));
    assert.equal(r.ok, false, "must be refused");
    if (r.ok) return;
    const hit = r.errors.find((e) => e.path === c.path);
    assert.ok(hit !== undefined, JSON.stringify(r.errors));
    assert.ok(hit.message.includes(c.message), `${hit.message} should include ${c.message}`);
  });
}

test("Sidecar warnings Istio gives: duplicated egress hosts, */* with others, empty selector, HTTP pool on a TCP port", () => {
  const r = validateResource(
    sidecar({
      workloadSelector: {},
      ingress: [{ port: { number: 5432, protocol: "TCP" }, connectionPool: { http: { maxRetries: 1 } } }],
      egress: [{ hosts: ["*/*", "shop/a.example.com", "shop/a.example.com"] }],
    }),
  );
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  assert.deepEqual(r.warnings.map((w) => w.path), ["spec.workloadSelector", "spec.ingress[0].connectionPool.http", "spec.egress[0].hosts[2]", "spec.egress[0].hosts"]);
});

test("Sidecar accepts the unix-socket egress listener, abstract sockets and a catch-all last", () => {
  const r = validateResource(
    sidecar({
      egress: [
        { port: { number: 0, protocol: "HTTP", name: "uds" }, bind: "unix:///var/run/egress.sock", captureMode: "NONE", hosts: ["./*"] },
        { port: { number: 0, protocol: "TCP" }, bind: "unix://@abstract", hosts: ["~/*"] },
        { hosts: ["istio-system/*", "*/api.example.com"] },
      ],
    }),
  );
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
});
