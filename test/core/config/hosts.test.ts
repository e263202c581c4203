import { test } from "node:test";
import assert from "node:assert/strict";
import { fqdn, hostMatches, hostsOverlap, parseGatewayHost, parseGatewayRef } from "../../../src/core/config/hosts.ts";

test("fqdn resolves short names relative to a namespace (semantics §1)", () => {
  const table: [string, string, string | undefined, string][] = [
    ["reviews", "default", undefined, "reviews.default.svc.cluster.local"],
    ["Reviews", "bookinfo", undefined, "reviews.bookinfo.svc.cluster.local"],
    ["reviews", "default", "mesh.internal", "reviews.default.mesh.internal"],
    ["reviews.default", "other", undefined, "reviews.default"],
    ["reviews.default.svc.cluster.local", "other", undefined, "reviews.default.svc.cluster.local"],
    ["*.example.com", "default", undefined, "*.example.com"],
    ["*", "default", undefined, "*"],
    ["10.0.0.1", "default", undefined, "10.0.0.1"],
    ["2001:db8::1", "default", undefined, "2001:db8::1"],
  ];
  for (const [host, ns, suffix, want] of table) assert.equal(fqdn(host, ns, suffix), want, `${host} in ${ns}`);
});

test("hostMatches follows Istio wildcard rules", () => {
  const table: [string, string, boolean][] = [
    ["*", "anything.example.com", true],
    ["*", "*", true],
    ["*.example.com", "a.example.com", true],
    ["*.example.com", "a.b.example.com", true],
    ["*.example.com", "example.com", false],
    ["*.example.com", "*.a.example.com", true],
    ["*.a.example.com", "*.example.com", false],
    ["*.example.com", "*", false],
    ["a.example.com", "A.Example.com", true],
    ["a.example.com", "b.example.com", false],
    ["a.example.com", "*.example.com", false],
    ["*.example.com", "badexample.com", false],
  ];
  for (const [pattern, host, want] of table) assert.equal(hostMatches(pattern, host), want, `${pattern} vs ${host}`);
});

test("hostsOverlap is symmetric", () => {
  assert.equal(hostsOverlap("a.example.com", "*.example.com"), true);
  assert.equal(hostsOverlap("*.example.com", "a.example.com"), true);
  assert.equal(hostsOverlap("a.example.com", "b.example.com"), false);
});

test("gateway hosts and gateway references parse their namespace part", () => {
  assert.deepEqual(parseGatewayHost("*.example.com", "gw-ns"), { namespace: "*", host: "*.example.com" });
  assert.deepEqual(parseGatewayHost("shop/*", "gw-ns"), { namespace: "shop", host: "*" });
  assert.deepEqual(parseGatewayHost("./a.example.com", "gw-ns"), { namespace: "gw-ns", host: "a.example.com" });
  assert.deepEqual(parseGatewayRef("mesh", "default"), { mesh: true });
  assert.deepEqual(parseGatewayRef("bookinfo-gateway", "default"), { mesh: false, namespace: "default", name: "bookinfo-gateway" });
  assert.deepEqual(parseGatewayRef("istio-system/ingress", "default"), { mesh: false, namespace: "istio-system", name: "ingress" });
});
